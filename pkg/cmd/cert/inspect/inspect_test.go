package inspect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

// Fixed validity far from any test run, so the goldens never expire.
var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
)

// errReader fails: every certificate below is signed with Ed25519, which
// needs no randomness, so the bytes are the same on every run.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no randomness here") }

var _ io.Reader = errReader{}

// goldenPKI writes, in dir, chain.pem (a device
// certificate with an RSA key and SANs, then an ECDSA P-256 intermediate
// CA) and root.der (an Ed25519 root CA), all signed by the root.
func goldenPKI(t *testing.T, dir string) {
	t.Helper()
	rootKey := ed25519.NewKeyFromSeed([]byte("dpsctl golden root seed 32 bytes"))
	scalar := make([]byte, 32)
	scalar[31] = 0x2a
	scalar[0] = 0x11
	interKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	// Any 2048-bit odd modulus makes a well-formed RSA public key.
	n := new(big.Int).Lsh(big.NewInt(1), 2047)
	n.Add(n, big.NewInt(0x1234567))
	deviceKey := &rsa.PublicKey{N: n, E: 65537}

	mk := func(tmpl *x509.Certificate, parent *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
		t.Helper()
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(errReader{}, tmpl, parent, pub, rootKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	root := mk(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Golden Root CA", Organization: []string{"Contoso"}, Country: []string{"US"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          []byte{1, 2, 3, 4},
	}, nil, rootKey.Public())
	inter := mk(&x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes([]byte{0x80, 0x01, 0x02}),
		Subject:               pkix.Name{CommonName: "Golden Intermediate CA", Organization: []string{"Contoso"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          []byte{5, 6, 7, 8},
	}, root, interKey.Public())
	uri, _ := url.Parse("urn:dev:golden-device-1")
	device := mk(&x509.Certificate{
		SerialNumber:          big.NewInt(0x0102030405),
		Subject:               pkix.Name{CommonName: "golden-device-1"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"golden-device-1.example.net"},
		IPAddresses:           []net.IP{net.ParseIP("192.0.2.10")},
		EmailAddresses:        []string{"ops@example.net"},
		URIs:                  []*url.URL{uri},
		SubjectKeyId:          []byte{9, 10, 11, 12},
	}, root, deviceKey)
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), []byte(certs.EncodePEMChain([]*x509.Certificate{device, inter})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root.der"), root.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInspectRun(t *testing.T) {
	dir := t.TempDir()
	goldenPKI(t, dir)
	root, _ := os.ReadFile(filepath.Join(dir, "root.der"))
	tests := []struct {
		name  string
		tty   bool
		stdin []byte
		args  []string
	}{
		{name: "table tty one certificate", tty: true, args: []string{"root.der"}},
		{name: "table tty bundle and files", tty: true, args: []string{"chain.pem", "root.der"}},
		{name: "table not tty", args: []string{"chain.pem", "root.der"}},
		{name: "json one certificate", args: []string{"root.der", "-o", "json"}},
		{name: "json bundle and files", args: []string{"chain.pem", "-", "-o", "json"}, stdin: root},
		{name: "yaml", args: []string{"chain.pem", "-o", "yaml"}},
		{name: "info json", args: []string{"chain.pem", "--info", "-o", "json"}},
		{name: "query thumbprints", args: []string{"chain.pem", "root.der", "-o", "tsv", "--query", "[].sha256Thumbprint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, tt.tty)
			s.In.Write(tt.stdin)
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				if strings.HasSuffix(a, ".pem") || strings.HasSuffix(a, ".der") {
					a = filepath.Join(dir, a)
				}
				args[i] = a
			}
			if err := cmdtest.Run(t, f, NewCmdInspect(f, nil), args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String(), dir+string(filepath.Separator), "")
		})
	}
}

func TestNewCmdInspect(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantFiles []string
		wantInfo  bool
		wantErr   string
	}{
		{name: "one", args: []string{"a.pem"}, wantFiles: []string{"a.pem"}},
		{name: "several and stdin", args: []string{"a.pem", "-", "b.der"}, wantFiles: []string{"a.pem", "-", "b.der"}},
		{name: "info", args: []string{"a.pem", "--info"}, wantFiles: []string{"a.pem"}, wantInfo: true},
		{name: "none", args: []string{}, wantErr: "one or more certificate files"},
		{name: "stdin twice", args: []string{"-", "-"}, wantErr: "only once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdInspect, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Files, " ") != strings.Join(tt.wantFiles, " ") || got.Info != tt.wantInfo {
				t.Errorf("options %+v", got)
			}
		})
	}
}
