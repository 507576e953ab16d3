//go:build tpmsimulator

package register

import (
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
	if !strings.Contains(r.errOut, "(tpm attestation") || !strings.Contains(r.errOut, "Connected to localhost as "+regID) {
		t.Errorf("stderr %q", r.errOut)
	}

	// Another simulated TPM claiming the enrolled registration ID.
	other := filepath.Join(t.TempDir(), "tpm2")
	r = runCmd(t, false, "--tpm-simulator", other, "--registration-id", regID)
	var ve *cmdutil.VerificationError
	if !errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "no TPM enrollment of registration ID "+regID+" has this TPM's endorsement key") {
		t.Fatalf("err %v", r.err)
	}
}
