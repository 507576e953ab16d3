package provisioning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/google/go-tpm/tpm2/transport"
)

// Attester proves a device's identity to the device API. The attesters of
// this package are SymmetricKey, X509 and TPM; an attester may also
// implement CertificateAttester, Challenger, RegistrationPreparer and
// AssignmentHandler.
type Attester interface {
	// Type is the attestation type as spelled on the wire:
	// model.AttestationSymmetricKey, AttestationX509 or AttestationTPM.
	Type() string
	// Authorization returns the Authorization header of requests about
	// registrationID in idScope, valid until expiry, or "" to send none.
	Authorization(ctx context.Context, idScope, registrationID string, expiry time.Time) (string, error)
}

// CertificateAttester presents a TLS client certificate.
type CertificateAttester interface {
	Attester
	// ClientCertificate is the certificate, with its chain, sent in the TLS
	// handshake.
	ClientCertificate() *tls.Certificate
}

// Challenger answers the 401 challenge of TPM attestation: the service
// sends an activation blob, the device imports its key and then signs.
type Challenger interface {
	Attester
	// Reset forgets an earlier challenge; it is called as each
	// registration starts, since the first request carries no proof.
	Reset()
	// Challenge takes the 401 answer to an unauthenticated request.
	Challenge(ctx context.Context, ch *model.TPMChallenge) error
}

// RegistrationPreparer adds attestation data to the register request.
type RegistrationPreparer interface {
	PrepareRegistration(r *model.DeviceRegistration)
}

// AssignmentHandler is told of the result of a successful registration
// before Register returns it.
type AssignmentHandler interface {
	Assigned(ctx context.Context, r *model.DeviceRegistrationResult) error
}

// RegistrationResource returns the sr of a device's registration SAS token:
// "{idScope}/registrations/{registrationId}" URL-encoded ("/" as "%2F"), the
// form the C# and Node TPM clients sign.
func RegistrationResource(idScope, registrationID string) string {
	return strings.ReplaceAll(url.QueryEscape(idScope+"/registrations/"+registrationID), "+", "%20")
}

// SymmetricKey attests with a device key: an individual enrollment's key,
// or for a group device the key derived from the group key.
type SymmetricKey struct {
	key string
}

// NewSymmetricKey returns the attester of a base64 device key.
func NewSymmetricKey(keyB64 string) (*SymmetricKey, error) {
	keyB64 = strings.TrimSpace(keyB64)
	if _, err := base64.StdEncoding.DecodeString(keyB64); err != nil || keyB64 == "" {
		return nil, errors.New("symmetric key is not valid base64")
	}
	return &SymmetricKey{key: keyB64}, nil
}

// NewGroupSymmetricKey returns the attester of a device of a symmetric-key
// enrollment group: its key is derived from the group key and the
// registration ID (sas.DeriveDeviceKey).
func NewGroupSymmetricKey(groupKeyB64, registrationID string) (*SymmetricKey, error) {
	if registrationID == "" {
		return nil, errors.New("a group device key is derived from the registration ID; none given")
	}
	k, err := sas.DeriveDeviceKey(strings.TrimSpace(groupKeyB64), registrationID)
	if err != nil {
		return nil, err
	}
	return &SymmetricKey{key: k}, nil
}

// Type implements Attester.
func (*SymmetricKey) Type() string { return model.AttestationSymmetricKey }

// Key returns the base64 device key, which the IoT hub also knows the
// device by.
func (k *SymmetricKey) Key() string { return k.key }

// Authorization implements Attester: a SAS token with
// sr={idScope}%2Fregistrations%2F{id} and skn=registration.
func (k *SymmetricKey) Authorization(_ context.Context, idScope, registrationID string, expiry time.Time) (string, error) {
	return sas.NewToken(k.key, RegistrationResource(idScope, registrationID), model.DeviceKeyName, expiry)
}

// X509 attests with a TLS client certificate; requests carry no
// Authorization header.
type X509 struct {
	cert tls.Certificate
}

// NewX509 returns the attester of a certificate chain (leaf first) and the
// leaf's private key.
func NewX509(cert tls.Certificate) (*X509, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("no client certificate")
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	if cert.PrivateKey == nil {
		return nil, errors.New("client certificate has no private key")
	}
	return &X509{cert: cert}, nil
}

