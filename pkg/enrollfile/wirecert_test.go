package enrollfile

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
)

func testDeviceDER(t testing.TB) []byte {
	t.Helper()
	p, err := certs.NewDevice(nil, "device-1", certs.Options{NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return p.Cert.Raw
}

func TestParseWireCertificateForms(t *testing.T) {
	der := testDeviceDER(t)
	b64 := base64.StdEncoding.EncodeToString(der)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"base64 DER", b64, true},
		{"base64 DER with a line break", b64[:64] + "\n" + b64[64:], true},
		{"PEM", pemText, true},
		{"base64 of PEM", base64.StdEncoding.EncodeToString([]byte(pemText)), true},
		{"base64 DER with trailing data", base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), 0x30, 0x00)), false},
		{"truncated base64 DER", b64[:len(b64)/2], false},
		{"not base64", "MI!!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWireCertificate(tt.in)
			want, werr := certs.ParseWireCertificate(tt.in)
			if (err == nil) != tt.ok || (werr == nil) != tt.ok {
				t.Fatalf("parse error %v, certs.ParseWireCertificate error %v; want ok=%v", err, werr, tt.ok)
			}
			if tt.ok && (!bytes.Equal(got.Raw, want[0].Raw) || !bytes.Equal(got.Raw, der)) {
				t.Fatal("not the certificate encoded")
			}
		})
	}
}

// FuzzParseWireCertificate holds the fast path to certs.ParseWireCertificate:
// the same inputs accepted, the same certificate returned.
func FuzzParseWireCertificate(f *testing.F) {
	der := testDeviceDER(f)
	b64 := base64.StdEncoding.EncodeToString(der)
	for _, s := range []string{b64, "MIIB", b64[:100], b64 + "=", "MI" + b64[2:], ""} {
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
