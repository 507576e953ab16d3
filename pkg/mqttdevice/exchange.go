package mqttdevice

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"golang.org/x/net/proxy"
)

// maxIncoming bounds the packets an exchange accepts: a DPS answer is a
// registration status of a few kilobytes.
const maxIncoming = 256 << 10

// exchange is an MQTT 3.1.1 session for a short request and answer
// conversation such as a DPS registration: CONNECT, one subscription,
// QoS 1 requests each answered on the subscribed topic, DISCONNECT. The
// packets are paho's (encoded and decoded by its packets package), the
// same the paho client sends; the sequencing runs in the caller's
// goroutine, with none of a long-lived client's goroutines, queues or
// timers, as a registration needs none of them.
type exchange struct {
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	nextID uint16
	// acks are PUBACKs owed to the service, sent with the next packets.
	acks []packets.ControlPacket
	// stop unhooks the context watch; ctxErr reports why reads failed.
	stop func() bool
	ctx  context.Context
}

// answer is an application message the service published to the device.
type answer struct {
	topic   string
	payload []byte
}

// openExchange dials the endpoint, sends CONNECT as the paho client would
// for these credentials (clean session, keep-alive four minutes) and, in
// the same write, the SUBSCRIBE to filter at QoS 1: MQTT 3.1.1 lets a
// client go on without waiting for the CONNACK, and a server that refuses
// the CONNECT processes nothing after it (3.1.4). It waits up to the
// connect timeout for the CONNACK, then for the SUBACK.
func openExchange(ctx context.Context, ep Endpoint, clientID, user, password, filter string) (*exchange, error) {
	timeout, tlsConf := ep.connectTimeout(), ep.tlsConfig()
	fail := func(err error) error {
		return fmt.Errorf("MQTT connect to %s as %s: %w", ep.Address, clientID, err)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := dialEndpoint(dctx, ep, tlsConf, timeout)
	cancel()
	if err != nil {
		return nil, fail(err)
	}
	x := newExchange(ctx, conn)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if tc, ok := conn.(*tls.Conn); ok {
		// The handshake under the connection's deadline and ctx's watch
		// above, with no goroutine of its own.
		if err := tc.Handshake(); err != nil {
			x.abort()
			return nil, fail(x.err(err))
		}
	}

	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName = "MQTT"
	cp.ProtocolVersion = 4
	cp.CleanSession = true
	cp.Keepalive = uint16((4 * time.Minute) / time.Second)
	cp.ClientIdentifier = clientID
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
		if password != "" {
			cp.PasswordFlag, cp.Password = true, []byte(password)
		}
	}
	sp := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sp.MessageID = x.id()
	sp.Topics = []string{filter}
	sp.Qoss = []byte{1}
	if err := x.send(cp, sp); err != nil {
		x.abort()
		return nil, fail(err)
	}
	pk, err := x.read()
	if err != nil {
		x.abort()
		return nil, fail(err)
	}
	ca, ok := pk.(*packets.ConnackPacket)
	if !ok {
		x.abort()
		return nil, fail(fmt.Errorf("the service answered CONNECT with %T", pk))
	}
	if ca.ReturnCode != packets.Accepted {
		x.abort()
		if e, ok := packets.ConnErrors[ca.ReturnCode]; ok {
			return nil, fail(e)
		}
		return nil, fail(fmt.Errorf("CONNACK return code %#x", ca.ReturnCode))
	}
	if err := x.subscribed(sp.MessageID, filter); err != nil {
		x.abort()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return x, nil
}

// newExchange runs an exchange on conn; when ctx ends, pending reads and
// writes fail at once.
func newExchange(ctx context.Context, conn net.Conn) *exchange {
	x := &exchange{conn: conn, r: bufio.NewReaderSize(conn, 4096), w: bufio.NewWriterSize(conn, 1024), ctx: ctx}
	x.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	return x
}

// dialEndpoint opens the transport paho would: TLS (through all_proxy
// when it is set, as paho does), its handshake left to the first read or
// write, or WebSockets with the "mqtt" subprotocol. Under TLS, a corkConn
// sends what the device writes when it next reads.
func dialEndpoint(ctx context.Context, ep Endpoint, tlsConf *tls.Config, timeout time.Duration) (net.Conn, error) {
	if ep.WebSocket {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			c, err := paho.NewWebsocket(ep.brokerURL(), tlsConf, timeout, nil, nil)
			ch <- result{c, err}
		}()
		select {
		case r := <-ch:
			return r.c, r.err
		case <-ctx.Done():
			go func() {
				if r := <-ch; r.c != nil {
					r.c.Close()
				}
			}()
			return nil, ctx.Err()
		}
	}
	addr := ep.brokerURL()[len("ssl://"):]
	var raw net.Conn
	var err error
	d := &net.Dialer{Timeout: timeout}
	if os.Getenv("all_proxy") == "" {
		raw, err = d.DialContext(ctx, "tcp", addr)
	} else {
		raw, err = proxy.FromEnvironmentUsing(d).Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	cfg := tlsConf
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = hostOf(addr)
	}
	return tls.Client(newCorkConn(raw), cfg), nil
}

