package server

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"go.step.sm/crypto/keyutil"
)

// Files of the local PKI inside the data directory.
const (
	CAFileName        = "ca.pem"
	CAKeyFileName     = "ca-key.pem"
	ServerCertFile    = "server.pem"
	ServerKeyFileName = "server-key.pem"
)

const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a certificate is replaced.
	renewBefore = 30 * 24 * time.Hour
)

// CAFile returns the path of the CA certificate of the data directory dir:
// the certificate clients trust to reach the local service.
func CAFile(dir string) string { return filepath.Join(dir, CAFileName) }

// pki is the loaded CA and server certificate.
type pki struct {
	caCert *x509.Certificate
	caKey  crypto.Signer
	server tls.Certificate
}

// ensurePKI loads the CA and the server certificate of dir, creating or
// re-issuing what is missing, broken, near expiry or (for the server
// certificate) not valid for host. It runs while the database write lock
// is held, so concurrent opens of one data directory do not race.
func ensurePKI(dir, host string, now time.Time) (*pki, bool, error) {
	p := &pki{}
	caPath, caKeyPath := filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName)
	ca, key, err := loadPair(caPath, caKeyPath)
	if err == nil && (!ca.IsCA || now.Add(renewBefore).After(ca.NotAfter)) {
		err = errors.New("the CA is not usable or near expiry")
	}
	changed := false
	if err != nil {
		pair, err := certs.NewRoot(certs.Options{
			CommonName:   "dpsctl Local Provisioning CA",
			Organization: "dpsctl",
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(caValidity),
		})
		if err != nil {
			return nil, false, fmt.Errorf("create CA: %w", err)
		}
		if err := writePairFiles(pair.Cert, pair.Key, caPath, caKeyPath); err != nil {
			return nil, false, err
		}
		ca, key, changed = pair.Cert, pair.Key, true
	}
	p.caCert, p.caKey = ca, key

	srvPath, srvKeyPath := filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFileName)
	srv, srvKey, err := loadPair(srvPath, srvKeyPath)
	if err == nil {
		err = serverCertUsable(srv, ca, host, now)
	}
	if err != nil || changed {
		srv, srvKey, err = issueServerCert(ca, key, host, now)
		if err != nil {
			return nil, false, err
		}
		if err := writePairFiles(srv, srvKey, srvPath, srvKeyPath); err != nil {
			return nil, false, err
		}
		changed = true
	}
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey, Leaf: srv}
	return p, changed, nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cs, err := certs.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := certs.ReadPrivateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if err := certs.KeyMatches(cs[0], key); err != nil {
		return nil, nil, err
	}
	return cs[0], key, nil
}

func serverCertUsable(srv, ca *x509.Certificate, host string, now time.Time) error {
	if err := srv.CheckSignatureFrom(ca); err != nil {
		return err
	}
	if now.Add(renewBefore).After(srv.NotAfter) || now.Before(srv.NotBefore) {
		return errors.New("the server certificate is near expiry")
	}
	for _, h := range []string{host, "localhost", "127.0.0.1"} {
		if err := srv.VerifyHostname(h); err != nil {
			return err
		}
	}
	return nil
}

// issueServerCert makes a TLS server certificate for host, localhost,
// 127.0.0.1 and ::1, signed by the CA.
func issueServerCert(ca *x509.Certificate, caKey crypto.Signer, host string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	dns := []string{"localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			ips = append(ips, ip)
		}
	} else if host != "localhost" {
		dns = append([]string{host}, dns...)
	}
	notAfter := now.Add(serverValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"dpsctl"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue server certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return cert, key, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// writePairFiles replaces the certificate (0644) and key (0600) files
// atomically: each is written to a temporary file and renamed.
func writePairFiles(cert *x509.Certificate, key crypto.Signer, certPath, keyPath string) error {
	keyPEM, err := certs.EncodePrivateKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, []byte(certs.EncodePEM(cert)), 0o644)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
