package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
)

func wireTestDER(t testing.TB) []byte {
	t.Helper()
	p, err := NewDevice(nil, "device-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Cert.Raw
}

// Every encoding clients send, through the fast path or the general one,
// gives the certificate that was encoded.
func TestParseWireCertificateForms(t *testing.T) {
	der := wireTestDER(t)
	b64 := base64.StdEncoding.EncodeToString(der)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"base64 DER", b64, true},
		{"base64 DER with line breaks", b64[:64] + "\n" + b64[64:], true},
		{"PEM", pemText, true},
		{"base64 of PEM", base64.StdEncoding.EncodeToString([]byte(pemText)), true},
		{"url-safe base64 DER", base64.RawURLEncoding.EncodeToString(der), true},
		{"base64 DER with trailing data", base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), 0x30, 0x00)), false},
		{"truncated base64 DER", b64[:len(b64)/2], false},
		{"not base64", "MI!!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWireCertificate(tt.in)
			want, werr := parseWireGeneral(tt.in)
			if (err == nil) != tt.ok || (werr == nil) != tt.ok {
				t.Fatalf("error %v, general path error %v; want ok=%v", err, werr, tt.ok)
			}
			if tt.ok && (!bytes.Equal(got[0].Raw, want[0].Raw) || !bytes.Equal(got[0].Raw, der)) {
				t.Fatal("not the certificate encoded")
			}
		})
	}
}

// EncodePEM builds exactly what encoding/pem builds, for every length around
// the 64-character line boundaries and for long inputs.
func TestEncodePEMMatchesEncodingPEM(t *testing.T) {
	lengths := []int{1535, 1536, 1537, 4000}
	for n := range 200 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		der := bytes.Repeat([]byte{byte(n)}, n)
		want := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		if got := EncodePEM(&x509.Certificate{Raw: der}); got != want {
			t.Fatalf("%d bytes: EncodePEM =\n%q\nwant\n%q", n, got, want)
		}
	}
}

// FuzzParseWireCertificate holds the fast path to the general one: the same
// inputs accepted, the same certificate returned.
func FuzzParseWireCertificate(f *testing.F) {
	der := wireTestDER(f)
	b64 := base64.StdEncoding.EncodeToString(der)
	for _, s := range []string{b64, "MIIB", b64[:100], b64 + "=", "MI" + b64[2:], ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWireCertificate(s)
		want, werr := parseWireGeneral(s)
		if (err == nil) != (werr == nil) {
			t.Fatalf("error %v, general path error %v", err, werr)
		}
		if err == nil && !bytes.Equal(got[0].Raw, want[0].Raw) {
			t.Fatal("a different certificate")
		}
	})
}
