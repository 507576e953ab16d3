package server

import (
	"bytes"
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
	// warning, when set, is worth logging: the CA nears its expiry.
	warning string
}

// pkiMode says what ensurePKI may change on disk.
//
// The CA of an existing instance is what its clients trust, so it is never
// replaced behind their back: a missing or damaged CA is a *PKIError, and
// only regenerate makes a new one. A new instance (its database had no ID
// scope yet) gets a CA and a server certificate written as needed. The
// server certificate is re-issued from the CA when it is missing, damaged,
// near expiry or not valid for the host name, which is normal rotation;
// it is saved only when write is set (the service itself) or on a new
// instance, and otherwise kept in memory, so that only "dpsctl serve"
// writes the PKI files of an existing data directory.
type pkiMode struct {
	newInstance bool
	write       bool
	regenerate  bool
}

// PKIError is a missing or damaged CA file of an existing data directory.
type PKIError struct {
	File   string // the file at fault
	Reason string // what is wrong with it
}

func (e *PKIError) Error() string {
	return fmt.Sprintf("the CA file %s %s; the clients of this data directory trust its CA, so it is not replaced silently: restore the file, or run \"dpsctl serve --regenerate-pki\" to make a new CA and server certificate (clients must then trust the new %s)", e.File, e.Reason, CAFileName)
}

// ensurePKI loads the CA and the server certificate of dir, creating or
// re-issuing what m allows (see pkiMode). It runs while the database
// write lock is held, so concurrent opens of one data directory do not
// race.
func ensurePKI(dir, host string, now time.Time, m pkiMode) (*pki, error) {
	p := &pki{}
	caPath, caKeyPath := filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName)
	var ca *x509.Certificate
	var key crypto.Signer
	var err error
	if !m.regenerate {
		ca, key, err = loadCA(caPath, caKeyPath)
	}
	if err == nil && ca != nil && now.Add(renewBefore).After(ca.NotAfter) {
		switch {
		case m.newInstance:
			ca = nil // nothing trusts it yet: make a new one
		case now.After(ca.NotAfter):
			err = &PKIError{File: caPath, Reason: "expired on " + ca.NotAfter.UTC().Format(time.RFC3339)}
		default:
			p.warning = fmt.Sprintf("the CA %s expires on %s; \"dpsctl serve --regenerate-pki\" makes a new one", caPath, ca.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if err != nil && !m.newInstance {
		return nil, err
	}
	created := false
	if err != nil || ca == nil {
		pair, err := certs.NewRoot(certs.Options{
			CommonName:   "dpsctl Local Provisioning CA",
			Organization: "dpsctl",
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(caValidity),
		})
		if err != nil {
			return nil, fmt.Errorf("create CA: %w", err)
		}
		if err := writePairFiles(pair.Cert, pair.Key, caPath, caKeyPath); err != nil {
			return nil, err
		}
		ca, key, created = pair.Cert, pair.Key, true
	}
	p.caCert, p.caKey = ca, key

	srvPath, srvKeyPath := filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFileName)
	srv, srvKey, err := loadPair(srvPath, srvKeyPath)
	if err == nil {
		err = serverCertUsable(srv, ca, host, now)
	}
	if err != nil || created {
		srv, srvKey, err = issueServerCert(ca, key, host, now)
		if err != nil {
			return nil, err
		}
		if created || m.newInstance || m.write {
			if err := writePairFiles(srv, srvKey, srvPath, srvKeyPath); err != nil {
				return nil, err
			}
		}
	}
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey, Leaf: srv}
	return p, nil
}

// loadCA reads the CA certificate and key, explaining in a *PKIError what
// is wrong with which file.
func loadCA(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certData, certErr := os.ReadFile(certPath)
	keyData, keyErr := os.ReadFile(keyPath)
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		return nil, nil, &PKIError{File: certPath, Reason: "is missing (and so is " + CAKeyFileName + ")"}
	}
	if reason := unreadable(certData, certErr); reason != "" {
		return nil, nil, &PKIError{File: certPath, Reason: reason}
	}
	if reason := unreadable(keyData, keyErr); reason != "" {
		return nil, nil, &PKIError{File: keyPath, Reason: reason}
	}
	cs, err := certs.Parse(certData)
	if err != nil {
		return nil, nil, &PKIError{File: certPath, Reason: "holds no certificate: " + err.Error()}
	}
	if !cs[0].IsCA {
		return nil, nil, &PKIError{File: certPath, Reason: "is not a CA certificate"}
	}
	key, err := certs.ParsePrivateKey(keyData)
	if err != nil {
		return nil, nil, &PKIError{File: keyPath, Reason: "holds no private key: " + err.Error()}
	}
	if certs.KeyMatches(cs[0], key) != nil {
		return nil, nil, &PKIError{File: keyPath, Reason: "is not the key of " + CAFileName}
	}
	return cs[0], key, nil
}

// unreadable describes why a file read as data, err cannot be used, or
// returns "".
func unreadable(data []byte, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "is missing"
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "cannot be read: " + err.Error()
	case len(bytes.TrimSpace(data)) == 0:
		return "is empty"
	}
	return ""
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
