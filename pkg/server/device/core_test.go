package device

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

const (
	coreScope = "0ne00C0DE00"
	coreHub   = "hub.core.test"
	coreKey   = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
	otherKey  = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
	wrongKey  = "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M="
)

// newCore returns the device API over a new store with one linked hub and
// the given individual enrollments, as another transport than HTTPS sees
// it: no listener, no router.
func newCore(t *testing.T, enrollments ...*model.IndividualEnrollment) *API {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hubCS := sas.ConnectionString{HostName: coreHub, KeyName: "iothubowner", Key: otherKey}
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.PutLinkedHub(store.LinkedHub{HostName: coreHub, ConnectionString: hubCS.String(), AllocationWeight: 1, ApplyAllocationPolicy: true}); err != nil {
			return err
		}
		for _, e := range enrollments {
			if err := tx.PutEnrollment(e, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook, err := WebhookClient(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{
		Store: st, Log: slog.New(slog.DiscardHandler), Now: time.Now,
		HostName: func() string { return "localhost" }, IDScope: coreScope, Webhook: webhook,
	})
}

func symmetricEnrollment(id, key string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{
		RegistrationID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{
				Type:         model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key, SecondaryKey: otherKey},
			},
			ETag: "x", ProvisioningStatus: model.StatusEnabled,
		},
	}
}

// token is a device SAS token for regID signed with key.
func token(t *testing.T, regID, key string) string {
	t.Helper()
	tok, err := sas.NewToken(key, coreScope+"/registrations/"+regID, model.DeviceKeyName, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestCoreRegistersWithoutHTTP runs a device through the three operations
// of the core, with a SAS token as an MQTT transport would pass it.
func TestCoreRegistersWithoutHTTP(t *testing.T) {
	d := newCore(t, symmetricEnrollment("core-device", coreKey))
	ctx := t.Context()
	cred := Credential{SASToken: token(t, "core-device", coreKey), NoTPM: true}

	resp, err := d.Register(ctx, coreScope, "core-device", cred, []byte(`{"registrationId":"core-device"}`))
	if err != nil {
		t.Fatal(err)
	}
	var op model.RegistrationOperationStatus
	if err := json.Unmarshal(resp.Body, &op); err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusAccepted || resp.RetryAfter != RetryAfterSeconds || resp.Challenge || op.Status != model.RegAssigning || op.OperationID == "" {
		t.Fatalf("register: %+v %s", resp, resp.Body)
	}

	resp, err = d.OperationStatus(ctx, coreScope, "core-device", op.OperationID, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	var done model.RegistrationOperationStatus
	if err := json.Unmarshal(resp.Body, &done); err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK || resp.RetryAfter != 0 || done.Status != model.RegAssigned || done.RegistrationState == nil || done.RegistrationState.AssignedHub != coreHub {
		t.Fatalf("operation status: %+v %s", resp, resp.Body)
	}

	resp, err = d.StatusLookup(ctx, coreScope, "core-device", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res model.DeviceRegistrationResult
	if err := json.Unmarshal(resp.Body, &res); err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK || res.AssignedHub != coreHub || res.DeviceID != "core-device" {
		t.Fatalf("status lookup: %+v %s", resp, resp.Body)
	}
}

// TestCoreRefusals: what the core refuses, and how ErrorResponse renders
// it for a transport.
func TestCoreRefusals(t *testing.T) {
	ek, srk := enrollfiletest.NewEK(), enrollfiletest.NewEK()
	tpmEnrollment := &model.IndividualEnrollment{
		RegistrationID: "core-tpm",
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{
				Type: model.AttestationTPM,
				TPM:  &model.TPMAttestation{EndorsementKey: ek, StorageRootKey: srk},
			},
			ETag: "x", ProvisioningStatus: model.StatusEnabled,
		},
	}
	d := newCore(t, symmetricEnrollment("core-device", coreKey), tpmEnrollment)
	ctx := t.Context()
	good, wrong := token(t, "core-device", coreKey), token(t, "core-device", wrongKey)
	tpmToken := token(t, "core-tpm", coreKey)
	tests := []struct {
		name   string
		call   func() (Response, error)
		status int
		code   int
	}{
		{"wrong key", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-device", Credential{SASToken: wrong}, nil)
		}, 401, model.ErrUnauthorized},
		{"unknown ID scope", func() (Response, error) {
			return d.Register(ctx, "0ne00000000", "core-device", Credential{SASToken: good}, nil)
		}, 401, model.ErrUnauthorized},
		{"invalid registration ID", func() (Response, error) {
			return d.Register(ctx, coreScope, "bad id!", Credential{SASToken: good}, nil)
		}, 400, model.ErrInvalidRegistrationID},
		{"no credential", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-device", Credential{}, nil)
		}, 401, model.ErrUnauthorized},
		{"body names another device", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-device", Credential{SASToken: good}, []byte(`{"registrationId":"other"}`))
		}, 400, model.ErrBadRequest},
		{"body too large", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-device", Credential{SASToken: good}, make([]byte, httpapi.MaxBodyBytes+1))
		}, 413, model.ErrRequestTooLarge},
		{"TPM challenge without TPM transport", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-tpm", Credential{NoTPM: true}, []byte(`{"registrationId":"core-tpm","tpm":{"endorsementKey":"`+ek+`"}}`))
		}, 400, model.ErrBadRequest},
		{"TPM token without TPM transport", func() (Response, error) {
			return d.Register(ctx, coreScope, "core-tpm", Credential{SASToken: tpmToken, NoTPM: true}, nil)
		}, 400, model.ErrBadRequest},
		{"poll of an unknown operation", func() (Response, error) {
			return d.OperationStatus(ctx, coreScope, "core-device", "5.0.none", Credential{SASToken: good}, nil)
		}, 404, model.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.call()
			if err == nil {
				t.Fatalf("accepted: %+v %s", resp, resp.Body)
			}
			if tt.name[:3] == "TPM" && !errors.Is(err, ErrTPMNeedsHTTPS) {
				t.Fatalf("error %v, want ErrTPMNeedsHTTPS", err)
			}
			answer := d.ErrorResponse(err)
			var body model.ErrorDetails
			if err := json.Unmarshal(answer.Body, &body); err != nil {
				t.Fatal(err)
			}
			if answer.Status != tt.status || body.ErrorCode != tt.code || body.TrackingID == "" {
				t.Fatalf("answer %d %s, want %d with %d", answer.Status, answer.Body, tt.status, tt.code)
			}
		})
	}
	// The same TPM device on a transport that carries TPM gets its
	// challenge.
	resp, err := d.Register(ctx, coreScope, "core-tpm", Credential{}, []byte(`{"registrationId":"core-tpm","tpm":{"endorsementKey":"`+ek+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var ch model.TPMChallenge
	if err := json.Unmarshal(resp.Body, &ch); err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusUnauthorized || !resp.Challenge || ch.AuthenticationKey == "" {
		t.Fatalf("TPM challenge: %+v %s", resp, resp.Body)
	}
}
