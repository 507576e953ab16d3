package mqttbroker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/dpsctl/dpsctl/pkg/model"
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

	mu       sync.Mutex
	sessions map[*mqtt.Client]*session
	started  bool
	closed   bool
	open     map[net.Conn]struct{} // connections served, authenticated or not
	served   sync.WaitGroup        // serveConn calls running
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
	caps.MaximumClientWritesPending = 1024
	caps.MaximumSessionExpiryInterval = 0
	b := &Broker{
		opts:     opts,
		hubs:     map[string]*Hub{},
		sessions: map[*mqtt.Client]*session{},
		ws:       newWSListener(),
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
// accepting WebSocket connections. l should be a tls.Listener whose
// config asks for, but does not require, client certificates
// (tls.RequestClientCert): chains are checked by the Provisioner and the
// DeviceAuthenticator.
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
	return b.srv.Serve()
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

// closeWait bounds how long Close waits for connections to wind down.
const closeWait = 5 * time.Second

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
func (b *Broker) Connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

func (b *Broker) session(cl *mqtt.Client) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[cl]
}

// session is one authenticated connection.
type session struct {
	b    *Broker
	cl   *mqtt.Client
	user topics.Username
	cred Credential
	hub  *Hub

	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	subs map[subKind]byte // granted QoS
}

// subscriptionKind says which allowed subscription filter is; 0 for one
// the device may not hold.
func (s *session) subscriptionKind(filter string) subKind {
	if s.user.Service == topics.DPS {
		if filter == topics.DPSResponseFilter {
			return subDPS
		}
		return 0
	}
	switch filter {
	case topics.TwinResponseFilter:
		return subTwinRes
	case topics.TwinDesiredFilter:
		return subDesired
	case topics.MethodFilter:
		return subMethods
	case topics.CloudToDeviceFilter(s.user.DeviceID):
		if s.user.ModuleID == "" {
			return subC2D
		}
	}
	return 0
}

// publishAllowed says whether the device may publish on topic.
func (s *session) publishAllowed(topic string) (topics.Topic, bool) {
	t, err := topics.Parse(topic)
	if err != nil {
		return t, false
	}
	if s.user.Service == topics.DPS {
		return t, t.Kind == topics.DPSRegister || t.Kind == topics.DPSOperationStatus
	}
	switch t.Kind {
	case topics.Telemetry:
		return t, t.DeviceID == s.user.DeviceID && t.ModuleID == s.user.ModuleID
	case topics.TwinGet, topics.TwinPatchReported, topics.MethodResponse:
		return t, true
	}
	return t, false
}

func (s *session) subscribed(k subKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.subs[k]
	return ok
}

var errNotSubscribed = errors.New("device has not subscribed to the topic")

// send publishes to this device alone, at the QoS of its subscription
// (0 or 1).
func (s *session) send(k subKind, topic string, payload []byte) error {
	s.mu.Lock()
	qos, ok := s.subs[k]
	s.mu.Unlock()
	if !ok {
		return errNotSubscribed
	}
	cl := s.cl
	if cl.Closed() {
		return mqtt.ErrConnectionClosed
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	}
	if qos > 0 {
		if cl.State.Inflight.Len() >= maxInflight {
			return packets.ErrQuotaExceeded // the device does not acknowledge
		}
		id, err := cl.NextPacketID()
		if err != nil {
			return err
		}
		pk.PacketID = uint16(id)
		cl.State.Inflight.Set(pk)
	}
	if err := cl.WritePacket(pk); err != nil {
		if qos > 0 {
			cl.State.Inflight.Delete(pk.PacketID)
		}
		return err
	}
	return nil
}

// credential takes the password and the TLS client chain of a client.
func credential(cl *mqtt.Client, pk packets.Packet) Credential {
	c := Credential{SASToken: string(pk.Connect.Password), RemoteAddr: cl.Net.Remote}
	if cs, ok := cl.Net.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		c.Chain = cs.ConnectionState().PeerCertificates
	}
	return c
}

// hook is the broker's mochi hook: authentication, ACL, and the handling
// of every publish.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "dpsctl" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnSubscribed, mqtt.OnPacketProcessed, mqtt.OnPublish,
		mqtt.OnWill, mqtt.OnSysInfoTick:
		return true
	}
	return false
}

// OnSysInfoTick drops the $SYS messages the broker has just retained. No
// device may read $SYS, and while any message is retained the broker
// searches the retained ones for every subscription a device makes.
func (h *hook) OnSysInfoTick(*system.Info) {
	t := h.b.srv.Topics
	for topic := range t.Retained.GetAll() {
		if strings.HasPrefix(topic, mqtt.SysPrefix) {
			t.RetainMessage(packets.Packet{TopicName: topic})
		}
	}
}

