package enrollfiletest

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/tpm"
)

func TestKeys(t *testing.T) {
	a, b := NewEK(), NewEK()
	if a == b {
		t.Fatal("two calls made the same key")
	}
	ek, err := tpm.DecodeEK(a)
	if err != nil {
		t.Fatal(err)
	}
	if ek.Algorithm != "ECC" || ek.Curve != "P-256" || ek.Base64() != a {
		t.Fatalf("got %s %s, canonical %t", ek.Algorithm, ek.Curve, ek.Base64() == a)
	}
	if id, err := tpm.RegistrationIDFromEK(SampleEK); err != nil || id != SampleEKRegistrationID {
		t.Fatalf("sample EK: %q %v", id, err)
	}
}
