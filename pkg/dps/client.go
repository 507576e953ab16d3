// Package dps is a client for the Azure IoT Hub Device Provisioning Service
// service API (enrollments, enrollment groups, registration states).
//
// It speaks the DPS REST contract (api-version 2021-10-01) to Azure or to any
// DPS-compatible service, authenticating with SAS tokens from a service
// connection string or with bearer tokens of Microsoft Entra ID (through an
// Authorizer, so this package stays free of any identity library). Transient failures (429, 5xx, network errors) are
// retried with backoff, honouring Retry-After; every call takes a context.
package dps

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/jsonfmt"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	fastjson "github.com/segmentio/encoding/json"
)

// Options configures a Client.
type Options struct {
	// Endpoint is "https://host[:port]". Derived from ConnectionString when empty.
	Endpoint string
	// ConnectionString is a DPS service connection string
	// (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…).
	ConnectionString string
	// Authorizer, when set, gives the Authorization header of every request
	// instead of SAS tokens of ConnectionString: a bearer token source, say.
	// Endpoint is then required unless ConnectionString names the host.
	Authorizer Authorizer
	// HTTPClient carries the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// APIVersion defaults to model.APIVersion.
	APIVersion string
	// MaxRetries bounds retries of transient failures; 0 means the default (4),
	// a negative value disables retries.
	MaxRetries int
	// UserAgent is sent with every request.
	UserAgent string
	// TokenLifetime is how long each SAS token is valid (default 1 h).
	TokenLifetime time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Sleep waits between retries; defaults to a context-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultMaxRetries is used when Options.MaxRetries is zero.
const DefaultMaxRetries = 4

// MaxRetryDelay caps any single wait between retries.
const MaxRetryDelay = 60 * time.Second

// Client calls the DPS service API. It is safe for concurrent use.
type Client struct {
	base       string // scheme://host[:port]
	host       string // host without port
	hc         *http.Client
	apiVersion string
	maxRetries int
	userAgent  string
	auth       Authorizer
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
}

// Authorizer gives the Authorization header value of a request. It is
// called for every request, attempts of a retry included, so it should
// cache what it gives and renew it before it expires. It may also
// implement Hinter.
type Authorizer interface {
	Authorization(ctx context.Context) (string, error)
}

// Hinter is implemented by an Authorizer that can say what to do when the
// service refuses its credential (401 or 403): sign in, get a role.
type Hinter interface {
	UnauthorizedHint() string
}

// HintedError is a service answer together with what to do about it. Its
// message is the answer's; Hint says the rest.
type HintedError struct {
	Err  error
	hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// Hint says what to do about the error.
func (e *HintedError) Hint() string { return e.hint }

// sasAuthorizer signs SAS tokens with the key of a connection string,
// reusing a token until five minutes before it expires.
type sasAuthorizer struct {
	cs       sas.ConnectionString
	lifetime time.Duration
	now      func() time.Time

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

func (a *sasAuthorizer) Authorization(context.Context) (string, error) {
	if a.cs.Signature != "" {
		return a.cs.Signature, nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && now.Add(5*time.Minute).Before(a.tokenExp) {
		return a.token, nil
	}
	exp := now.Add(a.lifetime)
	tok, err := sas.NewToken(a.cs.Key, a.cs.HostName, a.cs.KeyName, exp)
	if err != nil {
		return "", err
	}
	a.token, a.tokenExp = tok, exp
	return tok, nil
}

// New builds a Client.
func New(opts Options) (*Client, error) {
	c := &Client{
		hc:         opts.HTTPClient,
		apiVersion: opts.APIVersion,
		maxRetries: opts.MaxRetries,
		userAgent:  opts.UserAgent,
		auth:       opts.Authorizer,
		now:        opts.Now,
		sleep:      opts.Sleep,
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.apiVersion == "" {
		c.apiVersion = model.APIVersion
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.userAgent == "" {
		c.userAgent = "dpsctl"
	}
	lifetime := opts.TokenLifetime
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = apierr.Wait
	}
	endpoint := opts.Endpoint
	if opts.ConnectionString != "" {
		cs, err := sas.ParseConnectionString(opts.ConnectionString)
		if err != nil {
			return nil, err
		}
		if c.auth == nil {
			c.auth = &sasAuthorizer{cs: cs, lifetime: lifetime, now: c.now}
		}
		if endpoint == "" {
			endpoint = "https://" + cs.HostName
		}
	}
	if endpoint == "" {
		return nil, errors.New("dps: no endpoint: give a connection string or an endpoint")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("dps: endpoint %q is not an http(s) URL with a host", endpoint)
	}
	c.base = u.Scheme + "://" + u.Host
	c.host = u.Hostname()
	return c, nil
}

// Host returns the service host name, without port.
func (c *Client) Host() string { return c.host }

// Endpoint returns scheme://host[:port].
func (c *Client) Endpoint() string { return c.base }

// authorization returns the Authorization header value, "" without an
// Authorizer.
func (c *Client) authorization(ctx context.Context) (string, error) {
	if c.auth == nil {
		return "", nil
	}
	return c.auth.Authorization(ctx)
}

// request describes one API call.
type request struct {
	method  string
	path    string // already escaped
	header  map[string]string
	body    []byte
	hasBody bool
}

// response is what the caller of do gets back on success.
type response struct {
	status int
	header http.Header
	body   []byte
}

func pathEscape(id string) string {
	// encodeURIComponent-compatible: escape everything but unreserved marks.
	return strings.ReplaceAll(url.PathEscape(id), ":", "%3A")
}

func (c *Client) do(ctx context.Context, r request) (*response, error) {
	u := c.base + r.path + "?api-version=" + url.QueryEscape(c.apiVersion)
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, u, r)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !retryable(err) || attempt >= c.maxRetries {
			return nil, lastErr
		}
		var d time.Duration
		var e *Error
		if errors.As(err, &e) {
			d = e.RetryAfter
		}
		if d <= 0 {
			d = backoff(attempt)
		}
		if d > MaxRetryDelay {
			d = MaxRetryDelay
		}
		if serr := c.sleep(ctx, d); serr != nil {
			return nil, serr
		}
	}
}

func backoff(attempt int) time.Duration {
	base := 250 * time.Millisecond << min(attempt, 7)
	// Full jitter between base/2 and base.
	return base/2 + time.Duration(rand.Int64N(int64(base/2)+1))
}

func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		switch e.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var te *transportError
	if !errors.As(err, &te) {
		return false
	}
	// A server the client does not trust will not become trusted by asking again.
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) || errors.As(err, &rhe) {
		return false
	}
	return true
}

// maxResponseBytes bounds what is read of an answer.
const maxResponseBytes = 64 << 20

// readBody reads at most limit bytes of r into a buffer sized from the
// Content-Length, when it is known and within limit, rather than grown as
// io.ReadAll grows it (a query page is read into one allocation).
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(io.LimitReader(r, limit))
	}
	buf := bytes.NewBuffer(make([]byte, 0, contentLength+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(r, limit))
	return buf.Bytes(), err
}

