package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// The enrollment groups' credentials, indexed for device authentication,
// and the small cache of values loaded from the store they live in.

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