// LoadX509 reads the device certificate file (PEM or DER; with PEM, the
// certificates after the first are its chain, sent along in the handshake)
// and the private key file.
func LoadX509(certFile, keyFile string) (*X509, error) {
	chain, err := certs.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	key, err := certs.ReadPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	if err := certs.KeyMatches(chain[0], key); err != nil {
		return nil, fmt.Errorf("%s does not hold the key of %s: %w", keyFile, certFile, err)
	}
	tc := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return NewX509(tc)
}

// Type implements Attester.
func (*X509) Type() string { return model.AttestationX509 }

// Authorization implements Attester: X.509 devices send none.
func (*X509) Authorization(context.Context, string, string, time.Time) (string, error) {
	return "", nil
}

// ClientCertificate implements CertificateAttester.
func (x *X509) ClientCertificate() *tls.Certificate { return &x.cert }

// RegistrationID returns the leaf certificate's common name, which is the
// device's registration ID.
func (x *X509) RegistrationID() string { return x.cert.Leaf.Subject.CommonName }

// TPM attests with a TPM's endorsement key. The first register request
// carries the EK and SRK and no proof; the service answers 401 with an
// activation blob whose HMAC key only this TPM can import, and the device
// signs its SAS token with that key. The assigned result carries a second
// blob holding the IoT hub device key, imported in the same way, so the
// hub key never leaves the TPM: Sign then makes the hub's SAS signatures.
//
// The TPM's persistent handle 0x81000100 holds the imported key; each
// registration (and each status lookup answered with a challenge) replaces
// it.
type TPM struct {
	mu        sync.Mutex
	t         transport.TPM
	id        *tpm.Identity
	activated bool
}

// NewTPM reads the EK and SRK of t, creating and persisting them when
// absent, as the device SDKs do.
func NewTPM(t transport.TPM) (*TPM, error) {
	id, err := tpm.ReadIdentity(t, true)
	if err != nil {
		return nil, err
	}
	return &TPM{t: t, id: id}, nil
}

// Identity returns the EK and SRK presented to the service.
func (a *TPM) Identity() *tpm.Identity { return a.id }

// RegistrationID returns the registration ID the device SDKs derive from
// the EK.
func (a *TPM) RegistrationID() string { return a.id.EK.RegistrationID() }

// Type implements Attester.
func (*TPM) Type() string { return model.AttestationTPM }

// PrepareRegistration implements RegistrationPreparer.
func (a *TPM) PrepareRegistration(r *model.DeviceRegistration) {
	r.TPM = &model.TPMAttestation{EndorsementKey: a.id.EK.Base64(), StorageRootKey: a.id.SRKBase64()}
}

// Reset implements Challenger.
func (a *TPM) Reset() {
	a.mu.Lock()
	a.activated = false
	a.mu.Unlock()
}

// Challenge implements Challenger: it imports the blob's HMAC key.
func (a *TPM) Challenge(_ context.Context, ch *model.TPMChallenge) error {
	blob, err := base64.StdEncoding.DecodeString(ch.AuthenticationKey)
	if err != nil {
		return fmt.Errorf("%w: authenticationKey of the TPM challenge is not base64", ErrMalformedResponse)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := tpm.ActivateIdentityKey(a.t, blob); err != nil {
		return fmt.Errorf("TPM challenge: %w", err)
	}
	a.activated = true
	return nil
}

// Authorization implements Attester: none before the challenge, then the
// SAS token signed in the TPM.
func (a *TPM) Authorization(_ context.Context, idScope, registrationID string, expiry time.Time) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.activated {
		return "", nil
	}
	return tpm.SASToken(a.t, idScope, registrationID, expiry)
}

// Assigned implements AssignmentHandler: it imports the IoT hub device key
// from registrationState.tpm.authenticationKey.
func (a *TPM) Assigned(_ context.Context, r *model.DeviceRegistrationResult) error {
	if r.TPM == nil || r.TPM.AuthenticationKey == "" {
		return fmt.Errorf("%w: TPM registration assigned without tpm.authenticationKey", ErrMalformedResponse)
	}
	blob, err := base64.StdEncoding.DecodeString(r.TPM.AuthenticationKey)
	if err != nil {
		return fmt.Errorf("%w: tpm.authenticationKey is not base64", ErrMalformedResponse)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := tpm.ActivateIdentityKey(a.t, blob); err != nil {
		return fmt.Errorf("importing the IoT hub key: %w", err)
	}
	return nil
}

// Sign returns HMAC-SHA256 of data made in the TPM with the imported key:
// after a registration, the IoT hub device key.
func (a *TPM) Sign(data []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return tpm.SignWithIdentityKey(a.t, data)
}
