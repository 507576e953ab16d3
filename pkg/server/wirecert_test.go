package server

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
)

func TestParseWireCertificateForms(t *testing.T) {
	c := newTestCert(t, subject("device-1", "Contoso", "US"), nil, false)
	der := c.cert.Raw
	b64 := base64.StdEncoding.EncodeToString(der)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"base64 DER", b64, true},
		{"base64 DER with line breaks", b64[:64] + "\n" + b64[64:], true},
		{"PEM", c.pem(), true},
		{"base64 of PEM", base64.StdEncoding.EncodeToString([]byte(c.pem())), true},
		{"url-safe base64 DER", base64.RawURLEncoding.EncodeToString(der), true},
		{"base64 DER with trailing data", base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), 0x30, 0x00)), false},
		{"truncated base64 DER", b64[:len(b64)/2], false},
		{"not base64", "MI!!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWireCertificate(tt.in)
			want, werr := certs.ParseWireCertificate(tt.in)
			if (err == nil) != tt.ok || (werr == nil) != tt.ok {
				t.Fatalf("parse error %v, certs.ParseWireCertificate error %v; want ok=%v", err, werr, tt.ok)
			}
			if tt.ok && !bytes.Equal(got.Raw, want[0].Raw) {
				t.Fatal("a different certificate than certs.ParseWireCertificate's")
			}
			if tt.ok && !bytes.Equal(got.Raw, der) {
				t.Fatal("not the certificate encoded")
			}
		})
	}
}

func TestEncodePEMMatchesCerts(t *testing.T) {
	c := newTestCert(t, subject("device-1", "Contoso", "US"), nil, false)
	if got, want := encodePEM(c.cert.Raw), certs.EncodePEM(c.cert); got != want {
		t.Fatalf("encodePEM =\n%s\nwant\n%s", got, want)
	}
	// Every length around the line boundaries, and long ones, against
	// encoding/pem.
	lengths := []int{1535, 1536, 1537, 4000}
	for n := range 200 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		der := bytes.Repeat([]byte{byte(n)}, n)
		cert := *c.cert
		cert.Raw = der
		if got, want := encodePEM(der), certs.EncodePEM(&cert); got != want {
			t.Fatalf("%d bytes: encodePEM =\n%q\nwant\n%q", n, got, want)
		}
	}
}

// FuzzParseWireCertificate holds the fast path to certs.ParseWireCertificate:
// the same inputs accepted, the same certificate returned.
func FuzzParseWireCertificate(f *testing.F) {
	c := newTestCert(f, subject("device-1", "Contoso", "US"), nil, false)
	b64 := base64.StdEncoding.EncodeToString(c.cert.Raw)
	for _, s := range []string{b64, c.pem(), "MIIB", b64[:100], b64 + "=", "MI" + b64[2:], ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWireCertificate(s)
		want, werr := certs.ParseWireCertificate(s)
		if (err == nil) != (werr == nil) {
			t.Fatalf("parseWireCertificate error %v, certs.ParseWireCertificate error %v", err, werr)
		}
		if err == nil && !bytes.Equal(got.Raw, want[0].Raw) {
			t.Fatal("a different certificate")
		}
	})
}
