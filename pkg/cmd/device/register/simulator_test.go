//go:build tpmsimulator

package register

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	tpmshared "github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// TestRegisterTPMSimulator provisions the simulated TPM of a state
// directory, enrolled by its EK, and connects it with the hub key it
// imported; an enrollment of another EK under its ID is refused, with the
// same answer from the service as an unknown ID and a hint from the CLI.
func TestRegisterTPMSimulator(t *testing.T) {
	data := isolate(t)
	state := filepath.Join(t.TempDir(), "tpm")
	tf := tpmshared.TPMFlags{Simulator: state, Create: true}
	id, _, err := tf.ReadIdentity()
	if err != nil {
		t.Fatal(err)
	}
	regID := id.EK.RegistrationID()
	enroll(t, data, func(c *dps.Client, _ *server.Instance) {
		mustPut(t, c, &model.IndividualEnrollment{RegistrationID: regID,
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationTPM, TPM: &model.TPMAttestation{EndorsementKey: id.EK.Base64()}}}})
	})

	r := runCmd(t, false, "--tpm-simulator", state, "--connect", "-o", "json")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	for _, want := range []string{`"registrationId": "` + regID + `"`, `"status": "assigned"`, `"authenticationKey": "`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %s:\n%s", want, r.out)
		}
	}
	// It registered over HTTPS and connected over MQTT, with a SAS token
	// signed in the TPM; the hub registry saw it come and go.
	if !strings.Contains(r.errOut, "(tpm attestation") || !strings.Contains(r.errOut, "Connected to localhost as "+regID+" over mqtt and sent a message") {
		t.Errorf("stderr %q", r.errOut)
	}
	enroll(t, data, func(_ *dps.Client, inst *server.Instance) {
		d, err := inst.HubDevice(context.Background(), "localhost", regID)
		if err != nil {
			t.Fatal(err)
		}
		if d.ConnectionState != "Disconnected" || d.DeviceToCloudMessageCount != 1 || d.LastActivityTime == "" {
			t.Errorf("hub device %s: %+v", regID, d)
		}
	})
	// And over HTTPS when asked.
	r = runCmd(t, false, "--tpm-simulator", state, "--connect", "--hub-transport", "https", "--quiet")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	enroll(t, data, func(_ *dps.Client, inst *server.Instance) {
		d, err := inst.HubDevice(context.Background(), "localhost", regID)
		if err != nil {
			t.Fatal(err)
		}
		// The HTTPS post counts, and leaves the state as MQTT left it.
		if d.ConnectionState != "Disconnected" || d.DeviceToCloudMessageCount != 2 {
			t.Errorf("hub device %s after HTTPS: %+v", regID, d)
		}
	})

	// Another simulated TPM claiming the enrolled registration ID.
	other := filepath.Join(t.TempDir(), "tpm2")
	r = runCmd(t, false, "--tpm-simulator", other, "--registration-id", regID)
	var ve *cmdutil.VerificationError
	if !errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "no TPM enrollment of registration ID "+regID+" has this TPM's endorsement key") {
		t.Fatalf("err %v", r.err)
	}
}
