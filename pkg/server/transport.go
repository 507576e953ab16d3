package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
)

// Transport returns an http.RoundTripper that answers every request by
// running h in the calling process, with no network. It is safe for
// concurrent use. A request whose context ends before h finishes fails with
// the context's error (h sees the cancelled context).
func Transport(h http.Handler) http.RoundTripper { return &inProcess{h: h} }

type inProcess struct{ h http.Handler }

func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if req.URL == nil {
		closeBody()
		return nil, fmt.Errorf("in-process transport: request has no URL")
	}
	if err := ctx.Err(); err != nil {
		closeBody()
		return nil, err
	}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	sreq.RemoteAddr = "127.0.0.1:0"
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	if sreq.Method == "" {
		sreq.Method = http.MethodGet
	}
	if sreq.Body == nil {
		sreq.Body = http.NoBody
		sreq.ContentLength = 0
	} else if sreq.ContentLength == 0 && sreq.Body != http.NoBody {
		sreq.ContentLength = -1 // unknown, as a client's 0 with a body means
	}
	rec := &recorder{header: http.Header{}}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		t.h.ServeHTTP(rec, sreq)
	}()
	select {
	case p := <-done:
		closeBody()
		if p != nil {
			return nil, fmt.Errorf("in-process transport: handler panicked: %v", p)
		}
	case <-ctx.Done():
		closeBody()
		return nil, ctx.Err()
	}
	return rec.response(req), nil
}

// recorder collects a handler's response.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.wroteHeader || code < 200 {
		return // informational answers and repeated calls are dropped
	}
	r.status, r.wroteHeader = code, true
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(r.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return r.body.Write(b)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

func (r *recorder) response(req *http.Request) *http.Response {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	// Header names arrive canonicalised over the wire; do the same.
	h := make(http.Header, len(r.header))
	for k, vs := range r.header {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		h[ck] = append(h[ck], vs...)
	}
	body := r.body.Bytes()
	if req.Method == http.MethodHead {
		body = nil
	}
	if bodyAllowed(r.status) {
		if h.Get("Content-Type") == "" && len(body) > 0 {
			h.Set("Content-Type", http.DetectContentType(body))
		}
		h.Set("Content-Length", strconv.Itoa(r.body.Len()))
	}
	n := int64(len(body))
	if req.Method == http.MethodHead {
		n = int64(r.body.Len())
	}
	return &http.Response{
		Status:        strconv.Itoa(r.status) + " " + http.StatusText(r.status),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: n,
		Request:       req,
	}
}
