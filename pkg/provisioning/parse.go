package provisioning

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// ParseOperationStatus decodes the answer to register or to an operation
// status lookup. It requires what the device SDKs require: a status, an
// operationId while the status is not terminal, and an assigned hub and
// device ID once assigned. Status values are compared without regard to
// case and returned in lower case.
func ParseOperationStatus(body []byte) (*model.RegistrationOperationStatus, error) {
	var st model.RegistrationOperationStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%w: not a registration operation status: %v", ErrMalformedResponse, err)
	}
	st.Status = strings.ToLower(strings.TrimSpace(st.Status))
	switch st.Status {
	case "":
		return nil, fmt.Errorf("%w: registration operation status has no status", ErrMalformedResponse)
	case model.RegAssigned:
		rs := st.RegistrationState
		if rs == nil || rs.AssignedHub == "" || rs.DeviceID == "" {
			return nil, fmt.Errorf("%w: status assigned without assignedHub and deviceId", ErrMalformedResponse)
		}
	case model.RegFailed, model.RegDisabled:
	case model.RegAssigning, model.RegUnassigned, statusRegistering:
		if st.OperationID == "" {
			return nil, fmt.Errorf("%w: status %s without an operationId", ErrMalformedResponse, st.Status)
		}
	default:
		return nil, fmt.Errorf("%w: unknown registration status %q", ErrMalformedResponse, st.Status)
	}
	if rs := st.RegistrationState; rs != nil {
		rs.Status = strings.ToLower(rs.Status)
	}
	return &st, nil
}

// statusRegistering is an answer some services give to register before
// assignment starts; the Node SDK then sends register again.
const statusRegistering = "registering"

// ParseRegistrationResult decodes the answer to a status lookup: a
// DeviceRegistrationResult, not wrapped in an operation status.
func ParseRegistrationResult(body []byte) (*model.DeviceRegistrationResult, error) {
	var r model.DeviceRegistrationResult
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: not a device registration result: %v", ErrMalformedResponse, err)
	}
	r.Status = strings.ToLower(strings.TrimSpace(r.Status))
	if r.Status == "" {
		return nil, fmt.Errorf("%w: device registration result has no status", ErrMalformedResponse)
	}
	return &r, nil
}

// parseChallenge decodes the body of a 401 answer as a TPM challenge. ok is
// false when it is not one (an ordinary error body).
func parseChallenge(body []byte) (ch *model.TPMChallenge, ok bool) {
	var c model.TPMChallenge
	if json.Unmarshal(body, &c) != nil || c.AuthenticationKey == "" {
		return nil, false
	}
	return &c, true
}

// newError builds the Error of a non-2xx answer.
func newError(method, path string, res *http.Response, body []byte, now time.Time) *Error {
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
	e.RetryAfter, _ = parseRetryAfter(res.Header.Get("Retry-After"), now)
	return e
}

// parseRetryAfter reads a Retry-After header: seconds (an integer or, as
// some services send, a decimal) or an HTTP date. ok is false when the
// header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n != n {
			return 0, false
		}
		if n > maxRetryAfterSeconds {
			n = maxRetryAfterSeconds
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// maxRetryAfterSeconds keeps the conversion to a Duration from overflowing;
// the client clamps far below it anyway.
const maxRetryAfterSeconds = 24 * 3600
