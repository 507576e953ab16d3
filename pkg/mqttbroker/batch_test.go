package mqttbroker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// writeLog is a net.Conn that records each write it is given and reads
// from a pipe.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	closed bool
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *writeLog) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return w.Conn.Close()
}

func (w *writeLog) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s []string
	for _, b := range w.writes {
		s = append(s, string(b))
	}
	return s
}

func TestBatchConnWritesOnceBetweenReads(t *testing.T) {
	dev, svc := net.Pipe()
	defer dev.Close()
	w := &writeLog{Conn: svc}
	c := newBatchConn(w)

	// The broker handles a packet: what it writes is held...
	for _, p := range []string{"answer ", "puback"} {
		if n, err := c.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := w.log(); len(got) != 0 {
		t.Fatalf("written before the next read: %q", got)
	}
	// ...and goes out in one write when it reads again.
	read := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		_, err := io.ReadFull(c, buf)
		read <- err
	}()
	waitFor(t, func() bool { return len(w.log()) == 1 })
	if got := w.log(); got[0] != "answer puback" {
		t.Fatalf("writes %q, want one of both packets", got)
	}
	// While it waits for the device, others' writes go out at once.
	if _, err := c.Write([]byte("c2d")); err != nil {
		t.Fatal(err)
	}
	if got := w.log(); len(got) != 2 || got[1] != "c2d" {
		t.Fatalf("writes %q, want c2d at once", got)
	}
	if _, err := dev.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	// Held bytes are sent before the connection closes.
	if _, err := c.Write([]byte("connack")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.log(); len(got) != 3 || got[2] != "connack" || !w.closed {
		t.Fatalf("writes %q closed %v, want the CONNACK then close", got, w.closed)
	}
}

func TestBatchConnBounds(t *testing.T) {
	dev, svc := net.Pipe()
	defer dev.Close()
	w := &writeLog{Conn: svc}
	c := newBatchConn(w)
	small := bytes.Repeat([]byte("a"), batchMax-10)
	if _, err := c.Write(small); err != nil {
		t.Fatal(err)
	}
	// What would go over the bound sends what is held first.
	if _, err := c.Write(bytes.Repeat([]byte("b"), 20)); err != nil {
		t.Fatal(err)
	}
	if got := w.log(); len(got) != 1 || len(got[0]) != len(small) {
		t.Fatalf("%d writes, want the held %d bytes", len(got), len(small))
	}
	// A write larger than the bound goes out on its own.
	big := bytes.Repeat([]byte("c"), batchMax+1)
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	if got := w.log(); len(got) != 3 || len(got[1]) != 20 || len(got[2]) != len(big) {
		t.Fatalf("writes of %v bytes", lens(got))
	}
}

func TestBatchConnConnectionState(t *testing.T) {
	chain := []*x509.Certificate{{Raw: []byte{1}}}
	c := newBatchConn(&wsConn{tls: &tls.ConnectionState{PeerCertificates: chain}})
	if got := c.ConnectionState().PeerCertificates; len(got) != 1 || got[0] != chain[0] {
		t.Fatalf("PeerCertificates = %v", got)
	}
	dev, svc := net.Pipe()
	defer dev.Close()
	defer svc.Close()
	if got := newBatchConn(svc).ConnectionState(); got.HandshakeComplete || got.PeerCertificates != nil {
		t.Fatalf("a connection without TLS has state %+v", got)
	}
}

func lens(s []string) []int {
	var n []int
	for _, x := range s {
		n = append(n, len(x))
	}
	return n
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 2500 {
		if ok() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}
