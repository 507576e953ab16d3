package provisioning

import (
	"encoding/json"
	"fmt"
	"strings"

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
