package mqttbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

// Limits of the broker.
const (
	// MaxMessageSize is IoT Hub's limit of a device-to-cloud message.
	MaxMessageSize = 256 * 1024
	// maxPacket allows for the topic and header around a full message.
	maxPacket = MaxMessageSize + topics.MaxTopicLength + 64
	// DefaultMaxConnections bounds the connected devices by default.
	DefaultMaxConnections = 10000
	// DefaultRequestTimeout bounds a call of the Provisioner or the
	// DeviceAuthenticator.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds the handshake and CONNECT of a
	// connection.
	DefaultConnectTimeout = 30 * time.Second
	// MaxKeepAlive is the longest keep-alive IoT Hub allows, in seconds.
	MaxKeepAlive = 1767
	// maxInflight bounds the QoS 1 messages not yet acknowledged, each
	// way, per connection.
	maxInflight = 1024
)

// WebSocketPath is where the SDKs' MQTT-over-WebSocket transports connect.
const WebSocketPath = "/$iothub/websocket"

// Options configure a Broker.
type Options struct {
	// Provisioner answers DPS connections; nil refuses them.
	Provisioner Provisioner
	// Hubs are the IoT hubs served, by host name (case-insensitive); a
	// CONNECT to another host is refused, unless LookupHub gives one.
	Hubs []*Hub
	// LookupHub, if set, is asked for a hub host that is not in Hubs
	// (one linked while the broker runs, say); nil, or an error, refuses
	// the CONNECT. It may be called concurrently and should return the
	// same Hub for the same host each time.
	LookupHub func(ctx context.Context, host string) (*Hub, error)
	// MaxConnections bounds the connected clients [DefaultMaxConnections].
	MaxConnections int
	// RequestTimeout bounds each Provisioner and DeviceAuthenticator call
	// [DefaultRequestTimeout].
	RequestTimeout time.Duration
	// ConnectTimeout bounds the TLS handshake and the CONNECT of a new
	// connection [DefaultConnectTimeout].
	ConnectTimeout time.Duration
	// Logger gets the broker's warnings; nil discards them.
	Logger *slog.Logger
}

// Broker is the MQTT front of the local DPS and IoT hubs.
type Broker struct {
	opts Options
	srv  *mqtt.Server
	hubs map[string]*Hub
	ws   *wsListener

	// sessions maps each authenticated client to its session. Every hook
	// looks its session up, so reads take no lock.
	sessions  sync.Map // *mqtt.Client → *session
	nsessions atomic.Int64

	mu      sync.Mutex
	started bool
	closed  bool
	open    map[net.Conn]struct{} // connections served, authenticated or not
	served  sync.WaitGroup        // serveConn calls running
}

// admit counts a new connection, or refuses it once the broker is closed
// or past twice MaxConnections (the connections still in their handshake
// or CONNECT count too; past MaxConnections authenticated ones, CONNECT is
// answered "server unavailable").
func (b *Broker) admit(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || len(b.open) >= 2*b.opts.MaxConnections {
		return false
	}
	if b.open == nil {
		b.open = map[net.Conn]struct{}{}
	}
	b.open[c] = struct{}{}
	b.served.Add(1)
	return true
}

func (b *Broker) release(c net.Conn) {
	b.mu.Lock()
	delete(b.open, c)
	b.mu.Unlock()
	b.served.Done()
}

// serveConn runs one connection: a deadline for its handshake and CONNECT
// (the broker sets the keep-alive one after CONNECT), then the broker.
func (b *Broker) serveConn(establish listeners.EstablishFn, id string, c net.Conn) {
	if !b.admit(c) {
		_ = c.Close()
		return
	}
	defer b.release(c)
	_ = c.SetDeadline(time.Now().Add(b.opts.ConnectTimeout))
	if err := establish(id, newBatchConn(c)); err != nil {
		b.opts.Logger.Debug("connection ended", "listener", id, "remote", c.RemoteAddr().String(), "error", err)
	}
}

