//go:build tpmsimulator

package tpm

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/dpsctl/dpsctl/pkg/sas"
)

func softHMAC(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func randomKey(t testing.TB, n int) []byte {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// checkSigning signs messages of several sizes, including ones that need
// an HMAC sequence, and compares with crypto/hmac.
func checkSigning(t *testing.T, tp transport.TPM, key []byte) {
	t.Helper()
	big := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3200 bytes: more than the input buffer
	for _, msg := range [][]byte{
		[]byte("0ne00000000/registrations/device-1\n1700000000"),
		{},
		big[:1024],
		big[:1025],
		big,
	} {
		got, err := SignWithIdentityKey(tp, msg)
		if err != nil {
			t.Fatalf("signing %d bytes: %v", len(msg), err)
		}
		if want := softHMAC(key, msg); !bytes.Equal(got, want) {
			t.Fatalf("signing %d bytes: TPM HMAC %x, want %x", len(msg), got, want)
		}
	}
}

func TestActivateIdentityKeySimulator(t *testing.T) {
	tp, err := OpenSimulator(3)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	id, err := ReadIdentity(tp, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignWithIdentityKey(tp, []byte("x")); !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("signing before activation: %v, want ErrNotPersisted", err)
	}

	// First blob: the registration challenge, a random 32-byte key.
	key1 := randomKey(t, 32)
	blob1, err := NewActivationBlob(id.EK.TPM2BPublic, id.SRK, key1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob1) != 798 {
		t.Errorf("blob is %d bytes, want 798", len(blob1))
	}
	if err := ActivateIdentityKey(tp, blob1); err != nil {
		t.Fatal(err)
	}
	checkSigning(t, tp, key1)

	// The SAS token verifies with the server-side verifier and the key.
	expiry := time.Unix(1900000000, 0)
	tok, err := SASToken(tp, "0ne000A1B2C", id.EK.RegistrationID(), expiry)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "SharedAccessSignature sr=0ne000A1B2C%2Fregistrations%2F" + id.EK.RegistrationID() + "&sig="
	if !strings.HasPrefix(tok, wantPrefix) || !strings.HasSuffix(tok, "&se=1900000000&skn=registration") {
		t.Errorf("token %q", tok)
	}
	parsed, err := sas.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.Verify(base64.StdEncoding.EncodeToString(key1), expiry.Add(-time.Hour)); err != nil {
		t.Errorf("token does not verify: %v", err)
	}
	if !strings.EqualFold(parsed.Resource, "0ne000A1B2C/registrations/"+id.EK.RegistrationID()) || parsed.KeyName != "registration" {
		t.Errorf("token resource %q key name %q", parsed.Resource, parsed.KeyName)
	}

	// Second blob: the hub key, 64 bytes with URI data; it replaces the first.
	key2 := randomKey(t, 64)
	blob2, err := NewActivationBlob(id.EK.TPM2BPublic, id.SRK, key2, []byte("https://hub.example/devices/d1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ActivateIdentityKey(tp, blob2); err != nil {
		t.Fatal(err)
	}
	checkSigning(t, tp, key2)

	// Blobs for another TPM fail and leave the key in place.
	otherEK := foreignPublic(t, tpm2.RSAEKTemplate)
	otherSRK := foreignPublic(t, tpm2.RSASRKTemplate)
	for _, tc := range []struct {
		name     string
		ek, srk  []byte
		wantText string
	}{
		{"other EK", otherEK, id.SRK, "ActivateCredential"},
		{"other SRK", id.EK.TPM2BPublic, otherSRK, "ActivateCredential"},
		{"other EK and SRK", otherEK, otherSRK, "ActivateCredential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob, err := NewActivationBlob(tc.ek, tc.srk, randomKey(t, 32), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = ActivateIdentityKey(tp, blob)
			if err == nil {
				t.Fatal("a blob for another TPM activated")
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %v, want it to mention %s", err, tc.wantText)
			}
			checkSigning(t, tp, key2)
		})
	}

	// A duplicate that was tampered with passes activation but fails Import.
	b, err := ParseActivationBlob(blob1)
	if err != nil {
		t.Fatal(err)
	}
	b.Duplicate = bytes.Clone(b.Duplicate)
	b.Duplicate[len(b.Duplicate)-1] ^= 1
	if err := ActivateIdentityKey(tp, b.Marshal()); err == nil || !strings.Contains(err.Error(), "Import") {
		t.Errorf("tampered duplicate: %v, want an Import error", err)
	}
	checkSigning(t, tp, key2)
	if err := ActivateIdentityKey(tp, blob1[:len(blob1)-1]); !errors.Is(err, ErrInvalidActivationBlob) {
		t.Errorf("truncated blob: %v", err)
	}

	// No transient objects or sessions are left behind.
	for _, capability := range []tpm2.TPMHandle{0x80000000, 0x02000000, 0x03000000} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(capability), PropertyCount: 16}.Execute(tp)
		if err != nil {
			t.Fatal(err)
		}
		hs, _ := rsp.CapabilityData.Data.Handles()
		if len(hs.Handle) != 0 {
			t.Errorf("handles left in range 0x%08x: %v", uint32(capability), hs.Handle)
		}
	}
}

// TestActivateIdentityKeyECC runs the flow with ECC P-256 EK and SRK.
func TestActivateIdentityKeyECC(t *testing.T) {
	tp, err := OpenSimulator(4)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	persistPrimary(t, tp, tpm2.TPMRHEndorsement, tpm2.ECCEKTemplate, EKHandle)
	persistPrimary(t, tp, tpm2.TPMRHOwner, tpm2.ECCSRKTemplate, SRKHandle)
	id, err := ReadIdentity(tp, false)
	if err != nil {
		t.Fatal(err)
	}
	if id.EK.Algorithm != "ECC" {
		t.Fatalf("EK is %s", id.EK.Algorithm)
	}
	key := randomKey(t, 32)
	blob, err := NewActivationBlob(id.EK.TPM2BPublic, id.SRK, key, []byte("uri"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ActivateIdentityKey(tp, blob); err != nil {
		t.Fatal(err)
	}
	checkSigning(t, tp, key)
}

func persistPrimary(t *testing.T, tp transport.TPM, hierarchy tpm2.TPMHandle, tmpl tpm2.TPMTPublic, handle tpm2.TPMHandle) {
	t.Helper()
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: hierarchy, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: cp.ObjectHandle}.Execute(tp)
	if _, err := (tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: handle,
	}).Execute(tp); err != nil {
		t.Fatal(err)
	}
}

// foreignPublic returns an RSA-2048 public area from the template with a
// software key in it: a key of some other TPM.
func foreignPublic(t *testing.T, tmpl tpm2.TPMTPublic) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	return tpm2.Marshal(tpm2.New2B(tmpl))
}