// OnConnect refuses another protocol than MQTT 3.1.1, as IoT Hub does,
// before looking at credentials, and caps the keep-alive at IoT Hub's.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if pk.ProtocolVersion != 4 {
		return packets.ErrUnsupportedProtocolVersion
	}
	if pk.Connect.Keepalive > MaxKeepAlive {
		cl.State.Keepalive = MaxKeepAlive
	}
	// No session outlives its connection: the hub keeps what must last
	// (twin, C2D queue), and every connection subscribes afresh.
	cl.Properties.Clean = true
	return nil
}

// OnWill takes a device's Will message as IoT Hub does, as telemetry when
// its topic is the device's telemetry topic, and never forwards it.
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	s := h.b.session(cl)
	if s != nil && s.hub != nil && len(will.Payload) <= MaxMessageSize {
		if t, ok := s.publishAllowed(will.TopicName); ok && t.Kind == topics.Telemetry {
			_ = s.hub.telemetry(s.user.DeviceID, t.ModuleID, t.Properties, will.Payload)
		}
	}
	return mqtt.Will{}, nil
}

// OnConnectAuthenticate routes the CONNECT by its user name and
// authenticates the device; a refusal is CONNACK 5 (not authorized).
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	b := h.b
	user, err := topics.ParseUsername(string(pk.Connect.Username))
	if err != nil {
		return false
	}
	if pk.Connect.ClientIdentifier != user.ClientID() {
		return false // the client ID must be the registration or device ID
	}
	cred := credential(cl, pk)
	s := &session{b: b, cl: cl, user: user, cred: cred, subs: map[subKind]byte{}}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.RequestTimeout)
	defer cancel()
	switch user.Service {
	case topics.DPS:
		if b.opts.Provisioner == nil {
			return false
		}
		// DPS checks the credential on each request and answers 401 on
		// the response topic; a connection without any is refused here.
		if cred.SASToken == "" && len(cred.Chain) == 0 {
			return false
		}
		// One namespace per service and scope: a registration and a
		// hub device of the same name do not take over each other.
		cl.ID = "dps/" + user.IDScope + "/" + user.RegistrationID
	case topics.IoTHub:
		hub := b.hub(ctx, user.HubHost)
		if hub == nil || user.ModuleID != "" {
			return false
		}
		if err := hub.authenticate(ctx, user.DeviceID, cred); err != nil {
			b.opts.Logger.Info("device refused", "hub", user.HubHost, "device", user.DeviceID, "error", err)
			return false
		}
		s.hub = hub
		cl.ID = "hub/" + strings.ToLower(user.HubHost) + "/" + user.DeviceID
	default:
		return false
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		return false
	}
	b.sessions[cl] = s
	b.mu.Unlock()
	return true
}

func (h *hook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	s := h.b.session(cl)
	if s == nil || s.hub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, h.b.opts.RequestTimeout)
	defer cancel()
	if err := s.hub.attach(ctx, s.user.DeviceID, s); err != nil {
		h.b.opts.Logger.Warn("device state", "hub", s.user.HubHost, "device", s.user.DeviceID, "error", err)
		cl.Stop(err)
	}
}

func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	b := h.b
	b.mu.Lock()
	s := b.sessions[cl]
	delete(b.sessions, cl)
	b.mu.Unlock()
	if s == nil {
		return
	}
	s.cancel()
	if s.hub != nil {
		s.hub.detach(s.user.DeviceID, s)
	}
}

// OnACLCheck holds mochi's own checks to the same rules as OnPacketRead.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := h.b.session(cl)
	if s == nil {
		return false
	}
	if write {
		_, ok := s.publishAllowed(topic)
		return ok
	}
	return s.subscriptionKind(topic) != 0
}

// OnPacketRead closes the connection, as IoT Hub does, on a publish or
// subscription the device may not make: QoS 2, another device's topics,
// or a topic that is none of DPS's or IoT Hub's.
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Connect {
		return pk, nil
	}
	s := h.b.session(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos > 1 {
			return pk, packets.ErrRejectPacket
		}
		if _, ok := s.publishAllowed(pk.TopicName); !ok {
			return pk, packets.ErrRejectPacket
		}
	case packets.Subscribe:
		for _, f := range pk.Filters {
			if f.Qos > 1 || s.subscriptionKind(f.Filter) == 0 {
				return pk, packets.ErrRejectPacket
			}
		}
	case packets.Unsubscribe:
		for _, f := range pk.Filters {
			if s.subscriptionKind(f.Filter) == 0 {
				return pk, packets.ErrRejectPacket
			}
		}
	}
	return pk, nil
}

// OnSubscribed records the subscriptions before their SUBACK goes out, so
// that a device that has its SUBACK can be sent to (a direct method right
// away). The C2D subscription waits for OnPacketProcessed.
func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	s := h.b.session(cl)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range pk.Filters {
		if i < len(reasonCodes) && reasonCodes[i] > 1 {
			continue
		}
		if k := s.subscriptionKind(f.Filter); k != 0 && k != subC2D {
			s.subs[k] = f.Qos
		}
	}
}

