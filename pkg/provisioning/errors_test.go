package provisioning

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		status, code      int
		denied, transient bool
	}{
		{401, model.ErrUnauthorized, true, false},
		{403, 0, true, false},
		{404, model.ErrEnrollmentNotFound, true, false},
		{404, model.ErrRegistrationNotFound, false, false},
		{400, model.ErrHubNotSpecified, false, false},
		{429, 0, false, true},
		{500, 0, false, true},
		{503, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, " ", tt.code), func(t *testing.T) {
			err := fmt.Errorf("register: %w", &Error{ServiceError: apierr.ServiceError{StatusCode: tt.status, ErrorCode: tt.code}})
			var e *Error
			if !errors.As(err, &e) || e.Denied() != tt.denied || IsDenied(err) != tt.denied || e.Transient() != tt.transient {
				t.Errorf("denied %t, transient %t; want %t, %t", e.Denied(), e.Transient(), tt.denied, tt.transient)
			}
			// The service API's error (pkg/dps.Error) is another type: a
			// device's 401 is not the CLI's failed service login.
			var se *apierr.ServiceError
			if errors.As(err, &se) {
				t.Error("a device API answer passes for a service API answer")
			}
		})
	}
}
