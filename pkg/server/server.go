// Package server is the local provisioning service: a DPS-compatible HTTP
// API over a data directory, with the bootstrap of that directory (ID scope,
// shared access policies, a CA and a server certificate) and an in-process
// transport for clients in the same process.
//
// The package composes the service from its APIs, each in its own package:
//
//   - pkg/server/service: the service API (enrollments, enrollment groups,
//     registration states, query and bulk), authorized by shared access
//     policies;
//   - pkg/server/device: the device registration API (attestation and
//     allocation), behind a core that other transports than HTTPS call
//     (Instance.DeviceAPI);
//   - pkg/server/hub: the local IoT hubs devices are assigned to.
//
// One route table (Routes, routes.go) says which API serves which method
// and path: the router dispatches by it, answers 405 with the methods it
// lists, names its patterns in the request log, and docs/security.md lists
// it (a test keeps them in step). Paths match without regard to case, a
// trailing slash is ignored and ids are URL-decoded. A JSON request body
// must be valid UTF-8 and nest at most MaxJSONDepth (64) levels of objects
// and arrays, or it is refused with 400.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/server/hub"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/server/service"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// Defaults of Options.
const (
	DefaultHostName = "localhost"
	DefaultAddr     = "127.0.0.1:8443"
)

// Built-in shared access policies.
const (
	OwnerPolicy    = "provisioningserviceowner"
	ReadOnlyPolicy = "enrollmentread"
)

// policyKeyBytes is the size of generated policy keys.
const policyKeyBytes = 32

// Options configure Open.
type Options struct {
	DataDir string // required; created (0700) if missing
	// HostName is the name clients use (connection strings, SAS audience,
	// server certificate). Empty: the last one used with this data
	// directory, else DefaultHostName.
	HostName string
	// Addr is the listen address. Empty: the last one used, else
	// DefaultAddr.
	Addr string
	// TLSCertFile and TLSKeyFile, if set, replace the generated server
	// certificate.
	TLSCertFile, TLSKeyFile string
	// WritePKI lets Open save a server certificate it re-issues for an
	// existing data directory (near expiry, another host name). Only the
	// service sets it; other opens keep such a certificate in memory, so
	// that commands never rewrite the PKI files (see pkiMode).
	WritePKI bool
	// RegeneratePKI replaces the CA and the server certificate with new
	// ones: the way out of a missing or damaged CA (*PKIError), after
	// which clients must trust the new CA file.
	RegeneratePKI bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives request and error logs (default: discarded).
	Logger *slog.Logger
	// Hubs are IoT hub host names to link (if not yet linked), besides the
	// default hub that a new data directory links: the host name.
	Hubs []string
	// WebhookClient calls custom allocation webhooks (default: a client
	// with the system's trust roots; each call is bounded by
	// WebhookTimeout). It follows no redirect, whatever its CheckRedirect.
	WebhookClient *http.Client
	// WebhookAllow restricts the destinations of custom allocation
	// webhooks to these host names ("alloc.example.com", or
	// "*.example.com" for the names below example.com), IP addresses and
	// CIDR ranges ("10.1.0.0/16"); addresses are checked when dialling,
	// after name resolution (see pkg/server/device). Empty: any destination.
	// With a WebhookClient, its Transport must be an *http.Transport.
	WebhookAllow []string

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// those of the http.Server of Serve (zero: DefaultReadHeaderTimeout,
	// DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnections bounds the connections Serve holds open at once
	// (zero: DefaultMaxConnections; negative: no bound).
	MaxConnections int
	// Throttle, when positive, is a quota of service API operations a
	// minute per shared access policy that Serve enforces as DPS does
	// (429 with Retry-After; throttle.go). Zero: no quota.
	Throttle float64
}

// Info describes a running or openable instance.
type Info struct {
	ConnectionString string `json:"connectionString"`
	IDScope          string `json:"idScope"`
	HostName         string `json:"hostName"`
	Address          string `json:"address"`
	CAFile           string `json:"caFile"`
	// MQTTAddress is where DPS and the hubs are served over MQTT over TLS
	// (last served); empty when MQTT is not served. MQTT over WebSockets
	// is on Address, at MQTTWebSocketPath.
	MQTTAddress string `json:"mqttAddress,omitempty"`
}

// Instance is an opened data directory: the store, the identity of the
// service and its HTTP API.
type Instance struct {
	dir     string
	st      *store.Store
	log     *slog.Logger
	now     func() time.Time
	idScope string
	tls     *tls.Config
	h       *handler
	limits  serveLimits
	// throttle is Options.Throttle, the quota Serve enforces.
	throttle float64
	mqtt     mqttState

	mu       sync.RWMutex
	hostName string
	addr     string
	ownerCS  string // last known owner connection string
}

