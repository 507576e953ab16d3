package device

// Device authentication. Which attestation a request uses follows from what
// it carries: an Authorization header is a SAS token (symmetric key, or a
// TPM device's second call), a TLS client certificate is X.509, and a body
// with tpm.endorsementKey but no token starts the TPM challenge. A request
// with a token or a certificate is authenticated before its body is read;
// only a TPM device's first call is read first, within MaxBodyBytes.
//
// Precedence follows the service: an individual enrollment for the
// registration ID decides. When the device's credential does not match it,
// the device is refused, except that a disabled individual enrollment also
// disables a device whose credential a group would accept (that is how one
// device of a group is turned off). Without an individual enrollment the
// enrollment groups are searched: symmetric-key groups by the derived key
// (enabled groups first), X.509 groups by the chain verified from the
// device certificate to a group's certificate (see groupIndex.match).
//
// A refused device learns nothing about the enrollments: every failed
// authentication is the same 401 ("Unauthorized.", or "Invalid
// certificate." for X.509, as the service words it), and a TPM challenge
// for an ID without a TPM enrollment with that endorsement key is the same
// 404 as for an unknown ID. The precise reason goes to the server log.
//
// A TPM challenge key is valid for TPMChallengeTTL (5 minutes) and for one
// registration: it is consumed when the device's second call is accepted,
// so a replayed token is refused and cannot rotate the device's hub key.
// Polls and status lookups of that registration keep working with it: the
// registration record keeps the keys the device authenticated with.

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// TPMChallengeTTL is how long the key of a TPM challenge stays valid: long
// enough for a device to activate the blob and call again, short enough
// that a captured challenge is soon useless.
const TPMChallengeTTL = 5 * time.Minute

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

	ek, srk   []byte // TPM: TPM2B_PUBLIC of both keys
	challenge string // TPM register call: the challenge key to consume
}

func (a *attestation) groupID() string {
	if a.group != nil {
		return a.group.EnrollmentGroupID
	}
	return ""
}

// invalidCertificate is the service's answer to any X.509 failure; the
// reason is kept for the server log only.
func invalidCertificate(reason string) *httpapi.Error {
	return &httpapi.Error{Code: model.ErrUnauthorized, Msg: invalidCertificateMessage, Detail: reason}
}

// invalidCertificateMessage is the one message of a refused certificate.
const invalidCertificateMessage = "Invalid certificate."

// errCSR refuses certificate issuance.
func errCSR() error {
	return httpapi.BadRequest("certificate issuance (csr) is not supported by the local provisioning service")
}

// authenticate proves the device's identity for a register call and reads
// the body: after the token or certificate is verified, or, for a TPM
// device's first call (no token, no certificate), to find its endorsement
// key. For that first call it returns no attestation but the challenge.
func (d *API) authenticate(ctx context.Context, req *deviceRequest) (*attestation, Response, error) {
	hdr := strings.TrimSpace(req.cred.SASToken)
	chain := req.cred.Chain
	var (
		att *attestation
		err error
	)
	switch {
	case hdr != "":
		att, err = d.authSAS(ctx, req, hdr, true)
	case len(chain) > 0:
		att, err = d.authX509(ctx, req, chain)
	default:
		if err := d.readBody(req); err != nil {
			return nil, Response{}, err
		}
		if req.body.CSR != "" {
			return nil, Response{}, errCSR()
		}
		if req.body.TPM != nil {
			if req.cred.NoTPM {
				return nil, Response{}, ErrTPMNeedsHTTPS
			}
			challenge, err := d.tpmChallenge(ctx, req)
			return nil, challenge, err
		}
		return nil, Response{}, httpapi.Denied("%s sent no credentials: no SAS token, TLS client certificate or tpm.endorsementKey", describeDevice(req.regID))
	}
	if err != nil {
		return nil, Response{}, err
	}
	if err := d.readBody(req); err != nil {
		return nil, Response{}, err
	}
	if req.body.CSR != "" {
		return nil, Response{}, errCSR()
	}
	if att.challenge != "" {
		if err := d.acceptTPM(ctx, req, att); err != nil {
			return nil, Response{}, err
		}
	}
	return att, Response{}, nil
}

// authenticateAgain checks a poll or status lookup: first against the
// credential the device registered with, then (for a status lookup after
// key rotation, say) by a full authentication without TPM challenge.
func (d *API) authenticateAgain(ctx context.Context, req *deviceRequest, reg *store.Registration) (*attestation, error) {
	hdr := strings.TrimSpace(req.cred.SASToken)
	chain := req.cred.Chain
	now := d.now()
	if reg != nil {
		switch {
		case hdr != "" && len(reg.AuthKeys) > 0:
			tok, err := d.parseDeviceToken(hdr, req)
			if err != nil {
				return nil, err
			}
			_, err = httpapi.VerifyKeys(tok, now, reg.AuthKeys...)
			if errors.Is(err, sas.ErrExpired) {
				return nil, expiredToken(req, tok)
			}
			if err == nil {
				return &attestation{}, nil
			}
		case hdr == "" && len(chain) > 0 && reg.AuthThumbprint != "":
			leaf := chain[0]
			if strings.EqualFold(certs.Thumbprint(leaf, crypto.SHA256), reg.AuthThumbprint) {
				if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
					return nil, invalidCertificate("the certificate of " + describeDevice(req.regID) + " is not valid at this time")
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
	return nil, httpapi.Denied("%s sent no credentials: no SAS token or TLS client certificate", describeDevice(req.regID))
}

// parseDeviceToken parses a device SAS token and checks its audience and
// key name. The signature is checked later, over sr exactly as sent.
func (d *API) parseDeviceToken(hdr string, req *deviceRequest) (*sas.Token, error) {
	tok, err := sas.ParseToken(hdr)
	if err != nil {
		// The parser's reason may quote a field of the token: not logged.
		return nil, httpapi.Denied("%s: the Authorization header is not a valid SharedAccessSignature token", describeDevice(req.regID))
	}
	want := d.idScope + "/registrations/" + req.regID
	if !strings.EqualFold(strings.Trim(tok.Resource, "/"), want) {
		return nil, httpapi.Denied("%s: the SAS token's sr %q does not name this registration (%s)", describeDevice(req.regID), tok.Resource, want)
	}
	if tok.KeyName != "" && !strings.EqualFold(tok.KeyName, model.DeviceKeyName) {
		return nil, httpapi.Denied("%s: the SAS token's skn %q is not %q", describeDevice(req.regID), tok.KeyName, model.DeviceKeyName)
	}
	return tok, nil
}

func expiredToken(req *deviceRequest, tok *sas.Token) error {
	return httpapi.Denied("%s: the SAS token expired at %s", describeDevice(req.regID), tok.Expiry.UTC().Format(time.RFC3339))
}

func quote(s string) string { return `"` + s + `"` }
