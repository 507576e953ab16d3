package provisioning

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// FuzzOperationStatus feeds arbitrary answers to the parsers of the device
// API: they must not panic, and what they accept must hold what the
// registration loop relies on.
func FuzzOperationStatus(f *testing.F) {
	for _, s := range []string{
		assigning(opID),
		assignedBody,
		`{"operationId":"x","status":"failed","registrationState":{"errorCode":400208}}`,
		`{"operationId":"x","status":"ASSIGNED","registrationState":{"assignedHub":"h","deviceId":"d","tpm":{"authenticationKey":"AAA="}}}`,
		`{"status":"registering"}`,
		`{"authenticationKey":"AAEC","keyName":"registration"}`,
		`{"errorCode":401002,"message":"x"}`,
		`[]`, `null`, ``, `{"status":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseOperationStatus(body)
		if err == nil {
			if st.Status == "" || st.Status != strings.ToLower(st.Status) {
				t.Fatalf("accepted status %q", st.Status)
			}
			if !terminal(st.Status) && st.OperationID == "" {
				t.Fatalf("accepted %q without operationId", st.Status)
			}
			if st.Status == model.RegAssigned && (st.RegistrationState == nil || st.RegistrationState.AssignedHub == "" || st.RegistrationState.DeviceID == "") {
				t.Fatal("accepted assigned without hub and device")
			}
			if _, err := json.Marshal(st); err != nil {
				t.Fatal(err)
			}
		} else if !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
		}
		if r, err := ParseRegistrationResult(body); err == nil && r.Status == "" {
			t.Fatal("accepted a result without status")
		}
		if ch, ok := parseChallenge(body); ok && ch.AuthenticationKey == "" {
			t.Fatal("accepted a challenge without authenticationKey")
		}
		if d, ok := apierr.ParseRetryAfter(string(body), time.Unix(1700000000, 0)); ok && d < 0 {
			t.Fatalf("negative Retry-After %v", d)
		}
	})
}
