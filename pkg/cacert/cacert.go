// Package cacert describes the CA certificates of a provisioning service
// and declares Service, what the ca commands manage them through.
//
// A CA certificate is what the caReferences of an X.509 enrollment group
// name. It is unverified when uploaded; the service accepts device chains
// that end at it only once the owner proved possession of its private key:
// the service hands out a verification code, and the owner answers with a
// certificate whose subject CN is that code, signed by the CA's key.
//
// The types carry the JSON of the certificate resource of Azure Resource
// Manager (Microsoft.Devices/provisioningServices/certificates), so "-o
// json" prints what ARM returns. The local provisioning service
// (server.Instance) implements Service on its store; package armca
// implements it on ARM.
package cacert

import (
	"context"
	"errors"
	"fmt"
)

// ResourceType is the ARM type of a CA certificate resource.
const ResourceType = "Microsoft.Devices/provisioningServices/certificates"

// Errors of a Service, matched with errors.Is.
var (
	// ErrNotFound: the service has no certificate of that name.
	ErrNotFound = errors.New("not found")
	// ErrExists: a certificate of that name exists and no etag was given
	// to replace it.
	ErrExists = errors.New("already exists")
	// ErrETagMismatch: the certificate is no longer at the etag given.
	ErrETagMismatch = errors.New("etag does not match")
	// ErrProof: the verification certificate does not prove possession of
	// the CA's key (wrong code, wrong signer, no code issued, or expired).
	ErrProof = errors.New("proof of possession failed")
)

// Service manages the CA certificates of one provisioning service.
type Service interface {
	// List returns the certificates in the order they were added.
	List(ctx context.Context) ([]Certificate, error)
	// Get returns one certificate (ErrNotFound if there is none).
	Get(ctx context.Context, name string) (*Certificate, error)
	// Add uploads a certificate (PEM or DER) under name, unverified. With
	// ifMatch "" the name must be new (ErrExists otherwise); "*" or the
	// certificate's etag replaces an existing one.
	Add(ctx context.Context, name string, certificate []byte, ifMatch string) (*Certificate, error)
	// VerificationCode issues a verification code for the certificate at
	// ifMatch ("*" for any). The certificate's etag changes: Verify needs
	// the new one, which the answer carries.
	VerificationCode(ctx context.Context, name, ifMatch string) (*VerificationCode, error)
	// Verify checks a verification certificate (PEM or DER) against the
	// code issued last and marks the certificate verified (ErrProof when
	// it proves nothing).
	Verify(ctx context.Context, name, ifMatch string, verificationCertificate []byte) (*Certificate, error)
	// Delete removes the certificate at ifMatch ("*" for any).
	Delete(ctx context.Context, name, ifMatch string) error
}

// Certificate is a CA certificate of a provisioning service: ARM's
// CertificateResponse.
type Certificate struct {
	ID         string     `json:"id,omitempty"`
	Name       string     `json:"name"`
	Type       string     `json:"type,omitempty"`
	ETag       string     `json:"etag,omitempty"`
	Properties Properties `json:"properties"`
}

// Properties are the properties of a certificate: ARM's
// CertificateProperties (times in RFC 1123 form, as ARM writes them).
type Properties struct {
	Subject    string `json:"subject,omitempty"`
	Expiry     string `json:"expiry,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"` // SHA-1, upper-case hex
	IsVerified bool   `json:"isVerified"`
	Created    string `json:"created,omitempty"`
	Updated    string `json:"updated,omitempty"`
	// Certificate is the base64 of the certificate as uploaded (PEM text
	// or DER).
	Certificate string `json:"certificate,omitempty"`
}

// VerificationCode is the answer to a request for a verification code:
// ARM's VerificationCodeResponse.
type VerificationCode struct {
	ID         string                     `json:"id,omitempty"`
	Name       string                     `json:"name"`
	Type       string                     `json:"type,omitempty"`
	ETag       string                     `json:"etag,omitempty"`
	Properties VerificationCodeProperties `json:"properties"`
}

// VerificationCodeProperties are the certificate's properties with the
// code.
type VerificationCodeProperties struct {
	VerificationCode string `json:"verificationCode"`
	Properties
}

// ValidateName checks a certificate name as ARM does: 1 to 256 letters,
// digits, '-', '_' and '.'.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("the certificate name is empty")
	}
	if len(name) > 256 {
		return fmt.Errorf("the certificate name is %d characters long; at most 256", len(name))
	}
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("certificate name %q: character %q at %d is not a letter, digit, '-', '_' or '.'", name, c, i+1)
		}
	}
	return nil
}
