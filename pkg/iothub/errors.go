package iothub

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/dpsctl/dpsctl/pkg/apierr"
)

// Error is an error answer of the hub. Its Code is the hub's error code:
// a name such as "IotHubUnauthorizedAccess" or a number, as the hub sent
// it. It is a type of its own, so that a hub's 401 passes neither for a
// failed service login (pkg/dps's Error) nor for a refused registration.
type Error struct {
	apierr.ServiceError
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
