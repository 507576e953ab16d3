// Package mqttbroker serves the device side of the Device Provisioning
// Service and of IoT Hub over MQTT 3.1.1, on TLS and on WebSockets
// ("/$iothub/websocket", subprotocol "mqtt"), as the official device SDKs
// speak it. It embeds the mochi-mqtt broker and uses its hooks only: every
// CONNECT is authenticated first, by its user name routed either to a
// Provisioner (DPS) or to a Hub whose devices a DeviceAuthenticator vouches
// for; every later packet must fit the topics of that one device (an ACL),
// and what a device publishes is handled here, never fanned out to other
// clients.
//
// The Hub is the in-memory state of a local IoT hub: twins with versions,
// pending direct-method calls, the cloud-to-device queue and a ring of the
// last telemetry messages of each device, with a stream for monitoring.
package mqttbroker

import (
	"context"
	"crypto/x509"
	"errors"
)

// Credential is what a device proves itself with on a connection.
type Credential struct {
	// SASToken is the CONNECT password ("SharedAccessSignature sr=…"),
	// empty when the device uses a certificate.
	SASToken string
	// Chain is the TLS client certificate chain as the device sent it,
	// leaf first; unverified (the verifier knows the enrollments or the
	// device's thumbprints and CAs).
	Chain []*x509.Certificate
	// RemoteAddr is the device's address (host:port), for logs and
	// limits; not a credential.
	RemoteAddr string
}

// Provisioner answers the DPS device API: what the HTTPS device API would
// answer to the same request. It is called once per request the device
// publishes, with the credential of the connection.
type Provisioner interface {
	// Register handles PUT {idScope}/registrations/{regID}/register with
	// body, a DeviceRegistration ({"registrationId":…,"payload":…}).
	Register(ctx context.Context, idScope, regID string, cred Credential, body []byte) (status int, respBody []byte, retryAfter int, err error)
	// OperationStatus handles GET
	// {idScope}/registrations/{regID}/operations/{opID}.
	OperationStatus(ctx context.Context, idScope, regID, opID string, cred Credential) (status int, respBody []byte, retryAfter int, err error)
}

// DeviceAuthenticator vouches for the devices of a hub's registry: a SAS
// token signed with one of the device's keys (sr = {hubHost}/devices/{id}),
// or a certificate chain matching the device's thumbprints or CA.
type DeviceAuthenticator interface {
	// AuthenticateDevice returns nil when cred proves deviceID on hubHost;
	// an error otherwise (ErrUnknownDevice, ErrUnauthorized or another).
	AuthenticateDevice(ctx context.Context, hubHost, deviceID string, cred Credential) error
}

// DeviceAuthenticatorFunc adapts a function to DeviceAuthenticator.
type DeviceAuthenticatorFunc func(ctx context.Context, hubHost, deviceID string, cred Credential) error

// AuthenticateDevice calls f.
func (f DeviceAuthenticatorFunc) AuthenticateDevice(ctx context.Context, hubHost, deviceID string, cred Credential) error {
	return f(ctx, hubHost, deviceID, cred)
}

// Errors of the hub and of authenticators.
var (
	ErrUnknownDevice    = errors.New("device not found in the hub's registry")
	ErrUnauthorized     = errors.New("device credential does not match")
	ErrDeviceNotOnline  = errors.New("device is not online")
	ErrMethodTimeout    = errors.New("device did not answer the direct method in time")
	ErrTooManyPending   = errors.New("too many pending direct methods for the device")
	ErrQueueFull        = errors.New("cloud-to-device queue of the device is full")
	ErrTooLarge         = errors.New("message too large")
	ErrBadPatch         = errors.New("twin patch must be a JSON object")
	ErrTooManyStreams   = errors.New("too many telemetry streams")
	ErrStreamClosed     = errors.New("telemetry stream closed")
	ErrTooManyDevices   = errors.New("too many devices in the hub")
	ErrBadMethodRequest = errors.New("direct method name or payload is invalid")
)
