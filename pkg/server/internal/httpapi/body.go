package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	fastjson "github.com/segmentio/encoding/json"
)

// MaxBodyBytes is the largest request body the service accepts (the DPS
// message size limit, 96 KB).
const MaxBodyBytes = 96 * 1024

// BodyMode says what an operation does with the request body.
type BodyMode int

const (
	BodyIgnored  BodyMode = iota // never read
	BodyOptional                 // JSON if present
	BodyRequired                 // JSON, must be present
)

// ReadBody reads at most MaxBodyBytes and checks the content type of a
// non-empty body.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, Errorf(model.ErrRequestTooLarge, "the request body is %d bytes; the limit is %d", r.ContentLength, MaxBodyBytes)
	}
	if r.Body == nil {
		return nil, nil
	}
	// The buffer grows as data arrives: the declared length is the
	// client's word, and a slow client declaring MaxBodyBytes must not
	// hold that much memory for the few bytes it sent.
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if len(b) > MaxBodyBytes {
		return nil, Errorf(model.ErrRequestTooLarge, "the request body exceeds the limit of %d bytes", MaxBodyBytes)
	}
	if err != nil {
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, BadRequest("could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")) {
			return nil, Errorf(model.ErrUnsupportedMediaType, "content type %q is not supported; send application/json", ct)
		}
	}
	return b, nil
}

// DecodeJSON decodes a JSON object body into v, with messages that name
// the offending field.
//
// Bodies are decoded where they lie, with github.com/segmentio/encoding/json:
// decoding request bodies is most of the service's own work in a bulk
// import, and that decoder takes a third of the time of encoding/json, with
// the same semantics. Its error messages are vaguer, though (no offset, no
// JSON type), so a body it refuses is decoded again by encoding/json, whose
// answer is given: a bad request costs a little more, a good one much less.
//
// Before decoding, a body that is not valid UTF-8 or nests deeper than
// MaxJSONDepth is refused (400): one pass over the bytes each, a small part
// of the cost of decoding.
func DecodeJSON(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return BadRequest("the request body must be a JSON object")
	}
	if err := CheckJSONBody(t); err != nil {
		return err
	}
	if fastjson.Unmarshal(t, v) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return decodeJSONStd(t, v)
}

// decodeJSONStd decodes the JSON object t into v with encoding/json and
// answers a body it refuses with the offending field or offset.
func decodeJSONStd(t []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return BadRequest("the request body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return BadRequest("the request body is not valid JSON (offset %d): %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return BadRequest("field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body is truncated JSON")
	}
	return BadRequest("the request body is not valid: %v", err)
}

// IfMatch returns the If-Match header with one pair of surrounding
// quotes (and a weak "W/" prefix) removed; "" when absent.
func IfMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	return StripETagQuotes(v)
}

func StripETagQuotes(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v
}

// MethodError becomes a 405 with an Allow header.
type MethodError struct {
	Method  string
	Allowed []string // the methods the path has
}

func (e *MethodError) Error() string { return "method not allowed" }

// Fail answers err with a DPS error body: its own when it is an *Error, 405
// with an Allow header for a *MethodError, 503 for a cancelled request,
// and 500 otherwise (logged to log with the request). The error is noted
// for the request log.
func Fail(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger, now time.Time) {
	var me *MethodError
	if errors.As(err, &me) {
		w.Header().Set("Allow", strings.Join(me.Allowed, ", "))
		err = Errorf(model.ErrMethodNotAllowed, "method %s is not allowed here; use %s", me.Method, strings.Join(me.Allowed, " or "))
	}
	NoteError(w, err)
	CloseIfBodyUnread(w, r)
	WriteError(w, AnswerOf(err, log, "method", r.Method, "path", r.URL.Path), now)
}

// AnswerOf is the *Error a caller is answered for err: err's own when it
// is one, 503 for a cancelled call, and 500 otherwise (logged to log, with
// attrs).
func AnswerOf(err error, log *slog.Logger, attrs ...any) *Error {
	if ae, ok := AsError(err); ok {
		return ae
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Errorf(model.ErrServiceUnavailable, "the request was cancelled")
	}
	log.Error("internal error", append(attrs, "err", err)...)
	return Errorf(model.ErrInternal, "internal error")
}

// ValidateID checks a registration or enrollment group id (400004).
func ValidateID(what, id string) error {
	if err := model.ValidateID(id); err != nil {
		return Errorf(model.ErrInvalidRegistrationID, "invalid %s %q: %v", what, id, err)
	}
	return nil
}

// StripPort removes a trailing :port (also from a bracketed IPv6 literal).
func StripPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
