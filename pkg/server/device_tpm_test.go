package server

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// softPublic returns the base64 TPM2B_PUBLIC of a fresh ECC P-256 key made
// from a TPM template (an EK or SRK without a TPM behind it).
func softPublic(t testing.TB, tmpl tpm2.TPMTPublic) string {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := priv.PublicKey().Bytes()
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: p[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: p[33:]},
	})
	return base64.StdEncoding.EncodeToString(tpm2.Marshal(tpm2.New2B(tmpl)))
}

func tpmEnrollment(id, ek, status string) map[string]any {
	return map[string]any{
		"registrationId": id, "provisioningStatus": status,
		"attestation": map[string]any{"type": "tpm", "tpm": map[string]string{"endorsementKey": ek}},
	}
}

// TestTPMChallengeFlow runs the TPM flow with the server's side checked
// for real and the TPM's part (activating the blob) taken from the store:
// the test signs with the challenge key the server remembered.
func TestTPMChallengeFlow(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	ctx := context.Background()
	ek, srk := softPublic(t, tpm2.ECCEKTemplate), softPublic(t, tpm2.ECCSRKTemplate)
	foreign := softPublic(t, tpm2.ECCEKTemplate)
	regID, err := tpm.RegistrationIDFromEK(ek)
	if err != nil {
		t.Fatal(err)
	}
	e.put("/enrollments/"+regID, tpmEnrollment(regID, ek, "enabled"))
	e.put("/enrollments/tpm-off", tpmEnrollment("tpm-off", foreign, "disabled"))
	body := map[string]any{"registrationId": regID, "tpm": map[string]string{"endorsementKey": ek, "storageRootKey": srk}}

	// First call: 401 with the activation blob, not the error model.
	r := d.register(regID, "", body)
	if r.status != 401 {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	var raw map[string]any
	json.Unmarshal(r.body, &raw)
	if len(raw) != 3 || raw["keyName"] != "registration" || raw["message"] == "" {
		t.Fatalf("challenge body %s", r.body)
	}
	var ch model.TPMChallenge
	r.json(t, &ch)
	blob, err := base64.StdEncoding.DecodeString(ch.AuthenticationKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.ParseActivationBlob(blob); err != nil {
		t.Fatalf("challenge blob: %v", err)
	}
	key, err := e.inst.st.TPMChallenge(ctx, regID, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// The device's token, as the SDKs sign it (sr URL-encoded).
	sr := url.QueryEscape(d.scope + "/registrations/" + regID)
	tok := deviceSAS(t, key, sr, "registration", time.Now().Add(time.Hour))
	op := d.provision(regID, tok, body)
	rs := op.RegistrationState
	if op.Status != model.RegAssigned || rs.TPM == nil || rs.TPM.AuthenticationKey == "" || rs.AssignedHub == "" || rs.DeviceID != regID {
		t.Fatalf("%+v %+v", op, rs)
	}
	blob2, _ := base64.StdEncoding.DecodeString(rs.TPM.AuthenticationKey)
	if _, err := tpm.ParseActivationBlob(blob2); err != nil {
		t.Fatalf("hub key blob: %v", err)
	}
	dev := e.hubDevice(rs.AssignedHub, regID)
	if dev.AuthenticationType != store.AuthSAS || dev.PrimaryKey == "" || dev.PrimaryKey == key {
		t.Fatalf("hub device %+v", dev)
	}
	// With the hub key (what the TPM holds after the second activation)
	// the device talks to the hub, and may look up its status.
	mustHub(t, d.sendMessage(regID, hubToken(t, rs.AssignedHub, regID, dev.PrimaryKey)), 204)
	mustStatus(t, d.must("POST", d.regPath(regID)+"?api-version=2019-03-31", `{"registrationId":"`+regID+`"}`, deviceSAS(t, dev.PrimaryKey, sr, "registration", time.Now().Add(time.Hour))), 200)

	// Refusals.
	other := map[string]any{"registrationId": regID, "tpm": map[string]string{"endorsementKey": foreign, "storageRootKey": srk}}
	noSRK := map[string]any{"registrationId": regID, "tpm": map[string]string{"endorsementKey": ek}}
	tests := []struct {
		name, id     string
		body         any
		auth         string
		status, code int
	}{
		// As for an unknown registration: existence is not revealed.
		{"foreign EK", regID, other, "", 404, model.ErrEnrollmentNotFound},
		{"foreign EK with a valid token", regID, other, tok, 401, model.ErrUnauthorized},
		{"EK that is no EK", regID, map[string]any{"tpm": map[string]string{"endorsementKey": "AAAA", "storageRootKey": srk}}, "", 401, model.ErrUnauthorized},
		{"no storage root key", regID, noSRK, "", 400, model.ErrBadRequest},
		{"unknown registration", "tpm-nobody", map[string]any{"tpm": map[string]string{"endorsementKey": ek, "storageRootKey": srk}}, "", 404, model.ErrEnrollmentNotFound},
		{"wrong key", regID, body, deviceSAS(t, keyA, sr, "registration", time.Now().Add(time.Hour)), 401, model.ErrUnauthorized},
		{"empty skn accepted only with the right key", regID, body, deviceSAS(t, keyA, sr, "", time.Now().Add(time.Hour)), 401, model.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, d.register(tt.id, tt.auth, tt.body), tt.status, tt.code)
		})
	}

	// A disabled TPM enrollment: challenged, then disabled.
	offBody := map[string]any{"tpm": map[string]string{"endorsementKey": foreign, "storageRootKey": srk}}
	if r := d.register("tpm-off", "", offBody); r.status != 401 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	offKey, _ := e.inst.st.TPMChallenge(ctx, "tpm-off", time.Now())
	op = d.provision("tpm-off", deviceSAS(t, offKey, url.QueryEscape(d.scope+"/registrations/tpm-off"), "", time.Now().Add(time.Hour)), offBody)
	if op.Status != model.RegDisabled || op.RegistrationState.TPM != nil {
		t.Fatalf("%+v", op)
	}
}