// New makes a broker; Start it, and mount WebSocketHandler on the HTTPS
// listener for MQTT over WebSockets.
func New(opts Options) *Broker {
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClients = int64(opts.MaxConnections)
	caps.MaximumPacketSize = maxPacket
	caps.MaximumQos = 1
	caps.RetainAvailable = 0
	caps.WildcardSubAvailable = 1
	caps.SharedSubAvailable = 0
	caps.MinimumProtocolVersion = 4
	caps.MaximumInflight = maxInflight
	caps.ReceiveMaximum = maxInflight
	// mochi's per-client queue only carries what it fans out itself, and
	// nothing is fanned out here (OnPublish answers CodeSuccessIgnore, no
	// retained messages, $SYS refused): the hooks write to the connection.
	// Its capacity is allocated with every connection.
	caps.MaximumClientWritesPending = 8
	caps.MaximumSessionExpiryInterval = 0
	b := &Broker{
		opts: opts,
		hubs: map[string]*Hub{},
		ws:   newWSListener(),
	}
	for _, h := range opts.Hubs {
		b.hubs[strings.ToLower(h.Host())] = h
	}
	b.srv = mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 opts.Logger,
		SysTopicResendInterval: 3600,
	})
	_ = b.srv.AddHook(&hook{b: b}, nil)
	return b
}

// Start serves MQTT over TLS on l (nil for WebSockets only) and starts
// accepting WebSocket connections; both are served when it returns. l
// should be a tls.Listener whose config asks for, but does not require,
// client certificates (tls.RequestClientCert): chains are checked by the
// Provisioner and the DeviceAuthenticator.
func (b *Broker) Start(l net.Listener) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return errors.New("mqttbroker: already started")
	}
	b.started = true
	if l != nil {
		if err := b.srv.AddListener(&tlsListener{b: b, l: l}); err != nil {
			return err
		}
	}
	if err := b.srv.AddListener(b.ws); err != nil {
		return err
	}
	if err := b.srv.Serve(); err != nil {
		return err
	}
	// The broker starts each listener's Serve in a goroutine: until the
	// WebSocket one has run, an upgrade would find no broker (503).
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-b.ws.ready:
		return nil
	case <-t.C:
		return fmt.Errorf("mqttbroker: the WebSocket listener did not start in %s", startWait)
	}
}

// hub returns the hub of a host name: one of Options.Hubs, else
// Options.LookupHub's; nil for none.
func (b *Broker) hub(ctx context.Context, host string) *Hub {
	if h := b.hubs[strings.ToLower(host)]; h != nil {
		return h
	}
	if b.opts.LookupHub == nil {
		return nil
	}
	h, err := b.opts.LookupHub(ctx, host)
	if err != nil {
		b.opts.Logger.Info("hub lookup failed", "hub", host, "error", err)
		return nil
	}
	return h
}

// closeWait bounds how long Close waits for connections to wind down;
// startWait how long Start waits for its listeners to run.
const (
	closeWait = 5 * time.Second
	startWait = 10 * time.Second
)

// Close disconnects every client and stops the listeners. It closes the
// connections itself and lets each one's broker goroutine end it (the
// device's disconnect recorded as on any other loss) before stopping the
// broker, which would otherwise stop clients still being attached.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed || !b.started {
		b.closed = true
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for c := range b.open {
		_ = c.Close()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.served.Wait(); close(done) }()
	t := time.NewTimer(closeWait)
	select {
	case <-done:
	case <-t.C:
		b.opts.Logger.Warn("MQTT connections still open at close", "wait", closeWait)
	}
	t.Stop()
	return b.srv.Close()
}

// Connections is the number of authenticated clients.
func (b *Broker) Connections() int { return int(b.nsessions.Load()) }

func (b *Broker) session(cl *mqtt.Client) *session {
	if s, ok := b.sessions.Load(cl); ok {
		return s.(*session)
	}
	return nil
}
