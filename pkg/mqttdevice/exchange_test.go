package mqttdevice

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// pipe is an exchange on one end of a net.Pipe and the service's end.
func pipe(t *testing.T, ctx context.Context) (*exchange, net.Conn) {
	t.Helper()
	dev, svc := net.Pipe()
	t.Cleanup(func() { dev.Close(); svc.Close() })
	return newExchange(ctx, dev), svc
}

// serve writes pks to c, each packet on its own write, in a goroutine.
func serve(t *testing.T, c net.Conn, pks ...packets.ControlPacket) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for _, pk := range pks {
			if err := pk.Write(c); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

func publish(topic string, qos byte, id uint16, payload string) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Payload = topic, qos, id, []byte(payload)
	return p
}

func puback(id uint16) *packets.PubackPacket {
	p := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	p.MessageID = id
	return p
}

func TestExchangeReadRefusesLargeOrMalformedPackets(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"over the bound", []byte{0x30, 0x80, 0x80, 0x20}, "524288 bytes"}, // 0x20<<14, body never sent
		{"five length bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, "malformed"},
		{"publish shorter than its topic", []byte{0x30, 0x02, 0x00, 0x05}, "malformed MQTT packet"},
		{"cut short", []byte{0x30, 0x05, 0x00}, "connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newExchange(context.Background(), &readOnlyConn{Reader: bytes.NewReader(tt.raw)})
			pk, err := x.read()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("read = %v, %v; want an error with %q", pk, err, tt.want)
			}
		})
	}
}

func TestExchangeRequestAcknowledgesInOrder(t *testing.T) {
	x, svc := pipe(t, context.Background())
	done := serve(t, svc,
		publish("$dps/registrations/res/202/?$rid=other", 1, 7, `{}`), // an answer nobody waits for
		puback(1), // the request's own PUBACK, after the answer, as the broker sends it
		publish("$dps/registrations/res/200/?$rid=mine", 1, 8, `{"status":"assigned"}`),
	)
	// The request goes out first; read it on the service's end.
	got := make(chan packets.ControlPacket, 4)
	go func() {
		for {
			pk, err := packets.ReadPacket(svc)
			if err != nil {
				close(got)
				return
			}
			got <- pk
		}
	}()
	var seen []string
	err := x.request("$dps/registrations/PUT/iotdps-register/?$rid=mine", []byte(`{}`), func(a answer) bool {
		seen = append(seen, a.topic)
		return strings.Contains(a.topic, "rid=mine")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("match saw %q", seen)
	}
	req, ok := (<-got).(*packets.PublishPacket)
	if !ok || req.Qos != 1 || req.MessageID != 1 || !strings.HasSuffix(req.TopicName, "rid=mine") {
		t.Fatalf("request = %v", req)
	}
	// The two PUBACKs owed go out, in order, with the next packet.
	if len(x.acks) != 2 {
		t.Fatalf("%d acknowledgements owed, want 2", len(x.acks))
	}
	if err := x.send(packets.NewControlPacket(packets.Disconnect)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint16{7, 8} {
		if a, ok := (<-got).(*packets.PubackPacket); !ok || a.MessageID != want {
			t.Fatalf("got %v, want the PUBACK of %d", a, want)
		}
	}
	if _, ok := (<-got).(*packets.DisconnectPacket); !ok {
		t.Fatal("no DISCONNECT after the PUBACKs")
	}
}

func TestExchangeSubscribeRefused(t *testing.T) {
	x, svc := pipe(t, context.Background())
	sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	sa.MessageID, sa.ReturnCodes = 3, []byte{0x80}
	done := serve(t, svc, puback(9), sa) // something else first: skipped
	err := x.subscribed(3, "$dps/registrations/res/#")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("subscribed = %v, want refused", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestExchangeEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	x, svc := pipe(t, ctx)
	go func() { _, _ = packets.ReadPacket(svc) }() // takes the request, never answers
	time.AfterFunc(20*time.Millisecond, cancel)
	err := x.request("t", nil, func(answer) bool { return true })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("request = %v, want context.Canceled", err)
	}
}

func TestExchangeConnectionLost(t *testing.T) {
	x, svc := pipe(t, context.Background())
	go func() {
		_, _ = packets.ReadPacket(svc)
		svc.Close()
	}()
	err := x.request("t", nil, func(answer) bool { return true })
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("request = %v, want ErrConnectionLost", err)
	}
}

// TestOpenExchange runs the CONNECT against a TLS listener on 127.0.0.1:
// CONNECT and SUBSCRIBE arrive together and as paho would send them, and
// a refusing CONNACK is reported as IsConnectRefused.
func TestOpenExchange(t *testing.T) {
	cert, pool := certstest.Server(t, "localhost")
	tests := []struct {
		name string
		code byte
	}{
		{"accepted", packets.Accepted},
		{"refused", packets.ErrRefusedBadUsernameOrPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type seen struct {
				c   *packets.ConnectPacket
				s   *packets.SubscribePacket
				err error
			}
			ch := make(chan seen, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					ch <- seen{err: err}
					return
				}
				defer c.Close()
				var s seen
				pk, err := packets.ReadPacket(c)
				s.c, _ = pk.(*packets.ConnectPacket)
				if err == nil {
					pk, err = packets.ReadPacket(c)
					s.s, _ = pk.(*packets.SubscribePacket)
				}
				s.err = err
				ca := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
				ca.ReturnCode = tt.code
				_ = ca.Write(c)
				if tt.code == packets.Accepted && s.s != nil {
					sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
					sa.MessageID, sa.ReturnCodes = s.s.MessageID, []byte{1}
					_ = sa.Write(c)
					_, _ = packets.ReadPacket(c) // DISCONNECT
				}
				ch <- s
			}()
			ep := Endpoint{Address: ln.Addr().String(), TLS: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ConnectTimeout: 10 * time.Second}
			x, err := openExchange(context.Background(), ep, "dev-1", "scope/registrations/dev-1/api-version=2019-03-31", "sas", "$dps/registrations/res/#")
			if tt.code == packets.Accepted {
				if err != nil {
					t.Fatal(err)
				}
				x.close()
			} else if !IsConnectRefused(err) {
				t.Fatalf("openExchange = %v, want a refused CONNECT", err)
			}
			s := <-ch
			if s.err != nil || s.c == nil || s.s == nil {
				t.Fatalf("service read %+v", s)
			}
			c := s.c
			if c.ProtocolName != "MQTT" || c.ProtocolVersion != 4 || !c.CleanSession || c.Keepalive != 240 ||
				c.ClientIdentifier != "dev-1" || !c.UsernameFlag || !c.PasswordFlag || string(c.Password) != "sas" {
				t.Errorf("CONNECT = %v", c)
			}
			if len(s.s.Topics) != 1 || s.s.Topics[0] != "$dps/registrations/res/#" || s.s.Qoss[0] != 1 {
				t.Errorf("SUBSCRIBE = %v", s.s)
			}
		})
	}
}

