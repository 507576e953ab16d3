// Package certstest makes throw-away PKIs for tests: a root and an
// intermediate CA with device certificates, written as PEM files under
// t.TempDir(). Nothing it makes outlives the test.
package certstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
)

// CA is a root CA and an intermediate CA signed by it, with their files.
type CA struct {
	Dir          string
	Root         *certs.Pair
	Intermediate *certs.Pair

	RootCertPath         string // root certificate, PEM
	RootKeyPath          string // root key, PKCS#8 PEM
	IntermediateCertPath string // intermediate certificate, PEM
	IntermediateKeyPath  string // intermediate key, PKCS#8 PEM
}

// Device is a device certificate with its key and files.
type Device struct {
	*certs.Pair
	RegistrationID string
	// Chain is the device certificate followed by the issuing
	// intermediate (empty for self-signed devices beyond the certificate).
	Chain []*x509.Certificate
	// CertPath holds Chain as PEM; KeyPath the key as PKCS#8 PEM.
	CertPath string
	KeyPath  string
}

// New makes a CA with ECDSA P-256 keys in a fresh temporary directory.
func New(t testing.TB) *CA {
	return NewWithOptions(t, certs.Options{})
}

// NewWithOptions makes a CA whose keys and validity follow opts (the common
// names are fixed: "Test Root CA" and "Test Intermediate CA").
func NewWithOptions(t testing.TB, opts certs.Options) *CA {
	t.Helper()
	dir := t.TempDir()
	ro := opts
	ro.CommonName = "Test Root CA"
	root, err := certs.NewRoot(ro)
	if err != nil {
		t.Fatalf("certstest: root: %v", err)
	}
	io := opts
	io.CommonName = "Test Intermediate CA"
	inter, err := certs.NewIntermediate(root, io)
	if err != nil {
		t.Fatalf("certstest: intermediate: %v", err)
	}
	ca := &CA{
		Dir:                  dir,
		Root:                 root,
		Intermediate:         inter,
		RootCertPath:         filepath.Join(dir, "root.pem"),
		RootKeyPath:          filepath.Join(dir, "root.key"),
		IntermediateCertPath: filepath.Join(dir, "intermediate.pem"),
		IntermediateKeyPath:  filepath.Join(dir, "intermediate.key"),
	}
	if err := certs.WritePair(root, nil, ca.RootCertPath, ca.RootKeyPath, false); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	if err := certs.WritePair(inter, nil, ca.IntermediateCertPath, ca.IntermediateKeyPath, false); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	return ca
}

// Device issues a device certificate for registrationID from the
// intermediate and writes the chain (device, intermediate) and the key to
// <Dir>/<registrationID>.pem and .key.
func (ca *CA) Device(t testing.TB, registrationID string) *Device {
	return ca.DeviceWithOptions(t, registrationID, certs.Options{})
}

// DeviceWithOptions is Device with certificate options (key type, validity).
func (ca *CA) DeviceWithOptions(t testing.TB, registrationID string, opts certs.Options) *Device {
	t.Helper()
	p, err := certs.NewDevice(ca.Intermediate, registrationID, opts)
	if err != nil {
		t.Fatalf("certstest: device %s: %v", registrationID, err)
	}
	return write(t, ca.Dir, registrationID, p, []*x509.Certificate{p.Cert, ca.Intermediate.Cert})
}

// RootDevice issues a device certificate directly from the root.
func (ca *CA) RootDevice(t testing.TB, registrationID string) *Device {
	t.Helper()
	p, err := certs.NewDevice(ca.Root, registrationID, certs.Options{})
	if err != nil {
		t.Fatalf("certstest: device %s: %v", registrationID, err)
	}
	return write(t, ca.Dir, registrationID, p, []*x509.Certificate{p.Cert})
}

// Roots returns the root certificate as a slice, for certs.VerifyOptions.
func (ca *CA) Roots() []*x509.Certificate { return []*x509.Certificate{ca.Root.Cert} }

// Intermediates returns the intermediate certificate as a slice.
func (ca *CA) Intermediates() []*x509.Certificate {
	return []*x509.Certificate{ca.Intermediate.Cert}
}

// SelfSigned makes a self-signed device certificate (as used by individual
// X.509 enrollments) in a fresh temporary directory.
func SelfSigned(t testing.TB, registrationID string) *Device {
	t.Helper()
	p, err := certs.NewDevice(nil, registrationID, certs.Options{})
	if err != nil {
		t.Fatalf("certstest: self-signed %s: %v", registrationID, err)
	}
	return write(t, t.TempDir(), registrationID, p, []*x509.Certificate{p.Cert})
}

// PEM returns the device certificate alone as PEM text.
func (d *Device) PEM() string { return certs.EncodePEM(d.Cert) }

func write(t testing.TB, dir, id string, p *certs.Pair, chain []*x509.Certificate) *Device {
	t.Helper()
	d := &Device{
		Pair:           p,
		RegistrationID: id,
		Chain:          chain,
		CertPath:       filepath.Join(dir, id+".pem"),
		KeyPath:        filepath.Join(dir, id+".key"),
	}
	if err := certs.WritePair(p, chain[1:], d.CertPath, d.KeyPath, true); err != nil {
		t.Fatalf("certstest: %v", err)
	}
	return d
}

// Server makes a self-signed ECDSA P-256 server certificate for names (DNS
// names, or IP addresses written as such), valid for an hour either side of
// now, and a pool that trusts it.
func Server(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("certstest: server key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("certstest: server certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("certstest: server certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