// transportError wraps a failure to get any HTTP answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func (c *Client) once(ctx context.Context, u string, r request) (*response, error) {
	var body io.Reader
	if r.hasBody {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	auth, err := c.authorization(ctx)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.hasBody {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{fmt.Errorf("%s %s: %w", r.method, r.path, err)}
	}
	defer res.Body.Close()
	data, err := readBody(res.Body, res.ContentLength, maxResponseBytes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{fmt.Errorf("%s %s: reading response: %w", r.method, r.path, err)}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return &response{status: res.StatusCode, header: res.Header, body: data}, nil
	}
	err = apierr.Decode(r.method, r.path, res, data, c.now())
	if h, ok := c.auth.(Hinter); ok && (res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden) {
		if hint := h.UnauthorizedHint(); hint != "" {
			return nil, &HintedError{Err: err, hint: hint}
		}
	}
	return nil, err
}

// Bodies are encoded and decoded with github.com/segmentio/encoding/json,
// which gives encoding/json's output and semantics at a fraction of the
// cost: an import encodes every enrollment, a list decodes every one.
func marshal(v any) ([]byte, error) {
	if b, ok := jsonfmt.Marshal(v); ok {
		return b, nil // an enrollment or group: json.Marshal's bytes, one pass
	}
	b, err := fastjson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("dps: encoding request: %w", err)
	}
	return b, nil
}

func decode[T any](r *response, what string) (*T, error) {
	var v T
	if err := fastjson.Unmarshal(r.body, &v); err != nil {
		return nil, fmt.Errorf("dps: decoding %s: %w", what, err)
	}
	return &v, nil
}

func ifMatchHeader(etag string) map[string]string {
	if etag == "" {
		return nil
	}
	return map[string]string{"If-Match": etag}
}
