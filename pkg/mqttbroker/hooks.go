package mqttbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

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
	b.sessions.Store(cl, s)
	b.nsessions.Add(1)
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
	v, ok := b.sessions.LoadAndDelete(cl)
	if !ok {
		return
	}
	b.nsessions.Add(-1)
	s := v.(*session)
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
