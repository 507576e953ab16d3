// Package iothub is the device side of an IoT hub, as much as a device
// needs right after provisioning: authenticate with the identity it was
// assigned (a SAS token signed with its device key or inside its TPM, or
// an X.509 client certificate) and send device-to-cloud messages over HTTPS
// (POST /devices/{id}/messages/events).
package iothub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
)

// APIVersion is the IoT hub device API version of the requests.
const APIVersion = "2020-09-30"

// DefaultTokenLifetime is the validity of the SAS tokens the client makes.
const DefaultTokenLifetime = time.Hour

// Signer returns HMAC-SHA256 of data under the device key: computed in
// software from the key, or by a TPM that holds it.
type Signer func(data []byte) ([]byte, error)

// KeySigner returns the Signer of a base64 device key.
func KeySigner(keyB64 string) (Signer, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keyB64))
	if err != nil || len(key) == 0 {
		return nil, errors.New("device key is not valid base64")
	}
	return func(data []byte) ([]byte, error) {
		m := hmac.New(sha256.New, key)
		m.Write(data)
		return m.Sum(nil), nil
	}, nil
}

// Resource returns the sr of a device's hub SAS token as the device SDKs
// write it: URL-encode("{hostName}/devices/{URL-encode(deviceId)}").
func Resource(hostName, deviceID string) string {
	return url.QueryEscape(hostName + "/devices/" + url.QueryEscape(deviceID))
}

// SASToken builds a device's hub token:
// "SharedAccessSignature sr=…&sig=…&se=…" (no skn: the device key signs).
func SASToken(hostName, deviceID string, sign Signer, expiry time.Time) (string, error) {
	sr := Resource(hostName, deviceID)
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig, err := sign([]byte(sr + "\n" + se))
	if err != nil {
		return "", fmt.Errorf("signing the hub SAS token: %w", err)
	}
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)) + "&se=" + se, nil
}

// Options configure a Client. Give one of Key, Signer and Certificate.
type Options struct {
	// HostName is the hub's host name as assigned ("host" or "host:port").
	HostName string
	// DeviceID is the device's ID in the hub.
	DeviceID string

	// Key is the base64 device key (symmetric-key devices).
	Key string
	// Signer signs SAS tokens with a key held elsewhere (a TPM).
	Signer Signer
	// Certificate is the device's client certificate and chain (X.509).
	Certificate *tls.Certificate

	// RootCAs are the roots trusted for the hub's certificate; nil means
	// the system roots.
	RootCAs *x509.CertPool
	// ConfigureTLS, if set, may change the TLS configuration last.
	ConfigureTLS func(*tls.Config)
	// DialContext, if set, opens the connections.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTPClient replaces the client built from the options above.
	HTTPClient *http.Client

	UserAgent     string        // default "dpsctl"
	TokenLifetime time.Duration // default DefaultTokenLifetime
	Now           func() time.Time
}

// Client is one device's connection to its hub. It is safe for concurrent
// use.
type Client struct {
	host      string
	deviceID  string
	sign      Signer
	hc        *http.Client
	userAgent string
	lifetime  time.Duration
	now       func() time.Time
}

// New checks the options and builds a Client.
func New(opts Options) (*Client, error) {
	host := strings.TrimSpace(opts.HostName)
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("iothub: hub host name %q: give a host name or host:port", opts.HostName)
	}
	if strings.TrimSpace(opts.DeviceID) == "" {
		return nil, errors.New("iothub: a device ID is required")
	}
	n := 0
	for _, given := range []bool{opts.Key != "", opts.Signer != nil, opts.Certificate != nil} {
		if given {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("iothub: give exactly one of a device key, a signer and a certificate")
	}
	c := &Client{
		host:      host,
		deviceID:  opts.DeviceID,
		sign:      opts.Signer,
		hc:        opts.HTTPClient,
		userAgent: opts.UserAgent,
		lifetime:  opts.TokenLifetime,
		now:       opts.Now,
	}
	if opts.Key != "" {
		s, err := KeySigner(opts.Key)
		if err != nil {
			return nil, fmt.Errorf("iothub: %w", err)
		}
		c.sign = s
	}
	if c.userAgent == "" {
		c.userAgent = "dpsctl"
	}
	if c.lifetime <= 0 {
		c.lifetime = DefaultTokenLifetime
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.hc == nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs}
		if cert := opts.Certificate; cert != nil {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		if opts.ConfigureTLS != nil {
			opts.ConfigureTLS(cfg)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		tr.ForceAttemptHTTP2 = false
		if opts.DialContext != nil {
			tr.DialContext = opts.DialContext
		}
		c.hc = &http.Client{Transport: tr}
	}
	return c, nil
}

// HostName returns the hub's host name.
func (c *Client) HostName() string { return c.host }

// DeviceID returns the device ID.
func (c *Client) DeviceID() string { return c.deviceID }

// Message is a device-to-cloud message.
type Message struct {
	Payload []byte
	// ContentType, e.g. "application/json" (default for a JSON payload;
	// otherwise "application/octet-stream").
	ContentType string
	// MessageID, if set, is the message's ID.
	MessageID string
	// Properties are application properties (iothub-app-{name} headers).
	Properties map[string]string
}

// SendEvent sends one device-to-cloud message with payload.
func (c *Client) SendEvent(ctx context.Context, payload []byte) error {
	return c.Send(ctx, Message{Payload: payload})
}

// Send sends one device-to-cloud message.
func (c *Client) Send(ctx context.Context, m Message) error {
	path := "/devices/" + url.PathEscape(c.deviceID) + "/messages/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+c.host+path+"?api-version="+APIVersion, bytes.NewReader(m.Payload))
	if err != nil {
		return err
	}
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
		if len(m.Payload) > 0 && json.Valid(m.Payload) {
			ct = "application/json"
		}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("iothub-contenttype", ct)
	req.Header.Set("User-Agent", c.userAgent)
	if m.MessageID != "" {
		req.Header.Set("iothub-messageid", m.MessageID)
	}
	for k, v := range m.Properties {
		req.Header.Set("iothub-app-"+k, v)
	}
	if c.sign != nil {
		tok, err := SASToken(c.host, c.deviceID, c.sign, c.now().Add(c.lifetime))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", tok)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("POST %s: %w", path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &TransportError{Method: http.MethodPost, Path: path, Err: err}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	return &Error{*apierr.DecodeHub(http.MethodPost, path, res, body, c.now())}
}
