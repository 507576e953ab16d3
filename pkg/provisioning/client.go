// Package provisioning is a device's client of the DPS device registration
// API over HTTPS: register (PUT /{idScope}/registrations/{id}/register),
// poll the operation until it ends (GET …/operations/{operationId},
// honouring Retry-After), and look up the registration status
// (POST /{idScope}/registrations/{id}).
//
// The device proves its identity with an Attester: a symmetric key (a SAS
// token), an X.509 certificate (mutual TLS) or a TPM (the 401 challenge of
// TPM attestation). The same client works against Azure DPS
// (global.azure-devices-provisioning.net) and the local provisioning
// service.
package provisioning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// DefaultHost is the global device provisioning endpoint of Azure DPS.
const DefaultHost = "global.azure-devices-provisioning.net"

// Defaults of Options.
const (
	DefaultPollInterval    = 2 * time.Second // when the service sends no Retry-After
	DefaultMinPollInterval = 100 * time.Millisecond
	DefaultMaxPollInterval = 60 * time.Second
	DefaultTimeout         = 5 * time.Minute // whole registration, unless ctx ends earlier
	DefaultTokenLifetime   = time.Hour
	DefaultMaxRetries      = 4 // transient answers (429, 5xx) per request
	// maxBodyBytes bounds the answers read.
	maxBodyBytes = 1 << 20
)

// Options configure a Client.
type Options struct {
	// Host is the provisioning host, "host" or "host:port" (an https://
	// URL is accepted too). Default DefaultHost.
	Host string
	// IDScope names the DPS instance. Required.
	IDScope string
	// RegistrationID is the device's registration ID. Required.
	RegistrationID string
	// Attester proves the device's identity. Required.
	Attester Attester
	// Payload is sent in the register request (custom allocation data);
	// it must be JSON when set.
	Payload json.RawMessage
	// APIVersion is the device API version; default model.DeviceAPIVersion.
	APIVersion string

	// RootCAs are the roots trusted for the service's certificate; nil
	// means the system roots.
	RootCAs *x509.CertPool
	// ConfigureTLS, if set, may change the TLS configuration last (after
	// the roots and the attester's client certificate are set).
	ConfigureTLS func(*tls.Config)
	// DialContext, if set, opens the connections (for example to reach a
	// host name at another address); the TLS server name stays the host's.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTPClient replaces the HTTP client built from the options above.
	// An X.509 attester's certificate must then be in its TLS configuration.
	HTTPClient *http.Client

	// UserAgent of the requests; default "dpsctl".
	UserAgent string
	// PollInterval is the wait between polls when the service sends no
	// Retry-After; default DefaultPollInterval.
	PollInterval time.Duration
	// MinPollInterval and MaxPollInterval clamp every wait, Retry-After
	// included; defaults DefaultMinPollInterval and DefaultMaxPollInterval.
	MinPollInterval, MaxPollInterval time.Duration
	// Timeout bounds Register and Status when ctx has no deadline; default
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how often a request answered 429 or 5xx is sent again;
	// 0 means DefaultMaxRetries, negative means never.
	MaxRetries int
	// TokenLifetime is the validity of SAS tokens; default
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Client registers one device. It is safe for concurrent use, though one
// device normally runs one registration at a time.
type Client struct {
	base       string // https://host[:port]
	host       string
	idScope    string
	regID      string
	att        Attester
	payload    json.RawMessage
	apiVersion string
	hc         *http.Client
	userAgent  string
	poll       time.Duration
	minPoll    time.Duration
	maxPoll    time.Duration
	timeout    time.Duration
	maxRetries int
	lifetime   time.Duration
	now        func() time.Time
}

// New checks the options and builds a Client.
func New(opts Options) (*Client, error) {
	host, err := normalizeHost(opts.Host)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(opts.IDScope) == "":
		return nil, errors.New("provisioning: an ID scope is required")
	case strings.TrimSpace(opts.RegistrationID) == "":
		return nil, errors.New("provisioning: a registration ID is required")
	case opts.Attester == nil:
		return nil, errors.New("provisioning: an attester is required")
	}
	if len(opts.Payload) > 0 && !json.Valid(opts.Payload) {
		return nil, errors.New("provisioning: the payload is not valid JSON")
	}
	c := &Client{
		base:       "https://" + host,
		host:       host,
		idScope:    strings.TrimSpace(opts.IDScope),
		regID:      strings.TrimSpace(opts.RegistrationID),
		att:        opts.Attester,
		payload:    opts.Payload,
		apiVersion: opts.APIVersion,
		hc:         opts.HTTPClient,
		userAgent:  opts.UserAgent,
		poll:       opts.PollInterval,
		minPoll:    opts.MinPollInterval,
		maxPoll:    opts.MaxPollInterval,
		timeout:    opts.Timeout,
		maxRetries: opts.MaxRetries,
		lifetime:   opts.TokenLifetime,
		now:        opts.Now,
	}
	if c.apiVersion == "" {
		c.apiVersion = model.DeviceAPIVersion
	}
	if c.userAgent == "" {
		c.userAgent = "dpsctl"
	}
	if c.poll <= 0 {
		c.poll = DefaultPollInterval
	}
	if c.minPoll <= 0 {
		c.minPoll = DefaultMinPollInterval
	}
	if c.maxPoll <= 0 {
		c.maxPoll = DefaultMaxPollInterval
	}
	if c.maxPoll < c.minPoll {
		c.maxPoll = c.minPoll
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.lifetime <= 0 {
		c.lifetime = DefaultTokenLifetime
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: NewTransport(opts.Attester, opts.RootCAs, opts.DialContext, opts.ConfigureTLS)}
	}
	return c, nil
}

