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
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/store"
	"github.com/dpsctl/dpsctl/pkg/tpm"
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

// authSAS authenticates a SAS token: symmetric-key enrollments and groups,
// and TPM devices after their challenge. register says whether this is a
// register call (a TPM device must then send its keys again).
func (d *deviceAPI) authSAS(ctx context.Context, req *deviceRequest, hdr string, register bool) (*attestation, error) {
	tok, err := d.parseDeviceToken(hdr, req)
	if err != nil {
		return nil, err
	}
	now := d.h.now()
	e, err := d.h.st.Enrollment(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if e != nil && e.Attestation != nil {
		var att *attestation
		var verr error
		switch e.Attestation.Type {
		case model.AttestationSymmetricKey:
			var keys [2]string
			if k := e.Attestation.SymmetricKey; k != nil {
				keys = [2]string{k.PrimaryKey, k.SecondaryKey}
			}
			var key string
			key, verr = verifyKeys(tok, now, keys[:]...)
			if verr == nil {
				att = &attestation{kind: model.AttestationSymmetricKey, authKey: key, hubKeys: keys}
			}
		case model.AttestationTPM:
			att, verr = d.verifyTPMToken(ctx, req, tok, e, register)
		default:
			return nil, unauthorized("%s is enrolled with %s attestation; present its credential instead of a SAS token", describeDevice(req.regID), e.Attestation.Type)
		}
		switch {
		case errors.Is(verr, sas.ErrExpired):
			return nil, expiredToken(tok)
		case verr != nil && !errors.Is(verr, sas.ErrSignature):
			return nil, verr
		case att != nil:
			att.enrollment = e
			att.disabled = e.ProvisioningStatus == model.StatusDisabled
			return att, nil
		case e.ProvisioningStatus != model.StatusDisabled:
			return nil, unauthorized("the SAS token signature does not match the keys of %s", describeDevice(req.regID))
		}
		// A disabled individual enrollment: the device is disabled if a
		// group accepts it.
		ga, err := d.symmetricGroup(ctx, req, tok, now)
		if err != nil {
			return nil, unauthorized("the SAS token signature does not match the keys of %s", describeDevice(req.regID))
		}
		ga.enrollment, ga.group, ga.disabled = e, nil, true
		return ga, nil
	}
	return d.symmetricGroup(ctx, req, tok, now)
}

// symmetricGroup finds the symmetric-key group whose derived key signed tok.
func (d *deviceAPI) symmetricGroup(ctx context.Context, req *deviceRequest, tok *sas.Token, now time.Time) (*attestation, error) {
	for attempt := 0; attempt < 2; attempt++ {
		idx, err := d.creds.index(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		for _, g := range idx.sym {
			k := g.Attestation.SymmetricKey
			var keys [2]string
			for i, gk := range []string{k.PrimaryKey, k.SecondaryKey} {
				if gk == "" {
					continue
				}
				dk, err := sas.DeriveDeviceKey(gk, req.regID)
				if err == nil {
					keys[i] = dk
				}
			}
			key, verr := verifyKeys(tok, now, keys[:]...)
			if errors.Is(verr, sas.ErrExpired) {
				return nil, expiredToken(tok)
			}
			if verr == nil {
				return &attestation{
					kind: model.AttestationSymmetricKey, group: g, authKey: key, hubKeys: keys,
					disabled: g.ProvisioningStatus == model.StatusDisabled,
				}, nil
			}
		}
	}
	return nil, unauthorized("the SAS token signature does not match any enrollment of %s", describeDevice(req.regID))
}

// verifyTPMToken checks a TPM device's token against the key of its last
// challenge.
func (d *deviceAPI) verifyTPMToken(ctx context.Context, req *deviceRequest, tok *sas.Token, e *model.IndividualEnrollment, register bool) (*attestation, error) {
	ek, err := enrolledEK(e)
	if err != nil {
		return nil, err
	}
	key, err := d.h.st.TPMChallenge(ctx, req.regID, d.h.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("%s has no pending TPM challenge; register again without an Authorization header", describeDevice(req.regID))
	}
	if err != nil {
		return nil, err
	}
	k, verr := verifyKeys(tok, d.h.now(), key)
	if verr != nil {
		return nil, verr
	}
	att := &attestation{kind: model.AttestationTPM, authKey: k, ek: ek.TPM2BPublic}
	if !register {
		return att, nil
	}
	t := req.body.TPM
	if t != nil && t.EndorsementKey != "" {
		presented, err := tpm.DecodeEK(t.EndorsementKey)
		if err != nil || !presented.Equal(ek) {
			return nil, unauthorized("the endorsement key does not match the one enrolled for %s", describeDevice(req.regID))
		}
	}
	srk := ""
	if t != nil {
		srk = t.StorageRootKey
	}
	if srk == "" {
		srk = e.Attestation.TPM.StorageRootKey
	}
	if srk == "" {
		return nil, badRequest("tpm.storageRootKey is required")
	}
	if att.srk, err = base64.StdEncoding.DecodeString(srk); err != nil {
		return nil, badRequest("tpm.storageRootKey is not valid base64")
	}
	return att, nil
}

func enrolledEK(e *model.IndividualEnrollment) (*tpm.EK, error) {
	if e.Attestation == nil || e.Attestation.TPM == nil {
		return nil, errorf(model.ErrEnrollmentNotFound, "%s has no TPM enrollment", describeDevice(e.RegistrationID))
	}
	ek, err := tpm.DecodeEK(e.Attestation.TPM.EndorsementKey)
	if err != nil {
		return nil, unauthorized("the endorsement key enrolled for %s is not usable: %v", describeDevice(e.RegistrationID), err)
	}
	return ek, nil
}

// tpmChallenge answers a TPM device's first call: 401 with an activation
// blob wrapping a fresh HMAC key, which is kept to verify the next call.
func (d *deviceAPI) tpmChallenge(ctx context.Context, w http.ResponseWriter, req *deviceRequest) error {
	t := req.body.TPM
	if t.EndorsementKey == "" {
		return badRequest("tpm.endorsementKey is required")
	}
	e, err := d.h.st.Enrollment(ctx, req.regID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (e.Attestation == nil || e.Attestation.Type != model.AttestationTPM) {
		return errorf(model.ErrEnrollmentNotFound, "there is no TPM enrollment for %s", describeDevice(req.regID))
	}
	if err != nil {
		return err
	}
	enrolled, err := enrolledEK(e)
	if err != nil {
		return err
	}
	presented, err := tpm.DecodeEK(t.EndorsementKey)
	if err != nil {
		return unauthorized("tpm.endorsementKey is not a valid endorsement key: %v", err)
	}
	if !presented.Equal(enrolled) {
		return unauthorized("the endorsement key does not match the one enrolled for %s", describeDevice(req.regID))
	}
	srkB64 := t.StorageRootKey
	if srkB64 == "" {
		srkB64 = e.Attestation.TPM.StorageRootKey
	}
	if srkB64 == "" {
		return badRequest("tpm.storageRootKey is required")
	}
	srk, err := base64.StdEncoding.DecodeString(srkB64)
	if err != nil {
		return badRequest("tpm.storageRootKey is not valid base64")
	}
	key := make([]byte, challengeKeyBytes)
	rand.Read(key)
	blob, err := tpm.NewActivationBlob(enrolled.TPM2BPublic, srk, key, nil, nil)
	if err != nil {
		return badRequest("cannot wrap a key for this TPM: %v", err)
	}
	if err := d.h.st.PutTPMChallenge(ctx, req.regID, b64(key), d.h.now().Add(tpmChallengeTTL)); err != nil {
		return err
	}
	writeJSON(w, http.StatusUnauthorized, model.TPMChallenge{
		Message:           "Activate the authentication key in the TPM and register again with a SAS token signed by it.",
		AuthenticationKey: b64(blob),
		KeyName:           model.DeviceKeyName,
	})
	return nil
}

// authX509 authenticates the TLS client certificate chain.
func (d *deviceAPI) authX509(ctx context.Context, req *deviceRequest, chain []*x509.Certificate) (*attestation, error) {
	leaf := chain[0]
	now := d.h.now()
	if !strings.EqualFold(leaf.Subject.CommonName, req.regID) {
		return nil, invalidCertificate("the certificate's CN " + quote(leaf.Subject.CommonName) + " is not the registration ID " + quote(req.regID))
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, invalidCertificate("the certificate is not valid at this time (valid " + leaf.NotBefore.UTC().Format(time.RFC3339) + " to " + leaf.NotAfter.UTC().Format(time.RFC3339) + ")")
	}
	thumb := certs.Thumbprint(leaf, crypto.SHA256)
	e, err := d.h.st.Enrollment(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if e != nil && e.Attestation != nil {
		reason := ""
		if e.Attestation.Type != model.AttestationX509 || e.Attestation.X509 == nil || e.Attestation.X509.ClientCertificates == nil {
			reason = describeDevice(req.regID) + " is enrolled with " + e.Attestation.Type + " attestation"
		} else {
			cc := e.Attestation.X509.ClientCertificates
			var enrolled *x509.Certificate
			for _, c := range []*model.X509CertificateWithInfo{cc.Primary, cc.Secondary} {
				if c != nil && c.Info != nil && strings.EqualFold(c.Info.SHA256Thumbprint, thumb) {
					enrolled = leaf
				}
			}
			if enrolled == nil {
				reason = "the certificate's thumbprint matches neither certificate enrolled for " + describeDevice(req.regID)
			} else if ps := certs.Verify(leaf, certs.VerifyOptions{Intermediates: chain[1:], Roots: []*x509.Certificate{leaf}, RegistrationID: req.regID, At: now}); len(ps) > 0 {
				return nil, invalidCertificate(ps[0].String())
			} else {
				return &attestation{
					kind: model.AttestationX509, enrollment: e, leaf: leaf, thumbprint: thumb,
					disabled: e.ProvisioningStatus == model.StatusDisabled,
				}, nil
			}
		}
		if e.ProvisioningStatus != model.StatusDisabled {
			return nil, invalidCertificate(reason)
		}
		ga, err := d.x509Group(ctx, req, chain, thumb, now)
		if err != nil {
			return nil, invalidCertificate(reason)
		}
		ga.enrollment, ga.group, ga.disabled = e, nil, true
		return ga, nil
	}
	return d.x509Group(ctx, req, chain, thumb, now)
}

// x509Group finds the group whose signing certificate is the most
// specific one in the chain, and verifies the chain to it.
func (d *deviceAPI) x509Group(ctx context.Context, req *deviceRequest, chain []*x509.Certificate, thumb string, now time.Time) (*attestation, error) {
	leaf := chain[0]
	var anchor *x509Anchor
	for attempt := 0; attempt < 2 && anchor == nil; attempt++ {
		idx, err := d.creds.index(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		anchor = idx.match(chain)
	}
	if anchor == nil {
		return nil, invalidCertificate("no enrollment group's signing certificate is in the certificate's chain, and there is no individual enrollment for " + describeDevice(req.regID))
	}
	ps := certs.Verify(leaf, certs.VerifyOptions{Intermediates: chain[1:], Roots: []*x509.Certificate{anchor.cert}, RegistrationID: req.regID, At: now})
	if len(ps) > 0 {
		return nil, invalidCertificate(ps[0].String())
	}
	return &attestation{
		kind: model.AttestationX509, group: anchor.group, leaf: leaf, thumbprint: thumb, signing: anchor.cert,
		disabled: anchor.group.ProvisioningStatus == model.StatusDisabled,
	}, nil
}

func quote(s string) string { return `"` + s + `"` }

// ---- the enrollment group index

// credentialCache keeps the enrollment groups' credentials in memory. It
// is invalidated by every service API write of this process and reloaded
// after credentialTTL (another process may write), or when a device's
// credential matched nothing and the index is older than minReload.
type credentialCache struct {
	snapshotCache[*groupIndex]
}

const (
	credentialTTL = 2 * time.Second
	minReload     = 250 * time.Millisecond
)

func newCredentialCache(st *store.Store) *credentialCache {
	c := &credentialCache{}
	c.ttl = credentialTTL
	c.load = func(ctx context.Context) (*groupIndex, error) { return loadGroupIndex(ctx, st) }
	return c
}

// index returns the group index; retry asks for a fresh one (rate-limited).
func (c *credentialCache) index(ctx context.Context, retry bool) (*groupIndex, error) {
	if retry {
		return c.refresh(ctx, minReload)
	}
	return c.get(ctx)
}

// groupIndex is the enrollment groups by credential.
type groupIndex struct {
	// sym are the symmetric-key groups, enabled ones first.
	sym []*model.EnrollmentGroup
	// byThumb maps an upper-case SHA-256 thumbprint to the X.509 groups
	// whose signing certificate it is (enabled groups first).
	byThumb map[string][]*x509Anchor
	// bySubject maps a raw subject to the same anchors, to find the
	// signing certificate that issued the last certificate presented.
	bySubject map[string][]*x509Anchor
}

type x509Anchor struct {
	group *model.EnrollmentGroup
	cert  *x509.Certificate
}

func loadGroupIndex(ctx context.Context, st *store.Store) (*groupIndex, error) {
	idx := &groupIndex{byThumb: map[string][]*x509Anchor{}, bySubject: map[string][]*x509Anchor{}}
	cas := map[string]*x509.Certificate{} // verified CA certificates by lower-case name
	if cs, err := st.Certificates(ctx); err == nil {
		for _, c := range cs {
			if !c.Verified {
				continue
			}
			if parsed, err := certs.Parse([]byte(c.Certificate)); err == nil {
				cas[strings.ToLower(c.Name)] = parsed[0]
			}
		}
	} else {
		return nil, err
	}
	var groups []*model.EnrollmentGroup
	for after := int64(0); ; {
		page, err := st.ListEnrollmentGroups(ctx, after, store.MaxPageSize)
		if err != nil {
			return nil, err
		}
		groups = append(groups, page.Items...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	// Enabled groups first, keeping the creation order otherwise.
	slices.SortStableFunc(groups, func(a, b *model.EnrollmentGroup) int {
		ad, bd := a.ProvisioningStatus == model.StatusDisabled, b.ProvisioningStatus == model.StatusDisabled
		switch {
		case ad == bd:
			return 0
		case bd:
			return -1
		}
		return 1
	})
	for _, g := range groups {
		a := g.Attestation
		if a == nil {
			continue
		}
		switch {
		case a.Type == model.AttestationSymmetricKey && a.SymmetricKey != nil:
			idx.sym = append(idx.sym, g)
		case a.Type == model.AttestationX509 && a.X509 != nil:
			var anchors []*x509.Certificate
			if sc := a.X509.SigningCertificates; sc != nil {
				for _, c := range []*model.X509CertificateWithInfo{sc.Primary, sc.Secondary} {
					if c == nil || c.Certificate == "" {
						continue
					}
					if parsed, err := certs.ParseWireCertificate(c.Certificate); err == nil {
						anchors = append(anchors, parsed[0])
					}
				}
			}
			if ref := a.X509.CAReferences; ref != nil {
				for _, name := range []string{ref.Primary, ref.Secondary} {
					if c := cas[strings.ToLower(name)]; name != "" && c != nil {
						anchors = append(anchors, c)
					}
				}
			}
			for _, c := range anchors {
				an := &x509Anchor{group: g, cert: c}
				t := certs.Thumbprint(c, crypto.SHA256)
				idx.byThumb[t] = append(idx.byThumb[t], an)
				idx.bySubject[string(c.RawSubject)] = append(idx.bySubject[string(c.RawSubject)], an)
			}
		}
	}
	return idx, nil
}

// match returns the anchor for a presented chain: the group of the first
// certificate after the leaf that is a signing certificate, else a signing
// certificate that issued the last certificate presented.
func (idx *groupIndex) match(chain []*x509.Certificate) *x509Anchor {
	for _, c := range chain[1:] {
		if as := idx.byThumb[certs.Thumbprint(c, crypto.SHA256)]; len(as) > 0 {
			return as[0]
		}
	}
	last := chain[len(chain)-1]
	for _, an := range idx.bySubject[string(last.RawIssuer)] {
		if last.CheckSignatureFrom(an.cert) == nil {
			return an
		}
	}
	return nil
}

// ---- a small cache of a value loaded from the store

// snapshotCache holds a value loaded from the store for up to ttl.
type snapshotCache[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)

	mu  sync.Mutex
	val T
	at  time.Time // zero: not loaded, or invalidated
}

func (c *snapshotCache[T]) get(ctx context.Context) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.val, nil
	}
	return c.reload(ctx)
}

// refresh reloads the value unless it is younger than minAge.
func (c *snapshotCache[T]) refresh(ctx context.Context, minAge time.Duration) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < minAge {
		return c.val, nil
	}
	return c.reload(ctx)
}

func (c *snapshotCache[T]) reload(ctx context.Context) (T, error) {
	v, err := c.load(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	c.val, c.at = v, time.Now()
	return v, nil
}

// invalidate makes the next get load again.
func (c *snapshotCache[T]) invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}