// OnPacketProcessed records the C2D subscription once its SUBACK is
// written, and then delivers the queued cloud-to-device messages after
// it.
func (h *hook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if err != nil {
		return
	}
	s := h.b.session(cl)
	if s == nil {
		return
	}
	switch pk.FixedHeader.Type {
	case packets.Subscribe:
		c2d := false
		s.mu.Lock()
		for _, f := range pk.Filters {
			if k := s.subscriptionKind(f.Filter); k == subC2D {
				s.subs[k] = f.Qos
				c2d = true
			}
		}
		s.mu.Unlock()
		if c2d && s.hub != nil {
			s.hub.flushC2D(s.user.DeviceID)
		}
	case packets.Unsubscribe:
		s.mu.Lock()
		for _, f := range pk.Filters {
			delete(s.subs, s.subscriptionKind(f.Filter))
		}
		s.mu.Unlock()
	}
}

// OnPublish handles what a device publishes. The packet is never fanned
// out to subscribers (CodeSuccessIgnore): a QoS 1 publish is acknowledged
// once handled.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.b.session(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	t, ok := s.publishAllowed(pk.TopicName)
	if !ok {
		return pk, packets.ErrRejectPacket
	}
	switch t.Kind {
	case topics.DPSRegister, topics.DPSOperationStatus:
		h.b.handleDPS(s, t, pk.Payload)
	case topics.Telemetry:
		if len(pk.Payload) > MaxMessageSize {
			cl.Stop(ErrTooLarge)
			return pk, packets.ErrRejectPacket
		}
		if err := s.hub.telemetry(s.user.DeviceID, t.ModuleID, t.Properties, pk.Payload); err != nil {
			cl.Stop(err)
			return pk, packets.ErrRejectPacket
		}
	case topics.TwinGet:
		body, err := s.hub.twinDoc(s.user.DeviceID)
		status := 200
		if err != nil {
			status, body = 500, errorBody(500000, err.Error())
		}
		s.answerTwin(status, t.RID, 0, body)
	case topics.TwinPatchReported:
		v, err := s.hub.patchReported(s.user.DeviceID, pk.Payload)
		switch {
		case err == nil:
			s.answerTwin(204, t.RID, v, nil)
		case errors.Is(err, ErrBadPatch), errors.Is(err, ErrTooLarge):
			s.answerTwin(400, t.RID, 0, errorBody(400000, err.Error()))
		default:
			s.answerTwin(500, t.RID, 0, errorBody(500000, err.Error()))
		}
	case topics.MethodResponse:
		s.hub.methodResponse(s.user.DeviceID, t.RID, t.Status, pk.Payload)
	}
	return pk, packets.CodeSuccessIgnore
}

func (s *session) answerTwin(status int, rid string, version int64, body []byte) {
	t := topics.Topic{Kind: topics.TwinResponse, Status: status, RID: rid, Version: version, HasVersion: version > 0}
	_ = s.send(subTwinRes, t.String(), body) // dropped when the device did not subscribe, as IoT Hub does
}

func errorBody(code int, msg string) []byte {
	b, _ := json.Marshal(model.ErrorDetails{ErrorCode: code, Message: msg, TimestampUTC: time.Now().UTC().Format(time.RFC3339)})
	return b
}

// handleDPS calls the Provisioner and answers on the response topic.
func (b *Broker) handleDPS(s *session, t topics.Topic, payload []byte) {
	ctx, cancel := context.WithTimeout(s.ctx, b.opts.RequestTimeout)
	defer cancel()
	var (
		status, retry int
		body          []byte
		err           error
	)
	switch t.Kind {
	case topics.DPSRegister:
		var reg struct {
			TPM json.RawMessage `json:"tpm"`
		}
		_ = json.Unmarshal(payload, &reg)
		if len(reg.TPM) > 0 && !bytes.Equal(reg.TPM, []byte("null")) {
			// The MQTT transport has no TPM challenge.
			status, body = 400, errorBody(model.ErrBadRequest, "TPM attestation is not supported over MQTT.")
			break
		}
		status, body, retry, err = b.opts.Provisioner.Register(ctx, s.user.IDScope, s.user.RegistrationID, s.cred, payload)
	case topics.DPSOperationStatus:
		status, body, retry, err = b.opts.Provisioner.OperationStatus(ctx, s.user.IDScope, s.user.RegistrationID, t.OperationID, s.cred)
	}
	if err != nil {
		b.opts.Logger.Warn("provisioning request failed", "registration", s.user.RegistrationID, "error", err)
		status, body, retry = 500, errorBody(500000, "Internal error."), 0
	}
	if status < 100 || status > 599 {
		status = 500
	}
	if len(body) == 0 {
		body = []byte("{}") // the SDKs parse every answer as JSON
	}
	res := topics.Topic{Kind: topics.DPSResponse, Status: status, RID: t.RID, RetryAfter: retry}
	_ = s.send(subDPS, res.String(), body)
}
