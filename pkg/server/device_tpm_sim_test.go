//go:build tpmsimulator

package server

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// simIdentity starts the TPM simulator with a seed and reads (creating)
// its EK and SRK.
func simIdentity(t *testing.T, seed int64) (transport.TPMCloser, *tpm.Identity) {
	t.Helper()
	tp, err := tpm.OpenSimulator(seed)
	if err != nil {
		t.Fatal(err)
	}
	id, err := tpm.ReadIdentity(tp, true)
	if err != nil {
		tp.Close()
		t.Fatal(err)
	}
	return tp, id
}

// answerChallenge sends a TPM device's first register call, activates the
// challenge in the simulator and returns the SAS token the device signs
// with the activated key.
func answerChallenge(t *testing.T, d *devClient, tp transport.TPM, regID string, body any) string {
	t.Helper()
	r := d.register(regID, "", body)
	if r.status != 401 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	var ch model.TPMChallenge
	r.json(t, &ch)
	blob, err := base64.StdEncoding.DecodeString(ch.AuthenticationKey)
	if err != nil {
		t.Fatalf("challenge blob: %v", err)
	}
	if err := tpm.ActivateIdentityKey(tp, blob); err != nil {
		t.Fatalf("activating the challenge: %v", err)
	}
	tok, err := tpm.SASToken(tp, d.scope, regID, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTPMRegistrationSimulator is a TPM device end to end, over TLS: the
// challenge blob is activated in the simulator, the SAS token signed in
// it, and the hub key blob activated again to talk to the hub.
func TestTPMRegistrationSimulator(t *testing.T) {
	// Another TPM's EK, for the foreign-EK case (one simulator at a time).
	tp, foreign := simIdentity(t, 11)
	tp.Close()
	tp, id := simIdentity(t, 7)
	defer tp.Close()

	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e := envFor(t, inst)
	s := serve(t, inst)
	d := s.client(t, nil, true)
	d.version = "2021-06-01" // as the C SDK sends

	regID := id.EK.RegistrationID()
	e.put("/enrollments/"+regID, tpmEnrollment(regID, id.EK.Base64(), "enabled"))
	body := map[string]any{"registrationId": regID, "tpm": map[string]string{"endorsementKey": id.EK.Base64(), "storageRootKey": id.SRKBase64()}}

	// A foreign EK for this registration is refused before any challenge,
	// as for an unknown registration ID.
	mustStatus(t, d.register(regID, "", map[string]any{"tpm": map[string]string{"endorsementKey": foreign.EK.Base64(), "storageRootKey": id.SRKBase64()}}), 404, model.ErrEnrollmentNotFound)

	tok := answerChallenge(t, d, tp, regID, body)
	op := d.provision(regID, tok, body)
	rs := op.RegistrationState
	if op.Status != model.RegAssigned || rs.TPM == nil || rs.AssignedHub == "" || rs.DeviceID == "" {
		t.Fatalf("%+v %+v", op, rs)
	}

	// The second blob holds the hub key: after activating it, the TPM
	// signs the hub token the local hub accepts.
	hubTok := activateHubKey(t, tp, rs)
	mustHub(t, d.sendMessage(rs.DeviceID, hubTok), 204)
	if dev := e.hubDevice(rs.AssignedHub, rs.DeviceID); dev.DeviceToCloudMessageCount != 1 {
		t.Fatalf("%+v", dev)
	}
	// The old challenge key no longer opens the hub.
	mustHub(t, d.sendMessage(rs.DeviceID, regexp.MustCompile(`sig=[^&]*`).ReplaceAllString(hubTok, "sig=AAAA")), 401)

	// A disabled enrollment: the device completes the challenge and is
	// told it is disabled.
	e.put("/enrollments/"+regID, tpmEnrollment(regID, id.EK.Base64(), "disabled"))
	tok = answerChallenge(t, d, tp, regID, body)
	if op := d.provision(regID, tok, body); op.Status != model.RegDisabled {
		t.Fatalf("%+v", op)
	}
}

// activateHubKey activates in the TPM the hub key the registration result
// rs wrapped for it, and returns the hub token the TPM signs with it.
func activateHubKey(t *testing.T, tp transport.TPM, rs *model.DeviceRegistrationResult) string {
	t.Helper()
	blob, _ := base64.StdEncoding.DecodeString(rs.TPM.AuthenticationKey)
	if err := tpm.ActivateIdentityKey(tp, blob); err != nil {
		t.Fatalf("activating the hub key: %v", err)
	}
	sr := url.QueryEscape(rs.AssignedHub + "/devices/" + rs.DeviceID)
	se := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	sig, err := tpm.SignWithIdentityKey(tp, []byte(sr+"\n"+se))
	if err != nil {
		t.Fatal(err)
	}
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)) + "&se=" + se
}
