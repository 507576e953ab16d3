package mqttbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

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
