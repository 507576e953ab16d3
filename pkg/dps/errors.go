package dps

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// Error is a non-2xx answer of the service.
type Error struct {
	StatusCode int
	ErrorCode  int
	TrackingID string
	Message    string
	Info       map[string]string
	Timestamp  string
	Method     string
	Path       string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != 0 {
		fmt.Fprintf(&b, ": errorCode %d", e.ErrorCode)
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

func newError(method, path string, res *http.Response, body []byte) *Error {
	e := &Error{StatusCode: res.StatusCode, Method: method, Path: path}
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
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
		e.Message = s
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

func statusIs(err error, codes ...int) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.StatusCode == c {
			return true
		}
	}
	return false
}

// IsNotFound reports a 404 answer.
func IsNotFound(err error) bool { return statusIs(err, http.StatusNotFound) }

// IsConflict reports a 409 answer (the entity already exists).
func IsConflict(err error) bool { return statusIs(err, http.StatusConflict) }

// IsPreconditionFailed reports a 412 answer (stale ETag).
func IsPreconditionFailed(err error) bool { return statusIs(err, http.StatusPreconditionFailed) }

// IsUnauthorized reports a 401 or 403 answer.
func IsUnauthorized(err error) bool {
	return statusIs(err, http.StatusUnauthorized, http.StatusForbidden)
}

// IsThrottled reports a 429 answer.
func IsThrottled(err error) bool { return statusIs(err, http.StatusTooManyRequests) }