// Open opens the data directory, creating and bootstrapping it on first use:
// the database, an ID scope, the owner and read-only policies, the CA and a
// server certificate. Later opens reuse all of it; the server certificate is
// re-issued when the host name changes or it nears expiry.
func Open(opts Options) (*Instance, error) {
	if opts.DataDir == "" {
		return nil, errors.New("server: a data directory is required")
	}
	webhook, err := device.WebhookClient(opts.WebhookClient, opts.WebhookAllow)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st, err := store.Open(opts.DataDir)
	if errors.Is(err, store.ErrEmptyDatabase) {
		return nil, fmt.Errorf("%w; the ID scope, keys and enrollments of this data directory are lost: restore %s from a backup, or remove it to start a new instance with a new ID scope and keys", err, store.FileName)
	}
	if err != nil {
		return nil, err
	}
	i := &Instance{dir: opts.DataDir, st: st, log: opts.Logger, now: opts.Now}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if i.now == nil {
		i.now = time.Now
	}
	if err := i.bootstrap(opts); err != nil {
		st.Close()
		return nil, err
	}
	i.limits = newServeLimits(opts)
	i.throttle = opts.Throttle
	svc := service.New(service.Config{Store: st, Log: i.log, Now: i.now, HostName: i.currentHostName})
	dev := device.New(device.Config{
		Store:    st,
		Log:      i.log,
		Now:      i.now,
		HostName: i.currentHostName,
		IDScope:  i.idScope,
		Webhook:  webhook,
	})
	hubs := hub.New(hub.Config{Store: st, Log: i.log, Now: i.now})
	i.h = &handler{
		log:               i.log,
		now:               i.now,
		service:           svc,
		device:            dev,
		apis:              map[API]routeServer{ServiceAPI: svc, DeviceAPI: dev, HubAPI: hubs, HubServiceAPI: newHubService(i)},
		onEnrollmentWrite: dev.InvalidateGroups,
		mqttWebSocket:     i.mqttWebSocket,
	}
	return i, nil
}

func (i *Instance) bootstrap(opts Options) error {
	if opts.HostName != "" {
		if err := validateHostName(opts.HostName); err != nil {
			return err
		}
	}
	if opts.Addr != "" {
		if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
			return fmt.Errorf("server: listen address %q: %w", opts.Addr, err)
		}
	}
	if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
		return errors.New("server: give both the TLS certificate and key files, or neither")
	}
	ctx := context.Background()
	var p *pki
	err := i.st.Update(ctx, func(tx *store.Tx) error {
		scope, err := tx.Meta(store.MetaIDScope)
		mode := pkiMode{write: opts.WritePKI || opts.RegeneratePKI, regenerate: opts.RegeneratePKI}
		switch {
		case errors.Is(err, store.ErrNotFound):
			mode.newInstance = true
			scope = newIDScope()
			if err := tx.SetMeta(store.MetaIDScope, scope); err != nil {
				return err
			}
			if err := tx.SetMeta(store.MetaCreatedTime, i.now().UTC().Format(time.RFC3339)); err != nil {
				return err
			}
			for _, pol := range []store.Policy{
				{Name: OwnerPolicy, Rights: AllRights},
				{Name: ReadOnlyPolicy, Rights: []string{RightEnrollmentRead, RightRegistrationStatusRead}},
			} {
				pol.PrimaryKey, pol.SecondaryKey = httpapi.RandomKey(policyKeyBytes), httpapi.RandomKey(policyKeyBytes)
				if err := tx.PutPolicy(pol); err != nil {
					return err
				}
			}
		case err != nil:
			return err
		}
		i.idScope = scope
		i.hostName, err = setting(tx, store.MetaHostName, opts.HostName, DefaultHostName)
		if err != nil {
			return err
		}
		i.addr, err = setting(tx, store.MetaAddress, opts.Addr, DefaultAddr)
		if err != nil {
			return err
		}
		if err := linkHubs(tx, i.hostName, opts.Hubs); err != nil {
			return err
		}
		p, err = ensurePKI(i.dir, i.hostName, i.now(), mode)
		return err
	})
	if err != nil {
		return fmt.Errorf("server: open %s: %w", i.dir, err)
	}
	if p.warning != "" {
		i.log.Warn(p.warning)
	}
	cert := p.server
	if opts.TLSCertFile != "" {
		cert, err = tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("server: load TLS certificate: %w", err)
		}
	}
	i.tls = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	if owner, err := i.st.Policy(ctx, OwnerPolicy); err == nil {
		i.ownerCS = i.connectionString(owner)
	}
	return nil
}

