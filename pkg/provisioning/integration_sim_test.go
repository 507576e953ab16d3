//go:build tpmsimulator

package provisioning_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// sampleEK is another TPM's endorsement key: the RSA-2048 EK published
// with the Azure IoT provisioning SDK samples.
const sampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
	"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
	"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
	"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
	"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

func tpmEnrollment(id, ek, status string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{RegistrationID: id, EnrollmentCommon: model.EnrollmentCommon{ProvisioningStatus: status,
		Attestation: &model.AttestationMechanism{Type: model.AttestationTPM, TPM: &model.TPMAttestation{EndorsementKey: ek}}}}
}

// TestTPMAgainstLocalService provisions the simulated TPM against the local
// service: the challenge, the hub key imported into the TPM, and a message
// signed by the TPM that the hub accepts.
func TestTPMAgainstLocalService(t *testing.T) {
	s := startService(t)
	ctx := context.Background()
	sim, err := tpm.OpenSimulator(11)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	att, err := provisioning.NewTPM(sim)
	if err != nil {
		t.Fatal(err)
	}
	ek := att.Identity().EK.Base64()
	regID := att.RegistrationID()

	tests := []struct {
		name       string
		enrollment *model.IndividualEnrollment // nil: none
		regID      string
		check      func(t *testing.T, st *model.RegistrationOperationStatus, err error)
	}{
		{
			name:       "enrolled",
			enrollment: tpmEnrollment(regID, ek, ""),
			regID:      regID,
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error) {
				if err != nil {
					t.Fatal(err)
				}
				r := st.RegistrationState
				if r.DeviceID != regID || r.TPM == nil || r.TPM.AuthenticationKey == "" {
					t.Fatalf("result %+v", r)
				}
				if err := s.send(t, att, r); err != nil {
					t.Fatalf("hub: %v", err)
				}
				dev, err := s.inst.HubDevice(ctx, r.AssignedHub, r.DeviceID)
				if err != nil || dev.DeviceToCloudMessageCount != 1 {
					t.Fatalf("hub device %+v, %v", dev, err)
				}
			},
		},
		{
			name:       "enrolled under another ID",
			enrollment: tpmEnrollment("tpm-custom-id", ek, ""),
			regID:      "tpm-custom-id",
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error) {
				if err != nil || st.RegistrationState.DeviceID != "tpm-custom-id" {
					t.Fatalf("err %v, %+v", err, st)
				}
			},
		},
		{
			name:       "disabled",
			enrollment: tpmEnrollment("tpm-off", ek, model.StatusDisabled),
			regID:      "tpm-off",
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error) {
				if !provisioning.IsDenied(err) || st == nil || st.Status != model.RegDisabled {
					t.Fatalf("err %v, %+v", err, st)
				}
			},
		},
		{
			// Answered as for an ID that is not enrolled.
			name:       "foreign EK enrolled",
			enrollment: tpmEnrollment("tpm-foreign", sampleEK, ""),
			regID:      "tpm-foreign",
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error) {
				var e *provisioning.Error
				if !errors.As(err, &e) || e.StatusCode != http.StatusNotFound || e.ErrorCode != model.ErrEnrollmentNotFound || !provisioning.IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:  "not enrolled",
			regID: "tpm-nobody",
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error) {
				if !provisioning.IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.enrollment != nil {
				if _, err := s.client.PutEnrollment(ctx, tt.enrollment, ""); err != nil {
					t.Fatal(err)
				}
			}
			st, err := s.device(t, tt.regID, att).Register(ctx)
			tt.check(t, st, err)
		})
	}
}
