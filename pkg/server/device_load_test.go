package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

// devicesPerCore is how many devices the registration benchmarks keep in
// flight per core (GOMAXPROCS): eight by default, more to see the service
// at saturation rather than the round trips of each device.
var devicesPerCore = flag.Int("bench.devices-per-core", 8, "devices in flight per core in the registration benchmarks")

// TestConcurrentRegistrations registers 200 group devices at once over one
// keep-alive HTTPS client: every one is assigned, recorded and in the hub.
func TestConcurrentRegistrations(t *testing.T) {
	const devices = 200
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e := envFor(t, inst)
	e.put("/enrollmentGroups/fleet", map[string]any{"enrollmentGroupId": "fleet", "attestation": symKeys(keyA, keyB)})
	s := serve(t, inst)
	d := s.client(t, nil, true)

	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("fleet-%03d", i)
			key := deriveKey(t, keyA, id)
			op, err := d.tryProvision(id, d.symToken(id, key), nil)
			if err == nil && (op.Status != model.RegAssigned || op.RegistrationState.RegistrationID != id) {
				err = fmt.Errorf("%s: %+v", id, op)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ctx := context.Background()
	if n, err := inst.st.CountRegistrations(ctx); err != nil || n != devices {
		t.Fatalf("%d registrations, %v", n, err)
	}
	if n, err := inst.st.CountHubDevices(ctx, ""); err != nil || n != devices {
		t.Fatalf("%d hub devices, %v", n, err)
	}
	seen := map[string]bool{}
	token := ""
	for range 10 {
		r := e.call(http.MethodPost, "/registrations/fleet/query", nil, "x-ms-continuation", token)
		var items []model.DeviceRegistrationState
		r.json(t, &items)
		for _, it := range items {
			if it.Status != model.RegAssigned {
				t.Fatalf("%+v", it)
			}
			seen[it.RegistrationID] = true
		}
		if token = r.header.Get("x-ms-continuation"); token == "" {
			break
		}
	}
	if len(seen) != devices {
		t.Fatalf("the group lists %d registrations", len(seen))
	}
}

// benchGroupInstance opens an instance, closed when the benchmark ends,
// holding the symmetric-key group "bench" (keyA, keyB).
func benchGroupInstance(b *testing.B) *Instance {
	inst, err := Open(Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inst.Close() })
	envFor(b, inst).put("/enrollmentGroups/bench", map[string]any{"enrollmentGroupId": "bench", "attestation": symKeys(keyA, keyB)})
	return inst
}

// BenchmarkSymmetricKeyRegistration: group devices register (PUT, then
// one poll) in parallel over keep-alive HTTPS; each iteration is a new
// device.
func BenchmarkSymmetricKeyRegistration(b *testing.B) {
	s := serve(b, benchGroupInstance(b))
	d := s.client(b, nil, true)
	registerInParallel(b, d)
}

// BenchmarkSymmetricKeyRegistrationPerDevice is
// BenchmarkSymmetricKeyRegistration with each device on a connection of
// its own, as devices are: a TLS handshake, the PUT and one poll on that
// connection, eight callers a core (-bench.devices-per-core). It is the HTTPS figure to set beside
// BenchmarkSymmetricKeyRegistrationMQTT, where a connection can only ever
// carry one device (the registration ID is in its CONNECT).
func BenchmarkSymmetricKeyRegistrationPerDevice(b *testing.B) {
	s := serve(b, benchGroupInstance(b))
	var n atomic.Int64
	b.SetParallelism(*devicesPerCore)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("pbench-%08d", n.Add(1))
			d := s.ownClient(b, nil, true) // a new transport: a new connection and handshake
			op, err := d.tryProvision(id, d.symToken(id, deriveKey(b, keyA, id)), nil)
			d.c.CloseIdleConnections()
			if err != nil || op.Status != model.RegAssigned {
				b.Error(op, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}

// BenchmarkX509Registration: group devices with certificates register in
// parallel, each on a new connection (a full TLS handshake with the
// client certificate), PUT then one poll on that connection.
func BenchmarkX509Registration(b *testing.B) {
	inst, err := Open(Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	e := envFor(b, inst)
	ca := certstest.New(b)
	e.put("/enrollmentGroups/xbench", x509Group("xbench", ca.Intermediate.Cert, "enabled"))
	s := serve(b, inst)
	const pool = 64 // device certificates, reused round robin
	clients := make([]*tls.Certificate, pool)
	ids := make([]string, pool)
	for i := range pool {
		ids[i] = fmt.Sprintf("xbench-%03d", i)
		dev := ca.Device(b, ids[i])
		clients[i] = tlsCert(dev.Pair, dev.Chain)
	}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1)) % pool
			d := s.ownClient(b, clients[i], true) // a new transport: a new connection and handshake
			op, err := d.tryProvision(ids[i], "", nil)
			d.c.CloseIdleConnections()
			if err != nil || op.Status != model.RegAssigned {
				b.Error(op, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}

// BenchmarkSymmetricKeyRegistrationInProcess is the same work without
// HTTPS: the cost of the service itself (authentication, allocation and
// the store).
func BenchmarkSymmetricKeyRegistrationInProcess(b *testing.B) {
	e := newEnv(b)
	e.put("/enrollmentGroups/bench", map[string]any{"enrollmentGroupId": "bench", "attestation": symKeys(keyA, keyB)})
	d := e.deviceClient()
	registerInParallel(b, d)
}

// registerInParallel registers new devices of the symmetric-key group
// "bench" (keyA) through d, eight callers a core (-bench.devices-per-core), and reports the rate.
func registerInParallel(b *testing.B, d *devClient) {
	var n atomic.Int64
	b.SetParallelism(*devicesPerCore)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("bench-%08d", n.Add(1))
			op, err := d.tryProvision(id, d.symToken(id, deriveKey(b, keyA, id)), nil)
			if err != nil || op.Status != model.RegAssigned {
				b.Error(op, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}

// BenchmarkSymmetricKeyRegistrationMQTT is BenchmarkSymmetricKeyRegistration
// over MQTT over TLS, through the same device core: eight callers a core (-bench.devices-per-core),
// each registration a new device on a new connection (TLS handshake,
// CONNECT, subscribe, PUT, and one poll), as devices on the SDKs' Mqtt
// transport do; the HTTPS benchmark reuses keep-alive connections. Like
// it, the poll follows at once (MaxRetryAfter -1), not after retry-after.
func BenchmarkSymmetricKeyRegistrationMQTT(b *testing.B) {
	inst := benchGroupInstance(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.ServeMQTTUnrecorded(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(inst.CAFile())
	if err != nil {
		b.Fatal(err)
	}
	roots.AppendCertsFromPEM(pem)
	ep := mqttdevice.Endpoint{Address: ln.Addr().String(), TLS: &tls.Config{RootCAs: roots, ServerName: DefaultHostName, MinVersion: tls.VersionTLS12}, ConnectTimeout: 30 * time.Second}
	var n atomic.Int64
	b.SetParallelism(*devicesPerCore)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("mbench-%08d", n.Add(1))
			rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
			st, err := mqttdevice.Register(rctx, mqttdevice.RegisterOptions{Endpoint: ep, IDScope: inst.IDScope(), RegistrationID: id, SymmetricKey: deriveKey(b, keyA, id), MaxRetryAfter: -1})
			rcancel()
			if err != nil || st.Status != model.RegAssigned {
				b.Error(st, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
}
