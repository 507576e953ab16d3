package iothub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error is an error answer of the hub.
type Error struct {
	StatusCode int
	// ErrorCode is the hub's error code: a name such as
	// "IotHubUnauthorizedAccess" or a number, as the hub sent it.
	ErrorCode  string
	Message    string
	TrackingID string
	Method     string
	Path       string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, ": %s", e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.TrackingID != "" {
		fmt.Fprintf(&b, " (trackingId %s)", e.TrackingID)
	}
	return b.String()
}

// Denied reports whether the hub refused the device's credentials.
func (e *Error) Denied() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// TransportError reports a request that got no HTTP answer.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string { return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// IsDenied reports whether err is a 401 or 403 answer of the hub.
func IsDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Denied()
}

// newError reads the error forms IoT Hub and DPS-like services send:
// {"Message":"ErrorCode:Name;text","ExceptionMessage":"Tracking ID:…"},
// {"errorCode":401002,"message":"…","trackingId":"…"}, or the
// IotHub-ErrorCode header.
func newError(method, path string, res *http.Response, body []byte) *Error {
	e := &Error{StatusCode: res.StatusCode, Method: method, Path: path}
	var wire struct {
		MessageUpper     string          `json:"Message"`
		ExceptionMessage string          `json:"ExceptionMessage"`
		ErrorCode        json.RawMessage `json:"errorCode"`
		Message          string          `json:"message"`
		TrackingID       string          `json:"trackingId"`
	}
	if json.Unmarshal(body, &wire) == nil {
		e.Message = wire.Message
		if e.Message == "" {
			e.Message = wire.MessageUpper
		}
		if rest, ok := strings.CutPrefix(e.Message, "ErrorCode:"); ok {
			code, text, _ := strings.Cut(rest, ";")
			e.ErrorCode, e.Message = code, text
		}
		if len(wire.ErrorCode) > 0 {
			var n int
			var s string
			switch {
			case json.Unmarshal(wire.ErrorCode, &n) == nil:
				e.ErrorCode = strconv.Itoa(n)
			case json.Unmarshal(wire.ErrorCode, &s) == nil:
				e.ErrorCode = s
			}
		}
		e.TrackingID = wire.TrackingID
		if id, ok := strings.CutPrefix(wire.ExceptionMessage, "Tracking ID:"); ok && e.TrackingID == "" {
			e.TrackingID, _, _ = strings.Cut(id, "-TimeStamp:")
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
		e.Message = s
	}
	if e.ErrorCode == "" {
		e.ErrorCode = res.Header.Get("IotHub-ErrorCode")
	}
	return e
}
