package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// authorize checks the request's SAS token and that its policy grants right.
//
// The token's signature covers its sr exactly as sent. The decoded sr must
// name this service: the configured host name, with or without a port,
// case-insensitively, optionally followed by a path that is a segment
// prefix of the request path. The Host the request was sent to does not
// count: the caller chooses it, so it cannot say whom a token is for. The
// policy is looked up by skn and the signature tried with its primary, then
// its secondary key; tokens are accepted up to sas.MaxClockSkew past
// expiry.
func (h *API) authorize(r *http.Request, right string) error {
	hdr := strings.TrimSpace(r.Header.Get("Authorization"))
	if hdr == "" {
		return httpapi.Unauthorized("the Authorization header is missing; send a SharedAccessSignature token")
	}
	tok, err := sas.ParseToken(hdr)
	if err != nil {
		return httpapi.Unauthorized("the Authorization header is not a valid SharedAccessSignature token: %v", err)
	}
	if tok.KeyName == "" {
		return httpapi.Unauthorized("the SAS token has no skn (shared access policy name)")
	}
	if !h.audienceMatches(tok.Resource, r) {
		return httpapi.Unauthorized("the SAS token's sr %q does not name this service (%s)", tok.Resource, h.hostName())
	}
	now := h.now()
	p, err := h.policies.verify(r.Context(), tok, now)
	if err != nil {
		return err
	}
	if !p.HasRight(right) {
		return httpapi.Unauthorized("shared access policy %q does not have the %s right", p.Name, right)
	}
	return nil
}

// audienceMatches reports whether the decoded sr names this service (its
// configured host name, whatever r.Host says) and a path prefix of the
// request.
func (h *API) audienceMatches(sr string, r *http.Request) bool {
	sr = strings.ToLower(strings.TrimSpace(sr))
	sr = strings.TrimPrefix(sr, "https://")
	host, path, _ := strings.Cut(sr, "/")
	host = httpapi.StripPort(host)
	if host == "" || host != strings.ToLower(httpapi.StripPort(h.hostName())) {
		return false
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return true
	}
	reqPath := strings.ToLower(strings.Trim(r.URL.Path, "/"))
	return reqPath == path || strings.HasPrefix(reqPath, path+"/")
}

// policyCache keeps the shared access policies in memory. Another process
// may change them, so the cache is refreshed after policyTTL and whenever a
// token names an unknown policy or fails its signature check (a failure
// costs one read of the small policies table).
type policyCache struct {
	st *store.Store

	mu     sync.Mutex
	byName map[string]store.Policy // lower-cased name
	loaded time.Time               // zero: never loaded
}

const policyTTL = 2 * time.Second

func (c *policyCache) lookup(ctx context.Context, name string, refresh bool) (store.Policy, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	age := time.Since(c.loaded)
	if c.loaded.IsZero() || age > policyTTL || refresh {
		ps, err := c.st.Policies(ctx)
		if err != nil {
			return store.Policy{}, false, err
		}
		m := make(map[string]store.Policy, len(ps))
		for _, p := range ps {
			m[strings.ToLower(p.Name)] = p
		}
		c.byName, c.loaded = m, time.Now()
	}
	p, ok := c.byName[strings.ToLower(name)]
	return p, ok, nil
}

// verify finds the token's policy and checks the signature against its keys.
func (c *policyCache) verify(ctx context.Context, tok *sas.Token, now time.Time) (store.Policy, error) {
	for attempt := 0; ; attempt++ {
		refresh := attempt > 0
		p, ok, err := c.lookup(ctx, tok.KeyName, refresh)
		if err != nil {
			return store.Policy{}, err
		}
		var verr error = errUnknownPolicy
		if ok {
			verr = tok.Verify(p.PrimaryKey, now)
			if errors.Is(verr, sas.ErrSignature) {
				verr = tok.Verify(p.SecondaryKey, now)
			}
		}
		switch {
		case verr == nil:
			return p, nil
		case errors.Is(verr, sas.ErrExpired):
			return store.Policy{}, httpapi.Unauthorized("the SAS token expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
		case attempt == 0:
			continue // the policies may have changed in another process
		case errors.Is(verr, errUnknownPolicy):
			return store.Policy{}, httpapi.Unauthorized("there is no shared access policy named %q", tok.KeyName)
		default:
			return store.Policy{}, httpapi.Unauthorized("the SAS token signature does not match policy %q", tok.KeyName)
		}
	}
}

var errUnknownPolicy = errors.New("unknown policy")

// Policy returns the name of the shared access policy whose SAS token in
// r's Authorization header verifies (signature, audience and expiry), for
// per-policy quotas; ok is false when none does.
func (h *API) Policy(r *http.Request) (name string, ok bool) {
	tok, err := sas.ParseToken(strings.TrimSpace(r.Header.Get("Authorization")))
	if err != nil || tok.KeyName == "" || !h.audienceMatches(tok.Resource, r) {
		return "", false
	}
	p, err := h.policies.verify(r.Context(), tok, h.now())
	if err != nil {
		return "", false
	}
	return strings.ToLower(p.Name), true
}