// NewTransport builds the HTTPS transport of a device: TLS 1.2 or later
// with the given roots (nil: the system's), the attester's client
// certificate if it has one, an optional dialer, and configure applied last.
func NewTransport(att Attester, roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error), configure func(*tls.Config)) *http.Transport {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if ca, ok := att.(CertificateAttester); ok {
		cert := ca.ClientCertificate()
		// Always present the certificate when asked: the service accepts
		// any client certificate in the handshake and checks it itself, so
		// its list of acceptable CAs (if any) must not filter ours out.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		}
	}
	if configure != nil {
		configure(cfg)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.ForceAttemptHTTP2 = false
	tr.Proxy = http.ProxyFromEnvironment
	if dial != nil {
		tr.DialContext = dial
	}
	return tr
}

// normalizeHost accepts "host", "host:port" or "https://host[:port][/]".
func normalizeHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return DefaultHost, nil
	}
	if strings.Contains(h, "://") {
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", fmt.Errorf("provisioning host %q: give a host name, host:port or https://host", h)
		}
		h = u.Host
	}
	if strings.ContainsAny(h, "/?#@ ") {
		return "", fmt.Errorf("provisioning host %q: give a host name or host:port", h)
	}
	if _, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			return "", fmt.Errorf("provisioning host %q: empty port", h)
		}
	}
	return h, nil
}

// Host returns the provisioning host (with its port, if one was given).
func (c *Client) Host() string { return c.host }

// IDScope returns the ID scope.
func (c *Client) IDScope() string { return c.idScope }

// RegistrationID returns the registration ID.
func (c *Client) RegistrationID() string { return c.regID }

// Attester returns the attester.
func (c *Client) Attester() Attester { return c.att }

func (c *Client) registrationPath() string {
	return "/" + url.PathEscape(c.idScope) + "/registrations/" + url.PathEscape(c.regID)
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) body() ([]byte, error) {
	r := model.DeviceRegistration{RegistrationID: c.regID, Payload: c.payload}
	if p, ok := c.att.(RegistrationPreparer); ok {
		p.PrepareRegistration(&r)
	}
	return json.Marshal(r)
}

// Register registers the device and polls the operation until it ends. It
// returns the final operation status. A registration that ends failed or
// disabled returns that status together with a *RegistrationError; a
// refusal of the credentials is an *Error with Denied true; a service that
// cannot be reached gives a *TransportError. Context cancellation and the
// timeout end the wait with the context's error.
func (c *Client) Register(ctx context.Context) (*model.RegistrationOperationStatus, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if ch, ok := c.att.(Challenger); ok {
		ch.Reset()
	}
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	path := c.registrationPath()
	registerURL := path + "/register"

	var (
		auth string
		st   *model.RegistrationOperationStatus
		wait time.Duration
	)
	// Register, answering at most one TPM challenge; a "registering"
	// answer sends register again after the wait.
	for puts := 0; ; puts++ {
		res, err := c.call(ctx, http.MethodPut, registerURL, body, func() (string, error) {
			var err error
			auth, err = c.authorization(ctx)
			return auth, err
		})
		if err != nil {
			return nil, err
		}
		if st, err = ParseOperationStatus(res.body); err != nil {
			return nil, err
		}
		wait = c.pollWait(res.header)
		if st.Status != statusRegistering || puts >= maxRegisterPuts {
			break
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}

	for polls := 0; !terminal(st.Status); polls++ {
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		res, err := c.call(ctx, http.MethodGet, path+"/operations/"+url.PathEscape(st.OperationID), nil, func() (string, error) { return auth, nil })
		if err != nil {
			return nil, err
		}
		next, err := ParseOperationStatus(res.body)
		if err != nil {
			return nil, err
		}
		if next.OperationID == "" {
			next.OperationID = st.OperationID
		}
		st = next
		wait = c.pollWait(res.header)
	}
	return c.finish(ctx, st)
}

// maxRegisterPuts bounds the "registering" loop.
const maxRegisterPuts = 30

func terminal(status string) bool {
	switch status {
	case model.RegAssigned, model.RegFailed, model.RegDisabled:
		return true
	}
	return false
}

func (c *Client) finish(ctx context.Context, st *model.RegistrationOperationStatus) (*model.RegistrationOperationStatus, error) {
	switch st.Status {
	case model.RegAssigned:
		if h, ok := c.att.(AssignmentHandler); ok {
			if err := h.Assigned(ctx, st.RegistrationState); err != nil {
				return st, err
			}
		}
		return st, nil
	default:
		return st, &RegistrationError{RegistrationID: c.regID, Result: st}
	}
}

// Status looks up the device's registration (the status lookup call). For
// a TPM device the service challenges again, and answering replaces the
// key in the TPM, so the IoT hub key of an earlier registration is lost.
func (c *Client) Status(ctx context.Context) (*model.DeviceRegistrationResult, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if ch, ok := c.att.(Challenger); ok {
		ch.Reset()
	}
	r := model.DeviceRegistration{RegistrationID: c.regID}
	if p, ok := c.att.(RegistrationPreparer); ok {
		p.PrepareRegistration(&r)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	res, err := c.call(ctx, http.MethodPost, c.registrationPath(), body, func() (string, error) { return c.authorization(ctx) })
	if err != nil {
		return nil, err
	}
	return ParseRegistrationResult(res.body)
}
