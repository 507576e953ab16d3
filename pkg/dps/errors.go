package dps

import (
	"errors"
	"net/http"

	"github.com/dpsctl/dpsctl/pkg/apierr"
)

// Error is a non-2xx answer of the service. Its decoding, and that of
// Retry-After, are pkg/apierr's.
type Error = apierr.ServiceError

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
