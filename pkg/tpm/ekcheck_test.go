package tpm

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// newECCEK returns a valid ECC P-256 endorsement key (TCG template, a
// random point), base64 TPM2B_PUBLIC.
func newECCEK(t testing.TB) []byte {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey().Bytes() // 0x04 ‖ X ‖ Y
	tmpl := tpm2.ECCEKTemplate
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pub[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: pub[33:65]},
	})
	return tpm2.Marshal(tpm2.New2B(tmpl))
}

func TestQuickEK(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	if !quickEK(raw) {
		t.Error("sample RSA EK not recognised")
	}
	for range 20 {
		b := newECCEK(t)
		if !quickEK(b) {
			t.Fatal("generated ECC EK not recognised")
		}
		b[len(b)-1] ^= 1 // off the curve
		if quickEK(b) {
			t.Fatal("point off the curve accepted")
		}
	}
	if quickEK(raw[:len(raw)-1]) || quickEK(append(raw, 0)) {
		t.Error("truncated or padded EK accepted")
	}
	if got, err := CheckEK(sampleEK); err != nil || got != sampleEK {
		t.Errorf("CheckEK(sample) = %q, %v", got, err)
	}
	if _, err := CheckEK("AAAA"); err == nil || !strings.Contains(err.Error(), "invalid endorsement key") {
		t.Errorf("CheckEK(AAAA) = %v", err)
	}
}

// FuzzCheckEK holds the fast endorsement key check to ParseEK: what it
// accepts, ParseEK accepts unchanged.
func FuzzCheckEK(f *testing.F) {
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	f.Add(raw)
	f.Add(newECCEK(f))
	f.Add([]byte{0, 2, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if !quickEK(b) {
			return
		}
		ek, err := ParseEK(b)
		if err != nil {
			t.Fatalf("quickEK accepted what ParseEK rejects: %v", err)
		}
		if string(ek.TPM2BPublic) != string(b) {
			t.Fatal("canonical form differs")
		}
	})
}
