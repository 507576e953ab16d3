package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// apiError is an error the handler answers with a DPS error body.
type apiError struct {
	code int // six-digit DPS error code; HTTP status = code/1000
	msg  string
	info map[string]string // optional details (the body's info)
	// detail is the precise reason for the server log (wrong key, chain
	// not trusted, disabled, CN mismatch…). It is never sent to the
	// client, and never holds a key, token or signature.
	detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.msg) }

func (e *apiError) status() int { return e.code / 1000 }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(model.ErrBadRequest, format, args...)
}

func unauthorized(format string, args ...any) *apiError {
	return errorf(model.ErrUnauthorized, format, args...)
}

// denied is the device API's answer to any failed authentication: one
// generic 401 message, so that an unauthenticated caller cannot tell an
// existing registration from a missing one. The precise reason is kept
// for the server log.
func denied(format string, args ...any) *apiError {
	return &apiError{code: model.ErrUnauthorized, msg: deniedMessage, detail: fmt.Sprintf(format, args...)}
}

// deniedMessage is the one message of a refused device authentication.
const deniedMessage = "Unauthorized."

// logDetail returns what the server log says of err: an apiError's detail
// (falling back to its message), else the error text.
func logDetail(err error) string {
	if ae, ok := asAPIError(err); ok {
		if ae.detail != "" {
			return ae.detail
		}
		return ae.msg
	}
	return err.Error()
}

// asAPIError returns err's apiError, if it is one.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	ok := errors.As(err, &ae)
	return ae, ok
}

// contentTypeJSON is the content type of every JSON response.
const contentTypeJSON = "application/json; charset=utf-8"

// Header names, spelled as the SDKs look them up. Responses set them
// verbatim (lower case) with setHeader, because some clients compare header
// names case-sensitively.
const (
	headerErrorCode    = "x-ms-error-code"
	headerContinuation = "x-ms-continuation"
	headerItemType     = "x-ms-item-type"
	headerMaxItemCount = "x-ms-max-item-count"
)

// setHeader sets a response header without canonicalising its name.
func setHeader(h http.Header, name, value string) { h[name] = []string{value} }

// writeJSON writes v with status. A value that cannot be encoded (a model
// type that cannot, or stored JSON that encoding/json refuses) answers 500
// and is logged as an error with the request (see logRequest), or with
// the default logger for a writer that is not the handler's.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if sw, ok := w.(*statusWriter); ok {
			sw.encodeErr = fmt.Errorf("%T: %w", v, err)
		} else {
			slog.Error("could not encode the response", "type", fmt.Sprintf("%T", v), "err", err)
		}
		writeErrorBody(w, &apiError{code: model.ErrInternal, msg: "could not encode the response"}, time.Now())
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeErrorBody writes the DPS error body for e.
func writeErrorBody(w http.ResponseWriter, e *apiError, now time.Time) {
	body := model.ErrorDetails{
		ErrorCode:    e.code,
		TrackingID:   newUUID(),
		Message:      e.msg,
		Info:         e.info,
		TimestampUTC: model.FormatTime(now),
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	setHeader(h, headerErrorCode, strconv.Itoa(e.code))
	w.WriteHeader(e.status())
	w.Write(b)
}

// newUUID returns a random (version 4) UUID in its usual text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// newETag returns a fresh etag in the service's shape: base64 of a quoted
// UUID-like value.
func newETag() string {
	return base64.StdEncoding.EncodeToString([]byte(`"` + newUUID() + `"`))
}

// randomKey returns n random bytes in standard base64.
func randomKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
