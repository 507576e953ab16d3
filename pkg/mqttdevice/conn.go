// Package mqttdevice is the device side of DPS and IoT Hub over MQTT 3.1.1,
// on TLS (port 8883) or on WebSockets ("/$iothub/websocket"): a DPS
// registration with a symmetric key or an X.509 certificate, polling the
// operation as retry-after says, and an IoT hub device client that sends
// telemetry, reads and patches its twin, takes desired-property updates,
// answers direct methods and receives cloud-to-device messages.
//
// It uses the Eclipse Paho MQTT 3.1.1 client (github.com/eclipse/paho.mqtt.golang):
// DPS and IoT Hub speak MQTT 3.1.1 only, which the newer paho.golang (an
// MQTT 5 client) does not.
package mqttdevice

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// WebSocketPath is where MQTT over WebSockets is served.
const WebSocketPath = "/$iothub/websocket"

// Endpoint is where and how a device connects.
type Endpoint struct {
	// Address is host:port to dial (8883 for TLS, 443 for WebSockets
	// when no port is given).
	Address string
	// WebSocket selects MQTT over WebSockets (wss://Address/$iothub/websocket).
	WebSocket bool
	// TLS is the client's TLS configuration: roots, and the device
	// certificate for X.509. Nil uses the system roots.
	TLS *tls.Config
	// ConnectTimeout bounds the dial and the CONNACK [30s].
	ConnectTimeout time.Duration
}

func (e Endpoint) brokerURL() string {
	addr := e.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		if e.WebSocket {
			addr = net.JoinHostPort(addr, "443")
		} else {
			addr = net.JoinHostPort(addr, "8883")
		}
	}
	if e.WebSocket {
		return "wss://" + addr + WebSocketPath
	}
	return "ssl://" + addr
}

// connectTimeout is ConnectTimeout, 30 s when unset.
func (e Endpoint) connectTimeout() time.Duration {
	if e.ConnectTimeout <= 0 {
		return 30 * time.Second
	}
	return e.ConnectTimeout
}

// tlsConfig is TLS, the system roots and TLS 1.2 or later when unset.
func (e Endpoint) tlsConfig() *tls.Config {
	if e.TLS == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return e.TLS
}

func (e Endpoint) host() string {
	h, _, err := net.SplitHostPort(e.Address)
	if err != nil {
		return e.Address
	}
	return h
}

// ErrConnectionLost is returned by calls waiting on a connection the
// service closed (as IoT Hub does on a publish it refuses).
var ErrConnectionLost = errors.New("MQTT connection lost")

// conn is a connected paho client with request/response correlation by
// $rid.
type conn struct {
	c paho.Client

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error

	mu      sync.Mutex
	waiters map[string]chan response
}

type response struct {
	status     int
	retryAfter int
	version    int64
	hasVersion bool
	body       []byte
}

func dial(ctx context.Context, ep Endpoint, clientID, user, password string) (*conn, error) {
	cn := &conn{lost: make(chan struct{}), waiters: map[string]chan response{}}
	timeout, tlsConf := ep.connectTimeout(), ep.tlsConfig()
	o := paho.NewClientOptions().
		AddBroker(ep.brokerURL()).
		SetClientID(clientID).
		SetUsername(user).
		SetPassword(password).
		SetTLSConfig(tlsConf).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(4 * time.Minute).
		SetConnectTimeout(timeout).
		SetWriteTimeout(timeout).
		SetConnectionLostHandler(func(_ paho.Client, err error) { cn.markLost(err) })
	cn.c = paho.NewClient(o)
	if err := wait(ctx, cn.c.Connect(), nil); err != nil {
		cn.c.Disconnect(0) // a connect ctx gave up on must not linger
		return nil, fmt.Errorf("MQTT connect to %s as %s: %w", ep.Address, clientID, err)
	}
	return cn, nil
}

// IsConnectRefused reports whether err is the service refusing the
// device's CONNECT for its credentials (CONNACK "bad user name or
// password" or "not authorized"), as IoT Hub does for an unknown or
// disabled device or a wrong key or certificate.
func IsConnectRefused(err error) bool {
	return errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) || errors.Is(err, packets.ErrorRefusedNotAuthorised)
}

func (cn *conn) markLost(err error) {
	cn.lostOnce.Do(func() {
		if err == nil {
			err = ErrConnectionLost
		}
		cn.lostErr = fmt.Errorf("%w: %v", ErrConnectionLost, err)
		close(cn.lost)
	})
}

// Done is closed when the service closed the connection.
func (cn *conn) Done() <-chan struct{} { return cn.lost }

// wait waits for a paho token, ctx, or the loss of the connection.
func wait(ctx context.Context, t paho.Token, lost <-chan struct{}) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-lost:
		return ErrConnectionLost
	}
}

func (cn *conn) subscribe(ctx context.Context, filter string, qos byte, h paho.MessageHandler) error {
	t := cn.c.Subscribe(filter, qos, h)
	if err := wait(ctx, t, cn.lost); err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	if st, ok := t.(*paho.SubscribeToken); ok {
		if code, ok := st.Result()[filter]; ok && code > 1 {
			return fmt.Errorf("subscribe %s: refused (code %#x)", filter, code)
		}
	}
	return nil
}

func (cn *conn) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	if err := wait(ctx, cn.c.Publish(topic, qos, false, payload), cn.lost); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// newRID is a fresh request ID.
func newRID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// expect registers a waiter for rid before the request goes out.
func (cn *conn) expect(rid string) chan response {
	ch := make(chan response, 1)
	cn.mu.Lock()
	cn.waiters[rid] = ch
	cn.mu.Unlock()
	return ch
}

func (cn *conn) forget(rid string) {
	cn.mu.Lock()
	delete(cn.waiters, rid)
	cn.mu.Unlock()
}

// deliver hands an answer to its waiter; answers nobody waits for are
// ignored, as the SDKs do.
func (cn *conn) deliver(rid string, r response) {
	cn.mu.Lock()
	ch, ok := cn.waiters[rid]
	delete(cn.waiters, rid)
	cn.mu.Unlock()
	if ok {
		ch <- r
	}
}

// request publishes payload on the topic made for a fresh $rid and waits
// for the answer with that $rid.
func (cn *conn) request(ctx context.Context, topic func(rid string) string, payload []byte) (response, error) {
	rid := newRID()
	ch := cn.expect(rid)
	defer cn.forget(rid)
	if err := cn.publish(ctx, topic(rid), 1, payload); err != nil {
		return response{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return response{}, ctx.Err()
	case <-cn.lost:
		return response{}, cn.lostErr
	}
}

func (cn *conn) close() {
	cn.c.Disconnect(250)
	cn.markLost(errors.New("closed by the client"))
}

// hostOf returns the host of a host[:port].
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSuffix(addr, ".")
}
