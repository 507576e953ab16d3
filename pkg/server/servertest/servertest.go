// Package servertest starts the local provisioning service for tests, as
// net/http/httptest starts an HTTP server: real HTTPS on 127.0.0.1:0, a
// data directory of the test's own, and everything stopped when the test
// ends.
package servertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/server"
)

// Server is a local provisioning service serving HTTPS on a loopback port.
type Server struct {
	Instance *server.Instance
	// Addr is the listener's address, 127.0.0.1:port.
	Addr string
	// Info describes the instance once it serves on Addr: its connection
	// string names that port.
	Info server.Info
	// RootCAs trusts the instance's CA.
	RootCAs *x509.CertPool
	// MQTTAddr is the address of MQTT over TLS (127.0.0.1:port) when the
	// server was started by StartMQTT; MQTT over WebSockets is then on
	// Addr, at server.MQTTWebSocketPath.
	MQTTAddr string
}

// startTimeout bounds the wait for the service to record its address.
const startTimeout = 10 * time.Second

// Start opens an instance with opts (in a temporary data directory when
// opts.DataDir is empty) and serves it on 127.0.0.1:0 until the test ends;
// then it stops the service, waits for it, and closes the instance.
func Start(t testing.TB, opts server.Options) *Server {
	t.Helper()
	return start(t, opts, false)
}

// StartMQTT is Start, and the instance serves DPS and its hubs over MQTT
// too, as dpsctl serve does: MQTT over TLS on another 127.0.0.1 port
// (Server.MQTTAddr), MQTT over WebSockets on Addr.
func StartMQTT(t testing.TB, opts server.Options) *Server {
	t.Helper()
	return start(t, opts, true)
}

func start(t testing.TB, opts server.Options, mqtt bool) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	inst, err := server.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		inst.Close()
		t.Fatal(err)
	}
	var mln net.Listener
	if mqtt {
		if mln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			ln.Close()
			inst.Close()
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- inst.Serve(ctx, ln) }()
	if mqtt {
		go func() { done <- inst.ServeMQTT(ctx, mln) }()
	}
	t.Cleanup(func() {
		cancel()
		for range cap(done) - boolInt(!mqtt) {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(startTimeout):
				t.Error("the local provisioning service did not stop")
			}
		}
		inst.Close()
	})
	s := &Server{Instance: inst, Addr: ln.Addr().String()}
	if mqtt {
		s.MQTTAddr = mln.Addr().String()
	}
	// Serve records the address it listens on as it starts.
	deadline := time.Now().Add(startTimeout)
	for s.Info = inst.Info(); s.Info.Address != s.Addr || s.Info.MQTTAddress != s.MQTTAddr; s.Info = inst.Info() {
		if time.Now().After(deadline) {
			t.Fatalf("the local provisioning service did not record its address %s (it says %s)", s.Addr, s.Info.Address)
		}
		time.Sleep(2 * time.Millisecond)
	}
	pem, err := os.ReadFile(inst.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = x509.NewCertPool()
	if !s.RootCAs.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", inst.CAFile())
	}
	return s
}

// Port is the port the service listens on.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// HostPort is how clients name the service: its host name and port.
func (s *Server) HostPort() string { return net.JoinHostPort(s.Info.HostName, s.Port()) }

// Dial connects to the service whatever host name is asked for: the
// service API, the device API and every local hub share its listener.
func (s *Server) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.Addr)
}

// Client returns an HTTPS client that trusts the service's CA, presents
// cert (X.509 devices) when given, and reaches the service for any host
// name. Its idle connections are closed when the test ends.
func (s *Server) Client(t testing.TB, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: s.RootCAs}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, DialContext: s.Dial}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
