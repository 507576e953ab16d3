package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// devClient sends device API and hub requests, as a device would.
type devClient struct {
	t       testing.TB
	c       *http.Client
	base    string // scheme://host[:port]
	scope   string
	version string // device api-version
}

// deviceClient returns an in-process device client for e's instance.
func (e *testEnv) deviceClient() *devClient {
	return &devClient{t: e.t, c: e.client, base: e.base, scope: e.inst.IDScope(), version: "2019-03-31"}
}

// served is an instance listening on 127.0.0.1 with TLS.
type served struct {
	inst *Instance
	addr string // 127.0.0.1:port
	port string
	pool *x509.CertPool
}

// serve runs inst on a free loopback port until the test ends.
func serve(t testing.TB, inst *Instance) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, inst, ln)
}

// serveOn runs inst on ln (a loopback listener, possibly wrapped) until
// the test ends.
func serveOn(t testing.TB, inst *Instance, ln net.Listener) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second): // a bound, for slow clients' tests too
			t.Error("Serve did not stop")
		}
	})
	caPEM, err := os.ReadFile(inst.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &served{inst: inst, addr: ln.Addr().String(), port: port, pool: pool}
}

// client returns a device client over TLS, presenting cert when given.
// keepAlive false makes every request open a new connection (and TLS
// handshake).
func (s *served) client(t testing.TB, cert *tls.Certificate, keepAlive bool) *devClient {
	d := s.ownClient(t, cert, keepAlive)
	t.Cleanup(d.c.CloseIdleConnections)
	return d
}

// ownClient is client without the cleanup: the caller closes its idle
// connections. Benchmarks that make a client per device use it, so that
// the clients do not pile up until the benchmark ends.
func (s *served) ownClient(t testing.TB, cert *tls.Certificate, keepAlive bool) *devClient {
	cfg := &tls.Config{RootCAs: s.pool, ServerName: "localhost"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 256,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		},
	}
	return &devClient{t: t, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: "https://localhost:" + s.port, scope: s.inst.IDScope(), version: "2019-03-31"}
}

