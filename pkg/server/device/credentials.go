package device

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// whose signing certificate (or verified CA reference) it is, enabled
	// groups first.
	byThumb map[string][]*x509Anchor
	// roots holds those certificates: the trust anchors of device chains.
	roots *x509.CertPool
}

type x509Anchor struct {
	group *model.EnrollmentGroup
	cert  *x509.Certificate
	rank  int // the group's place: enabled groups first, then creation order
}

// errNoPath is match's answer when the chain verifies to no group.
var errNoPath = errors.New("the chain leads to no enrollment group's certificate")

func loadGroupIndex(ctx context.Context, st *store.Store) (*groupIndex, error) {
	idx := &groupIndex{byThumb: map[string][]*x509Anchor{}, roots: x509.NewCertPool()}
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
	for rank, g := range groups {
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
				an := &x509Anchor{group: g, cert: c, rank: rank}
				t := certs.Thumbprint(c, crypto.SHA256)
				if len(idx.byThumb[t]) == 0 {
					idx.roots.AddCert(c)
				}
				idx.byThumb[t] = append(idx.byThumb[t], an)
			}
		}
	}
	return idx, nil
}

// match finds the group that decides for a device certificate chain
// (chain[0] is the device's certificate, the rest what it sent with it)
// and returns it with the verified path from the leaf to that group's
// certificate.
//
// The path is built by signatures, by crypto/x509 path validation from the
// leaf to the groups' certificates with every certificate sent as a
// candidate intermediate: neither the order the device sent its chain in
// nor certificates on no path matter. On a verified path the group whose
// certificate is nearest the leaf decides, enabled or disabled, as with the
// service; a group further up the path is never consulted, so a disabled
// intermediate's group cannot be bypassed through its root's. If several
// paths verify (a cross-signed CA), the nearest group on any of them
// decides. Groups sharing one certificate are taken enabled first, then in
// creation order. Validity is checked at now; key usages are left to
// certs.Verify, which checks the path under the service's rules.
func (idx *groupIndex) match(chain []*x509.Certificate, now time.Time) (*x509Anchor, []*x509.Certificate, error) {
	if len(idx.byThumb) == 0 {
		return nil, nil, errNoPath
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	paths, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         idx.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, err
	}
	var (
		best     *x509Anchor
		bestPath []*x509.Certificate
	)
	for _, p := range paths {
		for i := 1; i < len(p); i++ {
			as := idx.byThumb[certs.Thumbprint(p[i], crypto.SHA256)]
			if len(as) == 0 {
				continue
			}
			if d := len(bestPath) - 1; best == nil || i < d || i == d && as[0].rank < best.rank {
				best, bestPath = as[0], p[:i+1]
			}
			break
		}
	}
	if best == nil {
		return nil, nil, errNoPath
	}
	return best, bestPath, nil
}

// snapshotCache holds a value loaded from the store for up to ttl. Every
// request reads it, so a fresh value is read without a lock; loads are
// serialized, and requests that find it stale wait for one load.
type snapshotCache[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)

	cur atomic.Pointer[snapshot[T]] // nil: not loaded, or invalidated
	mu  sync.Mutex                  // held while loading
}

type snapshot[T any] struct {
	val T
	at  time.Time
}

func (c *snapshotCache[T]) get(ctx context.Context) (T, error) {
	if s := c.cur.Load(); s != nil && time.Since(s.at) < c.ttl {
		return s.val, nil
	}
	return c.refresh(ctx, c.ttl)
}

// refresh reloads the value unless it is younger than minAge.
func (c *snapshotCache[T]) refresh(ctx context.Context, minAge time.Duration) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.cur.Load(); s != nil && time.Since(s.at) < minAge {
		return s.val, nil
	}
	v, err := c.load(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	c.cur.Store(&snapshot[T]{val: v, at: time.Now()})
	return v, nil
}

// invalidate makes the next get load again (after a load in progress).
func (c *snapshotCache[T]) invalidate() {
	c.mu.Lock()
	c.cur.Store(nil)
	c.mu.Unlock()
}
