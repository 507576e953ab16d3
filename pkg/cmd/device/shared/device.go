package shared

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/iothub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
)

// Endpoint says how a device reaches the provisioning service and, after
// assignment, its hub.
type Endpoint struct {
	// Host is the provisioning host (host or host:port).
	Host string
	// Roots are the trusted roots; nil means the system roots.
	Roots *x509.CertPool
	// Dial, if set, opens every connection (the local service).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConfigureTLS, if set, adjusts the TLS configuration last.
	ConfigureTLS func(*tls.Config)
	// MaxPollInterval, if set, caps the wait between polls.
	MaxPollInterval time.Duration
	// LocalAddress is the address Dial connects to (the local service's
	// HTTPS, where MQTT over WebSockets is too); MQTTAddress that of its
	// MQTT over TLS ("": not served).
	LocalAddress, MQTTAddress string
}

// LocalEndpoint is the endpoint of the local service.
func LocalEndpoint(l *Local) Endpoint {
	return Endpoint{Host: l.Host(), Roots: l.Roots, Dial: l.Dial, ConfigureTLS: l.ConfigureTLS,
		LocalAddress: l.Info.Address, MQTTAddress: l.Info.MQTTAddress}
}

// UserAgent of the simulated devices.
const UserAgent = "dpsctl-device"

// NewClient builds the provisioning client of a device.
func NewClient(ep Endpoint, idScope, registrationID string, att provisioning.Attester, payload json.RawMessage) (*provisioning.Client, error) {
	return provisioning.New(provisioning.Options{
		Host:            ep.Host,
		IDScope:         idScope,
		RegistrationID:  registrationID,
		Attester:        att,
		Payload:         payload,
		RootCAs:         ep.Roots,
		DialContext:     ep.Dial,
		ConfigureTLS:    ep.ConfigureTLS,
		UserAgent:       UserAgent,
		MaxPollInterval: ep.MaxPollInterval,
	})
}

// IsAzureDPSHost reports whether h (host or host:port) is an Azure DPS
// endpoint.
func IsAzureDPSHost(h string) bool {
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.HasSuffix(strings.ToLower(h), ".azure-devices-provisioning.net")
}

// sameServiceHub routes a device to its hub when the provisioning service
// is not Azure's: a DPS-compatible service such as dpsctl serve also serves
// the hubs it assigns, on its own address, under any hub name. The
// connection goes to the provisioning host and its certificate is checked
// for that host's name. Azure hubs are reached as named.
func sameServiceHub(ep Endpoint, opts *iothub.Options) {
	if ep.Dial != nil || ep.Host == "" || IsAzureDPSHost(ep.Host) {
		return
	}
	addr, name := ep.Host, ep.Host
	if h, _, err := net.SplitHostPort(ep.Host); err == nil {
		name = h
	} else {
		addr = net.JoinHostPort(ep.Host, "443")
	}
	opts.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	configure := ep.ConfigureTLS
	opts.ConfigureTLS = func(c *tls.Config) {
		c.ServerName = name
		if configure != nil {
			configure(c)
		}
	}
}

// DefaultMessage is the message a device sends when none is given.
func DefaultMessage(registrationID string) []byte {
	b, _ := json.Marshal(map[string]string{"message": "hello from " + registrationID, "sentBy": "dpsctl"})
	return b
}

// Connect connects a provisioned device to its assigned hub with the
// identity the registration gave it and sends one message: symmetric-key
// devices sign with their key, TPM devices in the TPM with the hub key the
// registration imported, X.509 devices present their certificate.
func Connect(ctx context.Context, ep Endpoint, att provisioning.Attester, r *model.DeviceRegistrationResult, message []byte) error {
	if r == nil || r.AssignedHub == "" || r.DeviceID == "" {
		return fmt.Errorf("the registration named no hub and device to connect as")
	}
	opts := iothub.Options{
		HostName:     r.AssignedHub,
		DeviceID:     r.DeviceID,
		RootCAs:      ep.Roots,
		DialContext:  ep.Dial,
		ConfigureTLS: ep.ConfigureTLS,
		UserAgent:    UserAgent,
	}
	sameServiceHub(ep, &opts)
	switch a := att.(type) {
	case *provisioning.SymmetricKey:
		opts.Key = a.Key()
	case *provisioning.TPM:
		opts.Signer = a.Sign
	case *provisioning.X509:
		opts.Certificate = a.ClientCertificate()
	default:
		return fmt.Errorf("cannot connect to the hub with %s attestation", att.Type())
	}
	c, err := iothub.New(opts)
	if err != nil {
		return err
	}
	return c.SendEvent(ctx, message)
}
