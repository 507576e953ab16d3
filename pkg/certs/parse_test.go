package certs

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

type testPKI struct {
	root, inter, device *Pair
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	root, err := NewRoot(Options{CommonName: "Test Root", Organization: "Contoso"})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := NewIntermediate(root, Options{CommonName: "Test Intermediate"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := NewDevice(inter, "dev1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{root, inter, dev}
}

func TestParseForms(t *testing.T) {
	p := newTestPKI(t)
	leafPEM := EncodePEM(p.device.Cert)
	chainPEM := EncodePEMChain([]*x509.Certificate{p.device.Cert, p.inter.Cert, p.root.Cert})
	keyPEM, err := EncodePrivateKeyPEM(p.device.Key)
	if err != nil {
		t.Fatal(err)
	}
	der := p.device.Cert.Raw
	tests := []struct {
		name  string
		in    []byte
		wantN int
	}{
		{"PEM", []byte(leafPEM), 1},
		{"PEM CRLF", []byte(strings.ReplaceAll(leafPEM, "\n", "\r\n")), 1},
		{"PEM bundle", []byte(chainPEM), 3},
		{"PEM with key first and text", append(append([]byte("subject=dev1\n"), keyPEM...), leafPEM...), 1},
		{"DER", der, 1},
		{"DER concatenated", append(append([]byte{}, der...), p.root.Cert.Raw...), 2},
		{"base64 DER", []byte(base64.StdEncoding.EncodeToString(der)), 1},
		{"base64 DER wrapped", []byte(wrap(base64.StdEncoding.EncodeToString(der), 64)), 1},
		{"base64 PEM", []byte(base64.StdEncoding.EncodeToString([]byte(chainPEM))), 3},
		{"surrounding space", []byte("\n\n  " + leafPEM + "\n\n"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN {
				t.Fatalf("got %d certificates, want %d", len(got), tt.wantN)
			}
			if !got[0].Equal(p.device.Cert) {
				t.Error("first certificate is not the leaf")
			}
		})
	}
}

func bigInt(n int64) *big.Int { return big.NewInt(n) }

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestParseErrors(t *testing.T) {
	p := newTestPKI(t)
	keyPEM, _ := EncodePrivateKeyPEM(p.device.Key)
	leafPEM := EncodePEM(p.device.Cert)
	tests := []struct {
		name    string
		in      string
		wantErr string
		noCert  bool
	}{
		{"empty", "", "empty", true},
		{"blank", " \n\t", "empty", true},
		{"only key", string(keyPEM), "holds only PRIVATE KEY", true},
		{"truncated PEM", leafPEM[:len(leafPEM)-30], "malformed PEM", true},
		{"corrupt PEM body", strings.Replace(leafPEM, "MII", "MIA", 1), "PEM block 1", false},
		{"text", "hello, world", "neither PEM, DER nor base64", true},
		{"base64 of text", base64.StdEncoding.EncodeToString([]byte("hello")), "base64 content", true},
		{"bad DER", string([]byte{0x30, 0x03, 0x02, 0x01, 0x00, 0xff}), "DER", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrNoCertificate) != tt.noCert {
				t.Errorf("errors.Is(ErrNoCertificate) = %v, want %v (%v)", !tt.noCert, tt.noCert, err)
			}
		})
	}
}

func TestParseWireCertificate(t *testing.T) {
	p := newTestPKI(t)
	pemText := EncodePEM(p.device.Cert)
	for name, s := range map[string]string{
		"pem":         pemText,
		"base64(DER)": EncodeBase64DER(p.device.Cert),
		"base64(PEM)": base64.StdEncoding.EncodeToString([]byte(pemText)),
	} {
		got, err := ParseWireCertificate(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != 1 || !got[0].Equal(p.device.Cert) {
			t.Errorf("%s: wrong certificate", name)
		}
	}
	for _, bad := range []string{"", string(p.device.Cert.Raw), "%%%"} {
		if _, err := ParseWireCertificate(bad); err == nil {
			t.Errorf("ParseWireCertificate(%q) succeeded", bad[:min(len(bad), 10)])
		}
	}
}

func TestReadFile(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "dev.pem")
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(good, []byte(EncodePEM(p.device.Cert)), 0o644)
	os.WriteFile(bad, []byte("junk"), 0o644)
	if c, err := ReadFile(good); err != nil || len(c) != 1 {
		t.Fatalf("ReadFile = %d, %v", len(c), err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.pem")} {
		_, err := ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadFile(%s) error %v does not name the file", path, err)
		}
	}
}

func TestInfo(t *testing.T) {
	p := newTestPKI(t)
	c := p.inter.Cert
	info := Info(c)
	s1 := sha1.Sum(c.Raw)
	s256 := sha256.Sum256(c.Raw)
	want := model.X509CertificateInfo{
		SubjectName:      "CN=Test Intermediate",
		SHA1Thumbprint:   strings.ToUpper(hex.EncodeToString(s1[:])),
		SHA256Thumbprint: strings.ToUpper(hex.EncodeToString(s256[:])),
		IssuerName:       "CN=Test Root, O=Contoso",
		NotBeforeUTC:     c.NotBefore.UTC().Format("2006-01-02T15:04:05") + ".0000000Z",
		NotAfterUTC:      c.NotAfter.UTC().Format("2006-01-02T15:04:05") + ".0000000Z",
		SerialNumber:     SerialHex(c.SerialNumber),
		Version:          3,
	}
	if info != want {
		t.Errorf("Info =\n%+v\nwant\n%+v", info, want)
	}
	if Thumbprint(c, crypto.SHA256) != want.SHA256Thumbprint {
		t.Error("Thumbprint(SHA256) differs")
	}
}

func TestSerialHex(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "00"}, {1, "01"}, {0x7f, "7F"}, {0x80, "0080"}, {0xabcdef, "00ABCDEF"}, {0x1234, "1234"}, {-5, "-5"},
	}
	for _, tt := range tests {
		if got := SerialHex(bigInt(tt.in)); got != tt.want {
			t.Errorf("SerialHex(%d) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
