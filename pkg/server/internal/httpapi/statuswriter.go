package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// StatusWriter is the ResponseWriter every request is answered through:
// it records what the log needs and runs OnSuccess before a 2xx status is
// sent. It also wraps the request body, to tell whether the handler read
// it to the end.
type StatusWriter struct {
	http.ResponseWriter
	// Code is the status sent (0: none yet).
	Code int
	// Err is the error the request was answered with, for the log.
	Err error
	// EncodeErr is why a response could not be encoded (WriteJSON).
	EncodeErr error
	// OnSuccess, if set, runs once before a 2xx status is sent.
	OnSuccess func()
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

// NewStatusWriter wraps w, and r's body when it has one.
func NewStatusWriter(w http.ResponseWriter, r *http.Request) *StatusWriter {
	sw := &StatusWriter{ResponseWriter: w}
	if r.Body != nil && r.Body != http.NoBody {
		sw.body.ReadCloser = r.Body
		r.Body = &sw.body
	}
	return sw
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Code == 0 && code >= 200 {
		w.Code = code
		if code <= 299 && w.OnSuccess != nil {
			w.OnSuccess()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes on to the connection, when it can flush.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (a WebSocket upgrade), recording
// status 101 for the log.
func (w *StatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.Code == 0 {
		w.Code = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NoteError records the error a request is answered with, for the log.
func NoteError(w http.ResponseWriter, err error) {
	if sw, ok := w.(*StatusWriter); ok {
		sw.Err = err
	}
}

// CloseIfBodyUnread asks for the connection to be closed after an answer
// given without reading the request body to its end (a refused
// authentication, say). Otherwise net/http would read what is left of
// the body, up to 256 KB, before sending the answer: a slow client would
// keep the connection, and a goroutine, for as long as the read timeout.
func CloseIfBodyUnread(w http.ResponseWriter, r *http.Request) {
	if b, ok := r.Body.(*trackedBody); ok && !b.eof {
		w.Header().Set("Connection", "close")
	}
}
