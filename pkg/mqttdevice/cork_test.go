package mqttdevice

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
)

// recConn records each Write; reads come from r.
type recConn struct {
	readOnlyConn
	writes   [][]byte
	failWith error
	closed   bool
}

func (c *recConn) Write(p []byte) (int, error) {
	if c.failWith != nil {
		return 0, c.failWith
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recConn) Close() error { c.closed = true; return nil }

func newRecConn(in string) *recConn {
	return &recConn{readOnlyConn: readOnlyConn{Reader: bytes.NewReader([]byte(in))}}
}

func TestCorkConnHoldsWritesUntilRead(t *testing.T) {
	raw := newRecConn("answer")
	c := newCorkConn(raw)
	for _, s := range []string{"finished", "connect", "subscribe"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if len(raw.writes) != 0 {
		t.Fatalf("written before a read: %q", raw.writes)
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if len(raw.writes) != 1 || string(raw.writes[0]) != "finishedconnectsubscribe" {
		t.Fatalf("writes = %q, want the three in one", raw.writes)
	}
	// Nothing held: a read writes nothing.
	if _, err := c.Read(buf); err != io.EOF || len(raw.writes) != 1 {
		t.Fatalf("second Read: %v, writes %q", err, raw.writes)
	}
	_, _ = c.Write([]byte("disconnect"))
	_, _ = c.Write([]byte("close_notify"))
	if err := c.Close(); err != nil || !raw.closed {
		t.Fatalf("Close = %v, closed %v", err, raw.closed)
	}
	if len(raw.writes) != 2 || string(raw.writes[1]) != "disconnectclose_notify" {
		t.Fatalf("writes = %q, want what was held written once at close", raw.writes)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

func TestCorkConnBoundsWhatItHolds(t *testing.T) {
	raw := newRecConn("")
	c := newCorkConn(raw)
	_, _ = c.Write(make([]byte, corkMax-1))
	_, _ = c.Write(make([]byte, 2)) // would pass the bound: the held bytes go first
	if len(raw.writes) != 1 || len(raw.writes[0]) != corkMax-1 {
		t.Fatalf("writes of %v bytes, want one of %d", lens(raw.writes), corkMax-1)
	}
	_, _ = c.Write(make([]byte, corkMax+1)) // larger than the bound: held bytes, then this one
	if got := lens(raw.writes); len(got) != 3 || got[1] != 2 || got[2] != corkMax+1 {
		t.Fatalf("writes of %v bytes, want [%d 2 %d]", got, corkMax-1, corkMax+1)
	}
}

func TestCorkConnWriteErrorIsKept(t *testing.T) {
	broken := errors.New("connection reset")
	raw := newRecConn("never read")
	raw.failWith = broken
	c := newCorkConn(raw)
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatalf("a held Write failed: %v", err)
	}
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, broken) {
		t.Fatalf("Read = %v, want the flush's error", err)
	}
	if _, err := c.Write([]byte("more")); !errors.Is(err, broken) {
		t.Fatalf("Write after a failed flush = %v, want its error", err)
	}
}

// countConn counts the writes made to the connection under it.
type countConn struct {
	net.Conn
	writes int
}

func (c *countConn) Write(p []byte) (int, error) { c.writes++; return c.Conn.Write(p) }

// TestCorkConnUnderTLS: the client's TLS Finished goes out with the first
// application data, and its close_notify with the last.
func TestCorkConnUnderTLS(t *testing.T) {
	cert, pool := certstest.Server(t, "localhost")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 7)
		if _, err := io.ReadFull(c, buf); err != nil {
			got <- err.Error()
			return
		}
		_, _ = c.Write([]byte("ack"))
		rest, _ := io.ReadAll(c) // up to the close_notify
		got <- string(buf) + string(rest)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counted := &countConn{Conn: raw}
	c := tls.Client(newCorkConn(counted), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("connect")); err != nil {
		t.Fatal(err)
	}
	if counted.writes != 1 {
		t.Fatalf("%d writes after the handshake and CONNECT, want 1 (the ClientHello)", counted.writes)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ack" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if counted.writes != 2 {
		t.Fatalf("%d writes, want 2: the ClientHello, then Finished with CONNECT", counted.writes)
	}
	_, _ = c.Write([]byte("bye"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "connectbye" {
		t.Fatalf("the service read %q", s)
	}
	if counted.writes != 3 {
		t.Fatalf("%d writes, want 3: the last data and close_notify together", counted.writes)
	}
}

func lens(bs [][]byte) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = len(b)
	}
	return out
}
