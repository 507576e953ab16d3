package dps

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestNewTransportSpeaksHTTP1KeepAlive: against a server that offers
// HTTP/2, the transport still speaks HTTP/1.1, reuses one connection for
// sequential calls and opens one per call in flight.
func TestNewTransportSpeaksHTTP1KeepAlive(t *testing.T) {
	var conns atomic.Int32
	release := make(chan struct{})
	var inFlight sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 {
			t.Errorf("request over %s, want HTTP/1.1", r.Proto)
		}
		if r.URL.Path == "/wait" {
			inFlight.Done()
			<-release
		}
		w.Write([]byte("{}"))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	hc := &http.Client{Transport: NewTransport(&tls.Config{RootCAs: roots})}

	for range 5 {
		resp, err := hc.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 1 {
			t.Fatalf("response over %s, want HTTP/1.1", resp.Proto)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 sequential calls opened %d connections, want 1", n)
	}

	const parallel = 4
	inFlight.Add(parallel)
	var done sync.WaitGroup
	for range parallel {
		done.Add(1)
		go func() {
			defer done.Done()
			resp, err := hc.Get(srv.URL + "/wait")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	inFlight.Wait()
	close(release)
	done.Wait()
	if n := conns.Load(); n != parallel {
		t.Fatalf("%d calls in flight used %d connections, want %d (the idle one reused)", parallel, n, parallel)
	}
}

// TestNewTransportKeepsTheDefaults: built field by field, the transport has
// http.DefaultTransport's timeouts and proxy rule, and no HTTP/2.
func TestNewTransportKeepsTheDefaults(t *testing.T) {
	def := http.DefaultTransport.(*http.Transport)
	tr := NewTransport(nil)
	if tr.Proxy == nil || tr.DialContext == nil {
		t.Error("no proxy rule or dialer")
	}
	if tr.TLSHandshakeTimeout != def.TLSHandshakeTimeout || tr.ExpectContinueTimeout != def.ExpectContinueTimeout || tr.IdleConnTimeout != def.IdleConnTimeout {
		t.Errorf("timeouts %v %v %v, default transport %v %v %v", tr.TLSHandshakeTimeout, tr.ExpectContinueTimeout, tr.IdleConnTimeout,
			def.TLSHandshakeTimeout, def.ExpectContinueTimeout, def.IdleConnTimeout)
	}
	if tr.ForceAttemptHTTP2 || tr.TLSNextProto == nil || len(tr.TLSNextProto) != 0 {
		t.Error("HTTP/2 not turned off")
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLS config %+v", tr.TLSClientConfig)
	}
}
