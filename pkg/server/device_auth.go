package server

// Device authentication. Which attestation a request uses follows from what
// it carries: an Authorization header is a SAS token (symmetric key, or a
// TPM device's second call), a TLS client certificate is X.509, and a body
// with tpm.endorsementKey but no token starts the TPM challenge.
//
// Precedence follows the service: an individual enrollment for the
// registration ID decides. When the device's credential does not match it,
// the device is refused, except that a disabled individual enrollment also
// disables a device whose credential a group would accept (that is how one
// device of a group is turned off). Without an individual enrollment the
// enrollment groups are searched: symmetric-key groups by the derived key
// (enabled groups first), X.509 groups by the presented chain, most
// specific certificate first.

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// tpmChallengeTTL is how long the key of a TPM challenge stays valid.
const tpmChallengeTTL = 25 * time.Hour

// challengeKeyBytes and hubKeyBytes size the keys wrapped for TPM devices.
const (
	challengeKeyBytes = 32
	hubKeyBytes       = 32
)

// attestation is a device that proved its identity, and the enrollment
// that decides what happens to it.
type attestation struct {
	kind       string // model.AttestationSymmetricKey, X509 or TPM
	enrollment *model.IndividualEnrollment
	group      *model.EnrollmentGroup
	disabled   bool

	authKey string    // SAS: the base64 key that verified
	hubKeys [2]string // symmetric key: the keys the hub device gets

	leaf       *x509.Certificate // X.509
	thumbprint string            // SHA-256 of the leaf
	signing    *x509.Certificate // X.509 group: the matching signing certificate

	ek, srk []byte // TPM: TPM2B_PUBLIC of both keys
}

func (a *attestation) groupID() string {
	if a.group != nil {
		return a.group.EnrollmentGroupID
	}
	return ""
}

// invalidCertificate is the service's answer to any X.509 failure; the
// reason goes to info.reason.
func invalidCertificate(reason string) *apiError {
	return &apiError{code: model.ErrUnauthorized, msg: "Invalid certificate.", info: map[string]string{"reason": reason}}
}

func peerChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

// authenticate proves the device's identity for a register call. For a
// TPM device's first call it writes the challenge and returns nil, nil.
func (d *deviceAPI) authenticate(ctx context.Context, w http.ResponseWriter, req *deviceRequest) (*attestation, error) {
	if req.body.CSR != "" {
		return nil, badRequest("certificate issuance (csr) is not supported by the local provisioning service")
	}
	hdr := strings.TrimSpace(req.r.Header.Get("Authorization"))
	chain := peerChain(req.r)
	switch {
	case hdr != "":
		return d.authSAS(ctx, req, hdr, true)
	case len(chain) > 0:
		return d.authX509(ctx, req, chain)
	case req.body.TPM != nil:
		return nil, d.tpmChallenge(ctx, w, req)
	}
	return nil, unauthorized("no credentials: send a SAS token (symmetric key, TPM), a TLS client certificate (X.509) or tpm.endorsementKey (TPM)")
}

// authenticateAgain checks a poll or status lookup: first against the
// credential the device registered with, then (for a status lookup after
// key rotation, say) by a full authentication without TPM challenge.
func (d *deviceAPI) authenticateAgain(ctx context.Context, req *deviceRequest, reg *store.Registration) (*attestation, error) {
	hdr := strings.TrimSpace(req.r.Header.Get("Authorization"))
	chain := peerChain(req.r)
	now := d.h.now()
	if reg != nil {
		switch {
		case hdr != "" && len(reg.AuthKeys) > 0:
			tok, err := d.parseDeviceToken(hdr, req)
			if err != nil {
				return nil, err
			}
			_, err = verifyKeys(tok, now, reg.AuthKeys...)
			if errors.Is(err, sas.ErrExpired) {
				return nil, expiredToken(tok)
			}
			if err == nil {
				return &attestation{}, nil
			}
		case hdr == "" && len(chain) > 0 && reg.AuthThumbprint != "":
			leaf := chain[0]
			if strings.EqualFold(certs.Thumbprint(leaf, crypto.SHA256), reg.AuthThumbprint) {
				if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
					return nil, invalidCertificate("the certificate is not valid at this time")
				}
				return &attestation{}, nil
			}
		}
	}
	switch {
	case hdr != "":
		return d.authSAS(ctx, req, hdr, false)
	case len(chain) > 0:
		return d.authX509(ctx, req, chain)
	}
	return nil, unauthorized("no credentials: send the SAS token or the client certificate the device registered with")
}

// parseDeviceToken parses a device SAS token and checks its audience and
// key name. The signature is checked later, over sr exactly as sent.
func (d *deviceAPI) parseDeviceToken(hdr string, req *deviceRequest) (*sas.Token, error) {
	tok, err := sas.ParseToken(hdr)
	if err != nil {
		return nil, unauthorized("the Authorization header is not a valid SharedAccessSignature token: %v", err)
	}
	want := d.idScope + "/registrations/" + req.regID
	if !strings.EqualFold(strings.Trim(tok.Resource, "/"), want) {
		return nil, unauthorized("the SAS token's sr %q does not name this registration (%s)", tok.Resource, want)
	}
	if tok.KeyName != "" && !strings.EqualFold(tok.KeyName, model.DeviceKeyName) {
		return nil, unauthorized("the SAS token's skn %q is not %q", tok.KeyName, model.DeviceKeyName)
	}
	return tok, nil
}

// verifyKeys tries the token with each non-empty key and returns the one
// that verified. The error is sas.ErrExpired when a key verified but the
// token expired, sas.ErrSignature when none verified.
func verifyKeys(tok *sas.Token, now time.Time, keys ...string) (string, error) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		switch err := tok.Verify(k, now); {
		case err == nil:
			return k, nil
		case errors.Is(err, sas.ErrExpired):
			return k, err
		}
	}
	return "", sas.ErrSignature
}

func expiredToken(tok *sas.Token) error {
	return unauthorized("the SAS token expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
}

func quote(s string) string { return `"` + s + `"` }
