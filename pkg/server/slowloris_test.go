package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// countingListener counts the connections accepted and open, and the most
// open at once.
type countingListener struct {
	net.Listener
	open, most atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for {
		m := l.most.Load()
		if n <= m || l.most.CompareAndSwap(m, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serveCounted runs inst on a loopback port through a countingListener
// until the test ends.
func serveCounted(t testing.TB, inst *Instance) (*served, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	return serveOn(t, inst, cl), cl
}

// slowKind is how a slow client holds its connection.
type slowKind int

const (
	slowHeaders     slowKind = iota // never finishes its headers
	slowDeviceBody                  // a device API PUT declaring 90,000 bytes, sent a byte at a time
	slowServiceBody                 // the same against the service API, unauthenticated
)

// slowClients are TLS connections that send a byte now and then.
type slowClients struct {
	mu    sync.Mutex
	conns []net.Conn
	stop  chan struct{}
	done  chan struct{}
}

// openSlowClients opens n slow connections to s (kinds in turn), and a
// goroutine that sends each a byte every interval. Everything is closed
// when the test ends.
func openSlowClients(t testing.TB, s *served, n int, kinds []slowKind, interval time.Duration) *slowClients {
	t.Helper()
	sc := &slowClients{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(sc.close)
	cfg := &tls.Config{RootCAs: s.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := atomic.Int64{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := openSlowClient(s, cfg, kinds[i%len(kinds)], i)
				if err != nil {
					errs <- fmt.Errorf("slow client %d: %w", i, err)
					return
				}
				sc.mu.Lock()
				sc.conns = append(sc.conns, c)
				sc.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	go sc.dribble(interval)
	return sc
}

func openSlowClient(s *served, cfg *tls.Config, kind slowKind, i int) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", s.addr, cfg)
	if err != nil {
		return nil, err
	}
	var head string
	switch kind {
	case slowHeaders:
		head = "GET /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
	case slowDeviceBody:
		head = fmt.Sprintf("PUT /%s/registrations/slow-%d/register?api-version=2019-03-31 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 90000\r\n\r\n{", s.inst.IDScope(), i)
	case slowServiceBody:
		head = fmt.Sprintf("PUT /enrollments/slow-%d?api-version=2021-10-01 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 90000\r\n\r\n{", i)
	}
	if _, err := io.WriteString(c, head); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dribble sends every connection a byte per round, for at most 10,000
// rounds, until close.
func (sc *slowClients) dribble(interval time.Duration) {
	defer close(sc.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for range 10000 {
		select {
		case <-sc.stop:
			return
		case <-tick.C:
		}
		sc.mu.Lock()
		conns := sc.conns
		sc.mu.Unlock()
		for _, c := range conns {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte{' '})
		}
	}
}

func (sc *slowClients) close() {
	select {
	case <-sc.stop:
		return
	default:
	}
	close(sc.stop)
	<-sc.done
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, c := range sc.conns {
		c.Close()
	}
}

// legitimateDevice enrolls a device and returns a client that opens a
// new connection per request, and the registration call.
func legitimateDevice(t testing.TB, s *served) func(id string) (model.RegistrationOperationStatus, error) {
	e := envFor(t, s.inst)
	e.put("/enrollmentGroups/legit", map[string]any{"enrollmentGroupId": "legit", "attestation": symKeys(keyA, keyB)})
	d := s.client(t, nil, false)
	return func(id string) (model.RegistrationOperationStatus, error) {
		return d.tryProvision(id, d.symToken(id, deriveKey(t, keyA, id)), nil)
	}
}

// A thousand slow clients do not keep a device from registering: its
// connection is accepted and served while they are all held open.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	const slow = 1000
	inst, err := Open(Options{DataDir: t.TempDir(),
		// Long enough that the server holds every slow client for the
		// whole test, however slow the machine: the point is being served
		// while they are open.
		ReadHeaderTimeout: 10 * time.Minute, ReadTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s, cl := serveCounted(t, inst)
	register := legitimateDevice(t, s)
	openSlowClients(t, s, slow, []slowKind{slowHeaders, slowHeaders, slowDeviceBody, slowServiceBody}, 500*time.Millisecond)

	for i := range 3 {
		id := fmt.Sprintf("legit-%d", i)
		op, err := register(id)
		if err != nil {
			t.Fatal(err)
		}
		if op.Status != model.RegAssigned || op.RegistrationState.RegistrationID != id {
			t.Fatalf("%+v", op)
		}
	}
	// Those that never finish their headers are all still open (the
	// others may have been refused and closed: their body was not needed).
	if open := cl.open.Load(); open < slow/2 {
		t.Fatalf("%d connections open, want at least %d", open, slow/2)
	}
}

// The connection bound holds: with MaxConnections open, the next client
// is served once one of them closes, and never more are open at once.
func TestMaxConnections(t *testing.T) {
	const limit = 4
	inst, err := Open(Options{DataDir: t.TempDir(), MaxConnections: limit, ReadHeaderTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s, cl := serveCounted(t, inst)
	register := legitimateDevice(t, s)
	sc := openSlowClients(t, s, limit, []slowKind{slowHeaders}, time.Second)

	type result struct {
		op  model.RegistrationOperationStatus
		err error
	}
	res := make(chan result, 1)
	go func() {
		op, err := register("bounded")
		res <- result{op, err}
	}()
	// Free one room: the waiting registration gets its connection.
	sc.mu.Lock()
	sc.conns[0].Close()
	sc.mu.Unlock()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.op.Status != model.RegAssigned {
		t.Fatalf("%+v", r.op)
	}
	if most := cl.most.Load(); most > limit {
		t.Fatalf("%d connections open at once, limit %d", most, limit)
	}
}

func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := limitConnections(ln, 2).(*limitListener)
	defer l.Close()
	if limitConnections(ln, 0) != ln || limitConnections(ln, -1) != ln {
		t.Fatal("n < 1 should not limit")
	}
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for range 3 {
		dial()
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.sem) != 2 {
		t.Fatalf("%d rooms taken", len(l.sem))
	}
	// Closing twice frees one room.
	a.Close()
	a.Close()
	if len(l.sem) != 1 {
		t.Fatalf("%d rooms taken after a close", len(l.sem))
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer b.Close()
	// Full again: an Accept waits, and returns when the listener closes.
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	l.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// The server's timeouts end connections that are slow or idle.
func TestServerTimeouts(t *testing.T) {
	const short = 200 * time.Millisecond
	inst, err := Open(Options{DataDir: t.TempDir(), ReadHeaderTimeout: short, ReadTimeout: short, IdleTimeout: short})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s, _ := serveCounted(t, inst)
	e := envFor(t, inst)
	cfg := &tls.Config{RootCAs: s.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	tests := []struct {
		name string
		send string
	}{
		{"headers never finished", "GET /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\nHost: localhost\r\nX-Slow: a"},
		{"authenticated body never finished", "PUT /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + e.token() + "\r\nContent-Type: application/json\r\nContent-Length: 90000\r\n\r\n{"},
		{"idle after a request", "GET /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\nHost: localhost\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialAndSend(t, s.addr, cfg, tt.send)
			// The server closes the connection (after an answer, for the
			// idle one); the deadline only keeps a failure from hanging.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection open")
			}
		})
	}
}

// A refused request whose body was not read closes its connection, so that
// the server does not wait for the rest of a slow body before answering.
func TestRefusedRequestDoesNotWaitForBody(t *testing.T) {
	inst, err := Open(Options{DataDir: t.TempDir(), ReadTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s, _ := serveCounted(t, inst)
	cfg := &tls.Config{RootCAs: s.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	tests := []struct {
		name, head string
		status     int
	}{
		{"service API without credentials", "PUT /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\n", 401},
		{"service API with a bad token", "PUT /enrollments/x?api-version=2021-10-01 HTTP/1.1\r\nAuthorization: SharedAccessSignature sr=localhost&sig=AAAA&se=99999999999&skn=provisioningserviceowner\r\n", 401},
		{"hub without credentials", "POST /devices/d1/messages/events?api-version=2020-09-30 HTTP/1.1\r\n", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialAndSend(t, s.addr, cfg, tt.head+"Host: localhost\r\nContent-Type: application/json\r\nContent-Length: 90000\r\n\r\n{")
			c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure must not hang
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status || !res.Close {
				t.Fatalf("status %d, close %v", res.StatusCode, res.Close)
			}
		})
	}
}

// BenchmarkRequestUnderSlowClients measures a device registration (on a
// new connection each time) while 1,000 slow clients hold connections
// open, as a ratio to the same registration without them (the
// "slow/baseline" metric).
func BenchmarkRequestUnderSlowClients(b *testing.B) {
	inst, err := Open(Options{DataDir: b.TempDir(), ReadHeaderTimeout: time.Hour, ReadTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	s, _ := serveCounted(b, inst)
	register := legitimateDevice(b, s)
	n := 0
	measure := func(count int) time.Duration {
		start := time.Now()
		for range count {
			n++
			if op, err := register(fmt.Sprintf("bench-%d", n)); err != nil || op.Status != model.RegAssigned {
				b.Fatalf("%+v %v", op, err)
			}
		}
		return time.Since(start) / time.Duration(count)
	}
	measure(10) // warm up
	baseline := measure(100)
	openSlowClients(b, s, 1000, []slowKind{slowHeaders, slowDeviceBody, slowServiceBody}, time.Second)
	b.ResetTimer()
	for b.Loop() {
		n++
		if op, err := register(fmt.Sprintf("bench-%d", n)); err != nil || op.Status != model.RegAssigned {
			b.Fatalf("%+v %v", op, err)
		}
	}
	loaded := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(baseline.Nanoseconds()), "baseline-ns/op")
	b.ReportMetric(float64(loaded)/float64(baseline), "slow/baseline")
}

// readBody grows its buffer with the data that arrives, not with the
// length a client declares.
func TestReadBodyDoesNotTrustContentLength(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/x", strings.NewReader(`{"a":1}`))
	r.ContentLength = 90000
	b, err := httpapi.ReadBody(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":1}` || cap(b) >= 90000 {
		t.Fatalf("body %q in a buffer of %d bytes", b, cap(b))
	}
}

func TestServeLimits(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want serveLimits
	}{
		{"defaults", Options{}, serveLimits{DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout, DefaultMaxConnections}},
		{"given", Options{ReadHeaderTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, IdleTimeout: 4, MaxConnections: 5}, serveLimits{1, 2, 3, 4, 5}},
		{"no connection bound", Options{MaxConnections: -1}, serveLimits{DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newServeLimits(tt.opts); got != tt.want {
				t.Fatalf("%+v, want %+v", got, tt.want)
			}
		})
	}
	// A device on a slow link has time to send a full body.
	if DefaultReadTimeout < 30*time.Second || DefaultWriteTimeout < DefaultReadTimeout+WebhookTimeout {
		t.Fatal("the default timeouts leave no room for a slow device")
	}
}

// The service speaks HTTP/1.1 only, so that a connection carries one
// request at a time: a client offering HTTP/2 falls back.
func TestServeHTTP1Only(t *testing.T) {
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s, _ := serveCounted(t, inst)
	for _, protos := range [][]string{{"h2", "http/1.1"}, {"h2"}} {
		t.Run(strings.Join(protos, ","), func(t *testing.T) {
			c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.pool, ServerName: "localhost", NextProtos: protos})
			if err == nil {
				defer c.Close()
				if p := c.ConnectionState().NegotiatedProtocol; p == "h2" {
					t.Fatalf("negotiated %q", p)
				}
			}
		})
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool, ServerName: "localhost"}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		}}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://localhost:" + s.port + "/enrollments/x?api-version=2021-10-01")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 1 || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("%s %d", res.Proto, res.StatusCode)
	}
}

// dialAndSend opens a TLS connection to addr and writes raw to it; the
// connection closes with the test.
func dialAndSend(t *testing.T, addr string, cfg *tls.Config, raw string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}
