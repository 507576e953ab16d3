package iothub

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/apierr"
)

func TestErrorClasses(t *testing.T) {
	for _, tt := range []struct {
		status int
		denied bool
	}{{401, true}, {403, true}, {404, false}, {429, false}, {500, false}} {
		err := fmt.Errorf("send: %w", &Error{apierr.ServiceError{StatusCode: tt.status}})
		if IsDenied(err) != tt.denied {
			t.Errorf("%d: denied %t, want %t", tt.status, !tt.denied, tt.denied)
		}
		// Neither the service API's error (pkg/dps.Error) nor the device
		// API's: a hub's 401 is neither a failed service login nor a
		// refused registration.
		var se *apierr.ServiceError
		if errors.As(err, &se) {
			t.Errorf("%d: a hub answer passes for a service API answer", tt.status)
		}
	}
}
