//go:build tpmsimulator

package tpm

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// The simulator is a process-wide singleton: these tests must not run in
// parallel.

func TestSimulatorIdentity(t *testing.T) {
	tp, err := OpenSimulator(1)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()

	if _, _, err := ReadEK(tp, false); !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("fresh TPM: ReadEK = %v, want ErrNotPersisted", err)
	}
	id, err := ReadIdentity(tp, true)
	if err != nil {
		t.Fatal(err)
	}
	if !id.EKCreated || !id.SRKCreated {
		t.Errorf("created = %v/%v, want both", id.EKCreated, id.SRKCreated)
	}
	ek := id.EK
	if ek.Algorithm != "RSA" || ek.KeyBits != 2048 || len(ek.TPM2BPublic) != 316 {
		t.Errorf("EK %s/%d, %d bytes", ek.Algorithm, ek.KeyBits, len(ek.TPM2BPublic))
	}
	// The TCG template's fixed header, as in the SDK sample EK.
	if b64 := ek.Base64(); !strings.HasPrefix(b64, "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEA") {
		t.Errorf("EK base64 header %s", b64[:80])
	}
	if b64 := id.SRKBase64(); !strings.HasPrefix(b64, "ARoAAQALAAMEcgAAAAYAgABDABAIAAAAAAAB") || len(id.SRK) != 284 {
		t.Errorf("SRK %d bytes, base64 %s", len(id.SRK), b64[:40])
	}
	// With seed 1 the TCG-template EK has a known registration ID shape.
	rid := ek.RegistrationID()
	if !strings.HasPrefix(rid, "wbig7ksn") || !strings.HasSuffix(rid, "knqa") {
		t.Errorf("registration ID %s, want wbig7ksn...knqa", rid)
	}
	// Independent check: rebuild the TPM2B from CreatePrimary's output and
	// compare it, and the modulus, with what was persisted.
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.RSAEKTemplate),
	}.Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	tpm2.FlushContext{FlushHandle: cp.ObjectHandle}.Execute(tp)
	raw := tpm2.Marshal(cp.OutPublic)
	if !bytes.Equal(raw, ek.TPM2BPublic) {
		t.Error("persisted EK differs from a freshly derived primary")
	}
	pub, _ := cp.OutPublic.Contents()
	n, _ := pub.Unique.RSA()
	if !bytes.Equal(ek.PublicKey.(*rsa.PublicKey).N.Bytes(), n.Buffer) {
		t.Error("parsed modulus differs")
	}
	if got, err := RegistrationIDFromEK(base64.StdEncoding.EncodeToString(raw)); err != nil || got != rid {
		t.Errorf("RegistrationIDFromEK = %s, %v", got, err)
	}

	// Second read: nothing new is created and the keys are the same.
	again, err := ReadIdentity(tp, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.EKCreated || again.SRKCreated || !again.EK.Equal(ek) || !bytes.Equal(again.SRK, id.SRK) {
		t.Error("second read created keys or returned different ones")
	}
}

// TestSWTPMAgainstSimulator runs the swtpm transport against a fake swtpm
// that forwards to the simulator.
func TestSWTPMAgainstSimulator(t *testing.T) {
	sim, err := OpenSimulator(2)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	addr := fakeSWTPM(t, func(cmd []byte) []byte {
		rsp, err := sim.Send(cmd)
		if err != nil {
			return response(uint32(tpm2.TPMRCFailure))
		}
		return rsp
	})
	tp, err := Open("swtpm:" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ek, created, err := ReadEK(tp, true)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("EK not created on a fresh TPM")
	}
	direct, _, err := ReadEK(sim, false)
	if err != nil {
		t.Fatal(err)
	}
	if !direct.Equal(ek) {
		t.Error("EK read over swtpm differs from the one read directly")
	}
}
