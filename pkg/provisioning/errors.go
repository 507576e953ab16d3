package provisioning

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// ErrMalformedResponse is wrapped by the errors about answers of the device
// API that are not the documents it must send.
var ErrMalformedResponse = errors.New("malformed device API response")

// Error is an error answer (HTTP status 300 or more) of the device API.
// It is a type of its own, not pkg/dps's Error, so that what handles the
// service API's errors (exit codes, details) does not take a device's
// answers for them.
type Error struct {
	apierr.ServiceError

	body []byte // the answer, for the TPM challenge
}

// Denied reports whether the service refused the device: its credentials
// (401 or 403), or its enrollment does not exist (404 with errorCode
// 404201, as a TPM device of no enrollment hears).
func (e *Error) Denied() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
		e.StatusCode == http.StatusNotFound && e.ErrorCode == model.ErrEnrollmentNotFound
}

// Transient reports whether the request may succeed if sent again later:
// throttling (429) and server errors (5xx).
func (e *Error) Transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// RegistrationError reports a registration that ended in the status failed
// or disabled: the service answered, and refused to assign the device.
type RegistrationError struct {
	RegistrationID string
	Result         *model.RegistrationOperationStatus
}

func (e *RegistrationError) Error() string {
	st := e.Result.RegistrationState
	var b strings.Builder
	switch e.Result.Status {
	case model.RegDisabled:
		fmt.Fprintf(&b, "registration %s: the enrollment is disabled", e.RegistrationID)
	default:
		fmt.Fprintf(&b, "registration %s: %s", e.RegistrationID, e.Result.Status)
	}
	if st != nil {
		if st.ErrorCode != 0 {
			fmt.Fprintf(&b, ": errorCode %d", st.ErrorCode)
		}
		if st.ErrorMessage != "" {
			b.WriteString(": ")
			b.WriteString(st.ErrorMessage)
		}
	}
	return b.String()
}

// TransportError reports a request that got no HTTP answer: the host could
// not be reached, TLS failed, the connection broke.
type TransportError struct {
	Method, Path string
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsDenied reports whether err says the service refused the device: an
// answer for which Error.Denied holds, or a registration that ended failed
// or disabled.
func IsDenied(err error) bool {
	var re *RegistrationError
	if errors.As(err, &re) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Denied()
}

// IsTransport reports whether err is a failure to reach the service.
func IsTransport(err error) bool {
	var te *TransportError
	return errors.As(err, &te)
}