// FuzzExchangeRead: whatever a service sends, reading it ends in a packet
// or an error, never a panic, and never takes a packet over the bound.
func FuzzExchangeRead(f *testing.F) {
	for _, pk := range []packets.ControlPacket{
		publish("$dps/registrations/res/200/?$rid=1", 1, 2, `{"status":"assigned"}`),
		puback(5),
		packets.NewControlPacket(packets.Connack),
		packets.NewControlPacket(packets.Suback),
	} {
		var b bytes.Buffer
		_ = pk.Write(&b)
		f.Add(b.Bytes())
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, raw []byte) {
		x := newExchange(context.Background(), &readOnlyConn{Reader: bytes.NewReader(raw)})
		for range 8 {
			pk, err := x.read()
			if err != nil {
				return
			}
			if pk == nil {
				t.Fatal("no packet and no error")
			}
		}
	})
}

// readOnlyConn is a net.Conn reading from a Reader; writes are dropped.
type readOnlyConn struct {
	*bytes.Reader
	net.Conn
}

func (c *readOnlyConn) Read(p []byte) (int, error)       { return c.Reader.Read(p) }
func (c *readOnlyConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *readOnlyConn) Close() error                     { return nil }
func (c *readOnlyConn) SetDeadline(time.Time) error      { return nil }
func (c *readOnlyConn) SetReadDeadline(time.Time) error  { return nil }
func (c *readOnlyConn) SetWriteDeadline(time.Time) error { return nil }
func (c *readOnlyConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *readOnlyConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
