package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The request log: at slog.LevelInfo, one line per request with the
// method, the route's pattern (never the path: it holds registration IDs),
// the status, the duration and, for an error, the precise reason (the
// detail an apiError keeps for the log). Whatever the level, a response
// that could not be encoded is logged as an error.
//
// Nothing of a credential is logged: the Authorization header is not, and
// its signature is masked in a reason that happens to quote it.

// statusWriter is the ResponseWriter every request is answered through:
// it records what the log needs and runs onSuccess before a 2xx status is
// sent. It also wraps the request body, to tell whether the handler read
// it to the end.
type statusWriter struct {
	http.ResponseWriter
	status int
	// err is the error the request was answered with, for the log.
	err error
	// encodeErr is why a response could not be encoded (writeJSON).
	encodeErr error
	// onSuccess, if set, runs once before a 2xx status is sent.
	onSuccess func()
	body      trackedBody
}

// trackedBody is a request body that remembers reaching its end.
type trackedBody struct {
	io.ReadCloser
	eof bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// newStatusWriter wraps w, and r's body when it has one.
func newStatusWriter(w http.ResponseWriter, r *http.Request) *statusWriter {
	sw := &statusWriter{ResponseWriter: w}
	if r.Body != nil && r.Body != http.NoBody {
		sw.body.ReadCloser = r.Body
		r.Body = &sw.body
	}
	return sw
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		if code <= 299 && w.onSuccess != nil {
			w.onSuccess()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes on to the connection, when it can flush.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteError records the error a request is answered with, for the log.
func noteError(w http.ResponseWriter, err error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.err = err
	}
}

// closeIfBodyUnread asks for the connection to be closed after an answer
// given without reading the request body to its end (a refused
// authentication, say). Otherwise net/http would read what is left of
// the body, up to 256 KB, before sending the answer: a slow client would
// keep the connection, and a goroutine, for as long as the read timeout.
func closeIfBodyUnread(w http.ResponseWriter, r *http.Request) {
	if b, ok := r.Body.(*trackedBody); ok && !b.eof {
		w.Header().Set("Connection", "close")
	}
}

// logRequest writes the request's log line(s).
func (h *handler) logRequest(sw *statusWriter, r *http.Request, segs []string, start time.Time) {
	ctx := r.Context()
	if sw.encodeErr != nil {
		h.log.Error("could not encode the response", "method", r.Method, "route", routePattern(r.Method, segs), "err", sw.encodeErr)
	}
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	route := routePattern(r.Method, segs)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
	}
	// The reason of a path that is no route would only quote the path.
	if sw.err != nil && route != noRoute {
		attrs = append(attrs, slog.String("reason", maskCredential(logDetail(sw.err), r.Header.Get("Authorization"))))
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// noRoute is the route of a request whose path is none of the API's.
const noRoute = "(no route)"

// routePattern names the route of a request for the log: its pattern, or
// that of a route on the same path for a method that is not allowed;
// noRoute when the path is none of the API's.
func routePattern(method string, segs []string) string {
	if len(segs) == 0 {
		return noRoute
	}
	rt, _, allowed := matchRoute(method, segs)
	if rt == nil && len(allowed) > 0 {
		rt, _, _ = matchRoute(allowed[0], segs)
	}
	if rt == nil {
		return noRoute
	}
	return rt.Pattern
}

// maskCredential replaces in s what a SAS token in the Authorization
// header auth holds that is secret: its signature, and any field that is
// not name=value (a signature whose name was lost), as sent and decoded.
func maskCredential(s, auth string) string {
	if auth == "" || s == "" {
		return s
	}
	_, fields, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if fields == "" {
		fields = auth
	}
	for _, f := range strings.Split(fields, "&") {
		name, value, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			value = f
		case !strings.EqualFold(strings.TrimSpace(name), "sig"):
			continue
		}
		if len(value) < 4 {
			continue // too short to be a secret, and would mask common words
		}
		s = strings.ReplaceAll(s, value, "***")
		if d, err := url.QueryUnescape(value); err == nil && d != value && len(d) >= 4 {
			s = strings.ReplaceAll(s, d, "***")
		}
	}
	return s
}