// setting returns given (and persists it) when set, else the stored value,
// else def.
func setting(tx *store.Tx, key, given, def string) (string, error) {
	if given != "" {
		return given, tx.SetMeta(key, given)
	}
	v, err := tx.Meta(key)
	switch {
	case err == nil && v != "":
		return v, nil
	case err == nil || errors.Is(err, store.ErrNotFound):
		return def, nil
	}
	return "", err
}

func validateHostName(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("server: host name %q has the character %q; give a DNS name or an IP address without a port", h, c)
		}
	}
	return nil
}

// newIDScope returns an ID scope in the service's shape: "0ne" and eight
// upper-case hex digits.
func newIDScope() string {
	var b [4]byte
	rand.Read(b[:])
	return "0ne" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// invalidate drops what the device API keeps in memory (linked hubs,
// enrollment groups) after a change made through the instance.
func (i *Instance) invalidate() { i.h.device.Invalidate() }

// IDScope returns the instance's ID scope.
func (i *Instance) IDScope() string { return i.idScope }

// Close records in the hub registries what the devices connected over
// MQTT did since the last record (and those still connected as
// disconnected), then closes the store. A running Serve or ServeMQTT must
// be stopped first.
func (i *Instance) Close() error {
	err := i.closeHubs()
	return errors.Join(err, i.st.Close())
}

// DeviceAPI returns the core of the device registration API, for a
// transport other than the HTTPS of Handler (MQTT): the same attestation,
// allocation and records, over the same store and caches.
func (i *Instance) DeviceAPI() *device.API { return i.h.device }

// Handler returns the whole HTTP API.
func (i *Instance) Handler() http.Handler { return i.h }

// DataDir returns the data directory.
func (i *Instance) DataDir() string { return i.dir }

// CAFile returns the path of the CA certificate clients must trust.
func (i *Instance) CAFile() string { return CAFile(i.dir) }

// TLSConfig returns the server's TLS configuration. Client certificates
// are requested but not required (devices will use them for X.509
// attestation).
func (i *Instance) TLSConfig() *tls.Config { return i.tls.Clone() }

func (i *Instance) currentHostName() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.hostName
}

// connHost is the HostName of connection strings: the host name, plus the
// port unless it is 443.
func (i *Instance) connHost() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return connHost(i.hostName, i.addr)
}

// connHost is the HostName of connection strings: the host name, with the
// port of addr unless that is 443 or unknown.
func connHost(hostName, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" || port == "443" {
		return hostName
	}
	return hostName + ":" + port
}

func (i *Instance) connectionString(p store.Policy) string {
	return policyConnectionString(i.connHost(), p)
}

func policyConnectionString(host string, p store.Policy) string {
	return sas.ConnectionString{HostName: host, KeyName: p.Name, Key: p.PrimaryKey}.String()
}

// ConnectionString returns the service connection string of a shared
// access policy (with its primary key).
func (i *Instance) ConnectionString(policy string) (string, error) {
	p, err := i.st.Policy(context.Background(), policy)
	if err != nil {
		return "", fmt.Errorf("server: %w", err)
	}
	return i.connectionString(p), nil
}

// Info describes the instance. The connection string is the owner policy's.
func (i *Instance) Info() Info {
	p, err := i.st.Policy(context.Background(), OwnerPolicy)
	mqttAddr := i.mqttAddress()
	i.mu.Lock()
	// The connection string and Address come from one reading of the
	// address, which Serve sets while others may ask.
	var cs string
	if err == nil {
		cs = policyConnectionString(connHost(i.hostName, i.addr), p)
		i.ownerCS = cs
	} else {
		cs = i.ownerCS
	}
	info := Info{
		ConnectionString: cs,
		IDScope:          i.idScope,
		HostName:         i.hostName,
		Address:          i.addr,
		CAFile:           i.CAFile(),
		MQTTAddress:      mqttAddr,
	}
	i.mu.Unlock()
	return info
}

// Limits of the device API and the hubs.
const (
	// MaxMessageBytes is the largest device-to-cloud message a local hub
	// accepts (IoT Hub's limit).
	MaxMessageBytes = hub.MaxMessageBytes
	// RetryAfterSeconds is the Retry-After the device API sends with 202.
	RetryAfterSeconds = device.RetryAfterSeconds
	// WebhookTimeout bounds a custom allocation webhook call.
	WebhookTimeout = device.WebhookTimeout
)

// CheckWebhookAllow reports the first entry of a webhook destination list
// (Options.WebhookAllow) that is not a CIDR range, an IP address or a host
// name (optionally "*." and a domain).
func CheckWebhookAllow(entries []string) error { return device.CheckWebhookAllow(entries) }
