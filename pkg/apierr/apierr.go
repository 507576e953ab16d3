// Package apierr is the error answer of the provisioning service (its
// service and device APIs) and of an IoT hub as the clients see it: one
// type, the decoding of the bodies both send, and the Retry-After header.
package apierr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// ServiceError is an error answer (HTTP status 300 or more).
//
// The clients give it their own name: pkg/dps as an alias, the device-side
// clients embedded in a type of their own, so that what handles errors of
// the service API does not take a device's answers for them.
type ServiceError struct {
	StatusCode int
	// ErrorCode is the provisioning service's errorCode, such as 404201
	// (no such enrollment), or 0.
	ErrorCode int
	// Code is an IoT hub's error code as the hub sent it: a name such as
	// "IotHubUnauthorizedAccess", or a number. The provisioning service's
	// answers leave it empty.
	Code       string
	TrackingID string
	Message    string
	Info       map[string]string
	Timestamp  string
	Method     string
	Path       string // the request path, without the query
	// RetryAfter is the wait the Retry-After header asked for, or 0.
	RetryAfter time.Duration
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != 0 {
		fmt.Fprintf(&b, ": errorCode %d", e.ErrorCode)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
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

// Decode reads an error answer of the provisioning service to the request
// method path: a ProvisioningServiceErrorDetails body, or the variants
// with "code" or "Message", or short text; the x-ms-error-code and
// x-ms-request-id headers stand in for what the body lacks. now is the
// time an HTTP-date Retry-After is counted from.
func Decode(method, path string, res *http.Response, body []byte, now time.Time) *ServiceError {
	e := newServiceError(method, path, res, now)
	var wire struct {
		model.ErrorDetails
		Code         *int   `json:"code"`
		MessageUpper string `json:"Message"`
	}
	if json.Unmarshal(body, &wire) == nil {
		e.ErrorCode = wire.ErrorDetails.ErrorCode
		if e.ErrorCode == 0 && wire.Code != nil {
			e.ErrorCode = *wire.Code
		}
		e.TrackingID = wire.TrackingID
		e.Message = wire.ErrorDetails.Message
		if e.Message == "" {
			e.Message = wire.MessageUpper
		}
		e.Info = wire.Info
		e.Timestamp = wire.TimestampUTC
	} else {
		e.Message = textMessage(body)
	}
	if e.ErrorCode == 0 {
		if n, err := strconv.Atoi(res.Header.Get("x-ms-error-code")); err == nil {
			e.ErrorCode = n
		}
	}
	if e.TrackingID == "" {
		e.TrackingID = res.Header.Get("x-ms-request-id")
	}
	return e
}

// DecodeHub reads an error answer of an IoT hub in the forms hubs and
// DPS-like services send: {"Message":"ErrorCode:Name;text",
// "ExceptionMessage":"Tracking ID:…"}, {"errorCode":401002,"message":"…",
// "trackingId":"…"}, short text, or the IotHub-ErrorCode header. The code
// goes to Code as sent, a number included.
func DecodeHub(method, path string, res *http.Response, body []byte, now time.Time) *ServiceError {
	e := newServiceError(method, path, res, now)
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
			e.Code, e.Message = code, text
		}
		if len(wire.ErrorCode) > 0 {
			var n int
			var s string
			switch {
			case json.Unmarshal(wire.ErrorCode, &n) == nil:
				e.Code = strconv.Itoa(n)
			case json.Unmarshal(wire.ErrorCode, &s) == nil:
				e.Code = s
			}
		}
		e.TrackingID = wire.TrackingID
		if id, ok := strings.CutPrefix(wire.ExceptionMessage, "Tracking ID:"); ok && e.TrackingID == "" {
			e.TrackingID, _, _ = strings.Cut(id, "-TimeStamp:")
		}
	} else {
		e.Message = textMessage(body)
	}
	if e.Code == "" {
		e.Code = res.Header.Get("IotHub-ErrorCode")
	}
	return e
}

func newServiceError(method, path string, res *http.Response, now time.Time) *ServiceError {
	e := &ServiceError{StatusCode: res.StatusCode, Method: method, Path: path}
	e.RetryAfter, _ = ParseRetryAfter(res.Header.Get("Retry-After"), now)
	return e
}

// textMessage is the message of a body that is not JSON: the text if it
// is short, else nothing (an HTML error page says nothing useful).
func textMessage(body []byte) string {
	if s := strings.TrimSpace(string(body)); len(s) < 512 {
		return s
	}
	return ""
}

// Wait waits d (a retry-after, a backoff) or until ctx is done, and
// returns ctx's error if it is.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MaxRetryAfter is the longest wait ParseRetryAfter returns; the clients
// bound their waits far below it.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header: seconds (an integer or, as
// some services send, a decimal) or an HTTP date, counted from now. A wait
// longer than MaxRetryAfter is MaxRetryAfter, a date in the past is 0. ok
// is false when the header is absent or unreadable: empty, negative, NaN,
// neither a number nor a date.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n != n {
			return 0, false
		}
		// Clamped before the conversion, which would overflow.
		return time.Duration(min(n, MaxRetryAfter.Seconds()) * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}
