package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"go.step.sm/crypto/keyutil"
)

// KeyType selects the key algorithm of a new certificate.
type KeyType string

// Key types.
const (
	KeyECDSA KeyType = "ecdsa" // NIST P-256 (the default)
	KeyRSA   KeyType = "rsa"   // 2048, 3072 or 4096 bits
)

// Default lifetimes of issued certificates.
const (
	DefaultCAValidity     = 5 * 365 * 24 * time.Hour
	DefaultDeviceValidity = 365 * 24 * time.Hour
)

// Options tune a certificate made by NewRoot, NewIntermediate, NewDevice and
// NewVerificationCertificate. The zero value is usable.
type Options struct {
	// CommonName of roots and intermediates (devices use their registration ID).
	CommonName string
	// Organization, if set, is added to the subject.
	Organization string
	// KeyType is KeyECDSA (default) or KeyRSA.
	KeyType KeyType
	// RSABits is the RSA modulus size: 2048 (default), 3072 or 4096.
	RSABits int
	// NotBefore defaults to one minute before now.
	NotBefore time.Time
	// NotAfter defaults to NotBefore plus the default validity.
	NotAfter time.Time
	// MaxPathLen limits CA certificates: -1 or 0 means unlimited unless
	// MaxPathLenZero is set.
	MaxPathLen     int
	MaxPathLenZero bool
}

// Pair is a certificate with its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// GenerateKey creates a private key as selected by opts.
func GenerateKey(opts Options) (crypto.Signer, error) {
	switch opts.KeyType {
	case "", KeyECDSA, "ec":
		return keyutil.GenerateSigner("EC", "P-256", 0)
	case KeyRSA:
		bits := opts.RSABits
		if bits == 0 {
			bits = 2048
		}
		switch bits {
		case 2048, 3072, 4096:
		default:
			return nil, fmt.Errorf("RSA key size %d is not supported (use 2048, 3072 or 4096)", bits)
		}
		return keyutil.GenerateSigner("RSA", "", bits)
	}
	return nil, fmt.Errorf("unknown key type %q (use %s or %s)", opts.KeyType, KeyECDSA, KeyRSA)
}

func (o Options) window(def time.Duration) (time.Time, time.Time, error) {
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	na := o.NotAfter
	if na.IsZero() {
		na = nb.Add(def)
	}
	if !na.After(nb) {
		return time.Time{}, time.Time{}, fmt.Errorf("not-after %s is not later than not-before %s", na.UTC().Format(time.RFC3339), nb.UTC().Format(time.RFC3339))
	}
	return nb.UTC(), na.UTC(), nil
}

func (o Options) subject(cn string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	if o.Organization != "" {
		n.Organization = []string{o.Organization}
	}
	return n
}

func issue(tmpl *x509.Certificate, parent *Pair, key crypto.Signer) (*Pair, error) {
	parentCert, parentKey := tmpl, key
	if parent != nil {
		if parent.Cert == nil || parent.Key == nil {
			return nil, fmt.Errorf("the issuing CA needs both a certificate and a key")
		}
		parentCert, parentKey = parent.Cert, parent.Key
		if err := KeyMatches(parent.Cert, parent.Key); err != nil {
			return nil, err
		}
	}
	c, err := createCertificate(tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: c, Key: key}, nil
}

// createCertificate signs tmpl, filling in a random serial number and the
// subject key identifier when they are unset.
func createCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	t := *tmpl
	if t.SerialNumber == nil {
		// 128 random bits, positive, as RFC 5280 and the CA/B rules expect.
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil {
			return nil, err
		}
		t.SerialNumber = n.Add(n, big.NewInt(1))
	}
	if t.SubjectKeyId == nil {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(der, &spki); err != nil {
			return nil, err
		}
		// RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
		sum := sha1.Sum(spki.PublicKey.Bytes)
		t.SubjectKeyId = sum[:]
	}
	if parent == tmpl {
		parent = &t
	}
	der, err := x509.CreateCertificate(rand.Reader, &t, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("creating the certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func caTemplate(cn string, opts Options) (*x509.Certificate, error) {
	nb, na, err := opts.window(DefaultCAValidity)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		Subject:               opts.subject(cn),
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            opts.MaxPathLen,
		MaxPathLenZero:        opts.MaxPathLenZero,
	}, nil
}

// NewRoot makes a self-signed root CA. The common name defaults to
// "dpsctl Test Root CA".
func NewRoot(opts Options) (*Pair, error) {
	cn := opts.CommonName
	if cn == "" {
		cn = "dpsctl Test Root CA"
	}
	key, err := GenerateKey(opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := caTemplate(cn, opts)
	if err != nil {
		return nil, err
	}
	return issue(tmpl, nil, key)
}

// NewIntermediate makes an intermediate CA signed by parent. The common name
// defaults to "dpsctl Test Intermediate CA".
func NewIntermediate(parent *Pair, opts Options) (*Pair, error) {
	if parent == nil {
		return nil, fmt.Errorf("an intermediate CA needs a parent CA")
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "dpsctl Test Intermediate CA"
	}
	key, err := GenerateKey(opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := caTemplate(cn, opts)
	if err != nil {
		return nil, err
	}
	return issue(tmpl, parent, key)
}

// ValidateRegistrationID checks id as an X.509 registration ID: the DPS ID
// rules plus the 64-character limit of a certificate common name.
func ValidateRegistrationID(id string) error {
	if err := model.ValidateID(id); err != nil {
		return err
	}
	if len(id) > model.MaxX509IDLength {
		return fmt.Errorf("ID is %d characters long; an X.509 registration ID (the certificate CN) is limited to %d", len(id), model.MaxX509IDLength)
	}
	return nil
}

// NewDevice makes a device (leaf) certificate with CN = registrationID, the
// client-auth extended key usage and digitalSignature key usage, signed by
// parent, or self-signed when parent is nil.
func NewDevice(parent *Pair, registrationID string, opts Options) (*Pair, error) {
	if err := ValidateRegistrationID(registrationID); err != nil {
		return nil, fmt.Errorf("registration ID %q: %w", registrationID, err)
	}
	key, err := GenerateKey(opts)
	if err != nil {
		return nil, err
	}
	nb, na, err := opts.window(DefaultDeviceValidity)
	if err != nil {
		return nil, err
	}
	ku := x509.KeyUsageDigitalSignature
	if opts.KeyType == KeyRSA {
		ku |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		Subject:               opts.subject(registrationID),
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	return issue(tmpl, parent, key)
}

// NewVerificationCertificate makes the proof-of-possession certificate for a
// CA: a fresh key pair, subject CN = code (the verification code the service
// generated), signed by caKey as ca.
func NewVerificationCertificate(ca *x509.Certificate, caKey crypto.Signer, code string) (*Pair, error) {
	if code == "" {
		return nil, fmt.Errorf("the verification code is empty")
	}
	if len(code) > 64 {
		return nil, fmt.Errorf("the verification code is %d characters long; a common name is limited to 64", len(code))
	}
	if ca == nil || caKey == nil {
		return nil, fmt.Errorf("a verification certificate needs the CA certificate and its private key")
	}
	key, err := GenerateKey(Options{})
	if err != nil {
		return nil, err
	}
	nb, na, err := Options{}.window(30 * 24 * time.Hour)
	if err != nil {
		return nil, err
	}
	if na.After(ca.NotAfter) {
		na = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: code},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	return issue(tmpl, &Pair{Cert: ca, Key: caKey}, key)
}