// send writes the acknowledgements owed and packets, and flushes them
// together.
func (x *exchange) send(pks ...packets.ControlPacket) error {
	pks = append(x.acks, pks...)
	x.acks = nil
	for _, pk := range pks {
		if err := pk.Write(x.w); err != nil {
			return x.err(err)
		}
	}
	return x.err(x.w.Flush())
}

// read reads the next packet, refusing one larger than maxIncoming
// before reading its body. An error is the connection's, or the packet's
// when it does not decode.
func (x *exchange) read() (packets.ControlPacket, error) {
	// The fixed header is the type byte and up to four length bytes.
	hdr, err := x.r.Peek(2)
	if err != nil {
		return nil, x.err(err)
	}
	n, mult, size := 0, 1, 0
	for i := 1; size == 0; i++ {
		if i > 4 {
			return nil, errors.New("malformed MQTT packet: remaining length over four bytes")
		}
		if len(hdr) <= i {
			if hdr, err = x.r.Peek(i + 1); err != nil {
				return nil, x.err(err)
			}
		}
		n += int(hdr[i]&0x7f) * mult
		mult <<= 7
		if hdr[i]&0x80 == 0 {
			size = i + 1 + n
		}
	}
	if n > maxIncoming {
		return nil, fmt.Errorf("the service sent an MQTT packet of %d bytes (at most %d taken)", n, maxIncoming)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(x.r, buf); err != nil {
		return nil, x.err(err)
	}
	pk, err := packets.ReadPacket(bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("malformed MQTT packet: %w", err)
	}
	return pk, nil
}

// err explains an I/O error by the context when the context ended it.
func (x *exchange) err(err error) error {
	if err == nil {
		return nil
	}
	if ce := x.ctx.Err(); ce != nil {
		return ce
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	return err
}

func (x *exchange) id() uint16 {
	x.nextID++
	if x.nextID == 0 {
		x.nextID = 1
	}
	return x.nextID
}

// subscribed waits for the SUBACK of the subscription to filter.
func (x *exchange) subscribed(id uint16, filter string) error {
	for {
		pk, err := x.read()
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", filter, err)
		}
		sa, ok := pk.(*packets.SubackPacket)
		if !ok || sa.MessageID != id {
			continue // nothing else is expected before the SUBACK
		}
		if len(sa.ReturnCodes) != 1 || sa.ReturnCodes[0] > 1 {
			return fmt.Errorf("subscribe %s: refused (codes %x)", filter, sa.ReturnCodes)
		}
		return nil
	}
}

// request publishes payload at QoS 1 on topic and reads until a message
// the service publishes is one match takes. Messages the service publishes at
// QoS 1 are acknowledged in the order they came, together with the next
// packets the device sends (the next request, or DISCONNECT).
func (x *exchange) request(topic string, payload []byte, match func(answer) bool) error {
	pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pp.Qos = 1
	pp.MessageID = x.id()
	pp.TopicName = topic
	pp.Payload = payload
	if err := x.send(pp); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	for {
		pk, err := x.read()
		if err != nil {
			return err
		}
		m, ok := pk.(*packets.PublishPacket)
		if !ok {
			continue // the PUBACK of the request, or a PINGRESP
		}
		if m.Qos > 0 {
			ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
			ack.MessageID = m.MessageID
			x.acks = append(x.acks, ack)
		}
		if match(answer{topic: m.TopicName, payload: m.Payload}) {
			return nil
		}
	}
}

// close sends DISCONNECT and closes the connection.
func (x *exchange) close() {
	_ = x.conn.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
	_ = x.send(packets.NewControlPacket(packets.Disconnect))
	x.abort()
}

func (x *exchange) abort() {
	x.stop()
	x.conn.Close()
}
