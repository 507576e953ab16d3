package httpapi

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

	"github.com/dpsctl/dpsctl/pkg/jsonfmt"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Error is an error a handler answers with a DPS error body.
type Error struct {
	Code int // six-digit DPS error code; HTTP status = Code/1000
	Msg  string
	Info map[string]string // optional details (the body's info)
	// Detail is the precise reason for the server log (wrong key, chain
	// not trusted, disabled, CN mismatch…). It is never sent to the
	// client, and never holds a key, token or signature.
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Msg) }

// Status is the HTTP status of the answer.
func (e *Error) Status() int { return e.Code / 1000 }

// Errorf returns the error with a DPS error code and a message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 (400000).
func BadRequest(format string, args ...any) *Error {
	return Errorf(model.ErrBadRequest, format, args...)
}

// Unauthorized is a 401 (401000) that tells the caller why.
func Unauthorized(format string, args ...any) *Error {
	return Errorf(model.ErrUnauthorized, format, args...)
}

// Denied is the device API's answer to any failed authentication: one
// generic 401 message, so that an unauthenticated caller cannot tell an
// existing registration from a missing one. The precise reason is kept
// for the server log.
func Denied(format string, args ...any) *Error {
	return &Error{Code: model.ErrUnauthorized, Msg: DeniedMessage, Detail: fmt.Sprintf(format, args...)}
}

// DeniedMessage is the one message of a refused device authentication.
const DeniedMessage = "Unauthorized."

// LogDetail returns what the server log says of err: an Error's Detail
// (falling back to its message), else the error text.
func LogDetail(err error) string {
	if ae, ok := AsError(err); ok {
		if ae.Detail != "" {
			return ae.Detail
		}
		return ae.Msg
	}
	return err.Error()
}

// AsError returns err's *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var ae *Error
	ok := errors.As(err, &ae)
	return ae, ok
}

// ContentTypeJSON is the content type of every JSON response.
const ContentTypeJSON = "application/json; charset=utf-8"

// Header names, spelled as the SDKs look them up. Responses set them
// verbatim (lower case) with SetHeader, because some clients compare header
// names case-sensitively.
const (
	HeaderErrorCode    = "x-ms-error-code"
	HeaderContinuation = "x-ms-continuation"
	HeaderItemType     = "x-ms-item-type"
	HeaderMaxItemCount = "x-ms-max-item-count"
)

// SetHeader sets a response header without canonicalising its name.
func SetHeader(h http.Header, name, value string) { h[name] = []string{value} }

// WriteJSON writes v with status. A value that cannot be encoded (a model
// type that cannot, or stored JSON that encoding/json refuses) answers 500
// and is logged as an error with the request (see StatusWriter.EncodeErr),
// or with the default logger for a writer that is not a StatusWriter.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if sw, ok := w.(*StatusWriter); ok {
			sw.EncodeErr = fmt.Errorf("%T: %w", v, err)
		} else {
			slog.Error("could not encode the response", "type", fmt.Sprintf("%T", v), "err", err)
		}
		WriteError(w, &Error{Code: model.ErrInternal, Msg: "could not encode the response"}, time.Now())
		return
	}
	WriteJSONBytes(w, status, b)
}

// WriteJSONArray writes items as WriteJSON(w, status, items) would, byte
// for byte, but for items whose MarshalJSON it calls itself: each item's
// form goes into the array in one pass (jsonfmt.AppendMarshal, escaping
// HTML as json.Marshal does) instead of encoding/json's compaction, which
// was most of the cost of a query page. Any other item, or a form that
// pass refuses, sends the whole array the long way.
func WriteJSONArray[T any](w http.ResponseWriter, status int, items []T) {
	b := make([]byte, 0, 2+512*len(items))
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = jsonfmt.AppendMarshal(b, it); !ok {
			WriteJSON(w, status, items)
			return
		}
	}
	WriteJSONBytes(w, status, append(b, ']'))
}

// WriteJSONBytes writes the JSON text b with status.
func WriteJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// WriteError writes the DPS error body for e.
func WriteError(w http.ResponseWriter, e *Error, now time.Time) {
	SetHeader(w.Header(), HeaderErrorCode, strconv.Itoa(e.Code))
	WriteJSONBytes(w, e.Status(), ErrorBody(e, now))
}

// ErrorBody is the DPS error body for e (a fresh tracking ID, the time
// now).
func ErrorBody(e *Error, now time.Time) []byte {
	b, _ := json.Marshal(model.ErrorDetails{
		ErrorCode:    e.Code,
		TrackingID:   NewUUID(),
		Message:      e.Msg,
		Info:         e.Info,
		TimestampUTC: model.FormatTime(now),
	})
	return b
}

// NewUUID returns a random (version 4) UUID in its usual text form.
func NewUUID() string {
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

// NewETag returns a fresh etag in the service's shape: base64 of a quoted
// UUID-like value.
func NewETag() string {
	return base64.StdEncoding.EncodeToString([]byte(`"` + NewUUID() + `"`))
}

// RandomKey returns n random bytes in standard base64.
func RandomKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