// send makes one request; auth is the Authorization value ("" for none).
// body: nil for none, string or []byte as is, anything else as JSON.
func (d *devClient) send(method, path string, body any, auth string) (resp, error) {
	rd, err := encodeBody(body)
	if err != nil {
		return resp{}, err
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, b, err := do(d.c, req)
	if err != nil {
		return resp{}, err
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

func (d *devClient) must(method, path string, body any, auth string) resp {
	d.t.Helper()
	r, err := d.send(method, path, body, auth)
	if err != nil {
		d.t.Fatal(err)
	}
	return r
}

func (d *devClient) regPath(id string) string {
	return "/" + d.scope + "/registrations/" + id
}

func (d *devClient) register(id, auth string, body any) resp {
	d.t.Helper()
	return d.must(http.MethodPut, d.regPath(id)+"/register?api-version="+d.version, body, auth)
}

func (d *devClient) operation(id, opID, auth string) resp {
	d.t.Helper()
	return d.must(http.MethodGet, d.regPath(id)+"/operations/"+opID+"?api-version="+d.version, "{}", auth)
}

// provision registers and polls until the operation is terminal.
func (d *devClient) provision(id, auth string, body any) model.RegistrationOperationStatus {
	d.t.Helper()
	op, err := d.tryProvision(id, auth, body)
	if err != nil {
		d.t.Fatal(err)
	}
	return op
}

// tryProvision is provision without failing the test (for goroutines).
func (d *devClient) tryProvision(id, auth string, body any) (model.RegistrationOperationStatus, error) {
	if body == nil {
		body = map[string]string{"registrationId": id}
	}
	var op model.RegistrationOperationStatus
	r, err := d.send(http.MethodPut, d.regPath(id)+"/register?api-version="+d.version, body, auth)
	if err != nil {
		return op, err
	}
	if r.status != http.StatusAccepted {
		return op, fmt.Errorf("register %s: status %d: %s", id, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &op); err != nil || op.Status != model.RegAssigning || op.OperationID == "" {
		return op, fmt.Errorf("register %s: body %s", id, r.body)
	}
	if r.header.Get("Retry-After") == "" || !strings.HasSuffix(r.header.Get("Location"), d.regPath(id)+"/register") {
		return op, fmt.Errorf("register %s: headers %v", id, r.header)
	}
	for range 10 {
		r, err = d.send(http.MethodGet, d.regPath(id)+"/operations/"+op.OperationID+"?api-version="+d.version, "{}", auth)
		if err != nil {
			return op, err
		}
		if r.status != http.StatusOK && r.status != http.StatusAccepted {
			return op, fmt.Errorf("operation %s: status %d: %s", id, r.status, r.body)
		}
		op = model.RegistrationOperationStatus{}
		if err := json.Unmarshal(r.body, &op); err != nil {
			return op, err
		}
		if r.status == http.StatusOK {
			return op, nil
		}
	}
	return op, fmt.Errorf("operation %s never finished", id)
}

// deviceSAS signs a device token; sr is the resource exactly as it goes
// into the token (use srStyle to build it).
func deviceSAS(t testing.TB, key, sr, skn string, expiry time.Time) string {
	t.Helper()
	tok, err := sas.NewToken(key, sr, skn, expiry)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// srStyles are the ways SDKs spell the device resource.
var srStyles = map[string]func(scope, id string) string{
	"raw":       func(scope, id string) string { return scope + "/registrations/" + id },
	"upper %2F": func(scope, id string) string { return url.QueryEscape(scope + "/registrations/" + id) },
	"lower %2f": func(scope, id string) string {
		return strings.ReplaceAll(url.QueryEscape(scope+"/registrations/"+id), "%2F", "%2f")
	},
	"mixed case": func(scope, id string) string { return strings.ToUpper(scope) + "/Registrations/" + strings.ToUpper(id) },
}

// symToken is the usual device token: raw sr, skn registration, 1 hour.
func (d *devClient) symToken(id, key string) string {
	d.t.Helper()
	return deviceSAS(d.t, key, d.scope+"/registrations/"+id, "registration", time.Now().Add(time.Hour))
}

// hubToken signs a hub device token (no skn).
func hubToken(t testing.TB, hub, id, key string) string {
	t.Helper()
	return deviceSAS(t, key, url.QueryEscape(hub+"/devices/"+id), "", time.Now().Add(time.Hour))
}

// sendMessage posts one device-to-cloud message.
func (d *devClient) sendMessage(id, auth string) resp {
	d.t.Helper()
	return d.must(http.MethodPost, "/devices/"+id+"/messages/events?api-version=2020-09-30", `{"temperature":21}`, auth)
}

// putEnrollment creates or replaces an enrollment or group through the
// service API; path is /enrollments/{id} or /enrollmentGroups/{id}.
func (e *testEnv) put(path string, body any) {
	e.t.Helper()
	r := e.call(http.MethodPut, path, body, "If-Match", "*")
	mustStatus(e.t, r, 200)
}

func (e *testEnv) hubDevice(hub, id string) *store.HubDevice {
	e.t.Helper()
	d, err := e.inst.st.HubDevice(context.Background(), hub, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func symKeys(primary, secondary string) map[string]any {
	return map[string]any{"type": "symmetricKey", "symmetricKey": map[string]string{"primaryKey": primary, "secondaryKey": secondary}}
}

// Test keys (base64 of 32 bytes).
const (
	keyA = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
	keyB = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
	keyC = "Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M="
	keyD = "REREREREREREREREREREREREREREREREREREREREREQ="
)

func deriveKey(t testing.TB, groupKey, id string) string {
	t.Helper()
	k, err := sas.DeriveDeviceKey(groupKey, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
