package mqttbroker_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const (
	testScope = "0ne00000001"
	testHub   = "hub1.local"
	// waitLimit bounds every wait of these tests.
	waitLimit = 30 * time.Second
)

// env is a broker on 127.0.0.1 over TLS and over WebSockets.
type env struct {
	broker  *mqttbroker.Broker
	hub     *mqttbroker.Hub
	prov    *fakeProvisioner
	auth    *fakeAuth
	ca      *certstest.CA
	roots   *x509.CertPool
	tlsAddr string
	wsAddr  string
}

func startEnv(t testing.TB, hubOpts mqttbroker.HubOptions, opts ...func(*mqttbroker.Options)) *env {
	t.Helper()
	e := &env{ca: certstest.New(t), prov: newFakeProvisioner(), auth: &fakeAuth{keys: map[string]string{}, thumbs: map[string]string{}}}
	var tc tls.Certificate
	tc, e.roots = certstest.Server(t, "127.0.0.1", testHub)
	conf := &tls.Config{
		Certificates: []tls.Certificate{tc},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	e.hub = mqttbroker.NewHub(testHub, e.auth, hubOpts)
	bo := mqttbroker.Options{Provisioner: e.prov, Hubs: []*mqttbroker.Hub{e.hub}}
	for _, o := range opts {
		o(&bo)
	}
	e.broker = mqttbroker.New(bo)
	l, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Start(l); err != nil {
		t.Fatal(err)
	}
	e.tlsAddr = l.Addr().String()
	mux := http.NewServeMux()
	mux.Handle(mqttbroker.WebSocketPath, e.broker.WebSocketHandler())
	hs := httptest.NewUnstartedServer(mux)
	hs.TLS = conf.Clone()
	hs.StartTLS()
	e.wsAddr = hs.Listener.Addr().String()
	t.Cleanup(func() {
		_ = e.broker.Close()
		hs.Close()
		// Ends the hub's reporting goroutine, if it has an ActivityRecorder.
		_ = e.hub.Close(context.Background())
	})
	return e
}

// endpoint is the TLS or WebSocket endpoint, with cert as the client
// certificate if given.
func (e *env) endpoint(ws bool, cert *certstest.Device) mqttdevice.Endpoint {
	conf := &tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		der := [][]byte{}
		for _, c := range cert.Chain {
			der = append(der, c.Raw)
		}
		conf.Certificates = []tls.Certificate{{Certificate: der, PrivateKey: cert.Key, Leaf: cert.Cert}}
	}
	ep := mqttdevice.Endpoint{Address: e.tlsAddr, TLS: conf, ConnectTimeout: waitLimit}
	if ws {
		ep.Address, ep.WebSocket = e.wsAddr, true
	}
	return ep
}

func newKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// fakeProvisioner is a DPS with individual enrollments: symmetric keys and
// X.509 leaf certificates by registration ID. Register answers 202 with
// retry-after 1, the first status lookup 202 again, the next one 200
// assigned. Registrations in throttle get a 429 first.
type fakeProvisioner struct {
	mu       sync.Mutex
	keys     map[string]string
	certs    map[string]string // thumbprints
	throttle map[string]bool
	calls    map[string][]string // per registration: "register", "status"
}

func newFakeProvisioner() *fakeProvisioner {
	return &fakeProvisioner{keys: map[string]string{}, certs: map[string]string{}, throttle: map[string]bool{}, calls: map[string][]string{}}
}

func (p *fakeProvisioner) check(idScope, regID string, cred mqttbroker.Credential) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idScope != testScope {
		return errors.New("unknown scope")
	}
	if len(cred.Chain) > 0 {
		if p.certs[regID] != "" && certs.Thumbprint(cred.Chain[0], crypto.SHA256) == p.certs[regID] {
			return nil
		}
		return errors.New("certificate")
	}
	tok, err := sas.ParseToken(cred.SASToken)
	if err != nil {
		return err
	}
	if !strings.EqualFold(tok.Resource, idScope+"/registrations/"+regID) || p.keys[regID] == "" {
		return errors.New("resource")
	}
	return tok.Verify(p.keys[regID], time.Now())
}

func unauthorized() (int, []byte, int, error) {
	b, _ := json.Marshal(model.ErrorDetails{ErrorCode: model.ErrUnauthorized, Message: "Unauthorized."})
	return 401, b, 0, nil
}

func (p *fakeProvisioner) Register(_ context.Context, idScope, regID string, cred mqttbroker.Credential, body []byte) (int, []byte, int, error) {
	if err := p.check(idScope, regID, cred); err != nil {
		return unauthorized()
	}
	var reg model.DeviceRegistration
	if err := json.Unmarshal(body, &reg); err != nil || reg.RegistrationID != regID {
		return 400, []byte(`{"errorCode":400004,"message":"Invalid RegistrationId."}`), 0, nil
	}
	p.mu.Lock()
	p.calls[regID] = append(p.calls[regID], "register")
	if p.throttle[regID] {
		delete(p.throttle, regID)
		p.mu.Unlock()
		return 429, []byte(`{"errorCode":429001,"message":"Throttled."}`), 1, nil
	}
	p.mu.Unlock()
	b, _ := json.Marshal(model.RegistrationOperationStatus{OperationID: "op-" + regID, Status: "assigning"})
	return 202, b, 1, nil
}

func (p *fakeProvisioner) OperationStatus(_ context.Context, idScope, regID, opID string, cred mqttbroker.Credential) (int, []byte, int, error) {
	if err := p.check(idScope, regID, cred); err != nil {
		return unauthorized()
	}
	if opID != "op-"+regID {
		return 404, []byte(`{"errorCode":404000,"message":"Operation not found."}`), 0, nil
	}
	p.mu.Lock()
	p.calls[regID] = append(p.calls[regID], "status")
	n := 0
	for _, c := range p.calls[regID] {
		if c == "status" {
			n++
		}
	}
	p.mu.Unlock()
	st := model.RegistrationOperationStatus{OperationID: opID, Status: "assigning"}
	if n >= 2 {
		st.Status = "assigned"
		st.RegistrationState = &model.DeviceRegistrationResult{RegistrationID: regID, AssignedHub: testHub, DeviceID: regID, Status: "assigned"}
	}
	b, _ := json.Marshal(st)
	if st.Status == "assigned" {
		return 200, b, 0, nil
	}
	return 202, b, 1, nil
}

func (p *fakeProvisioner) history(regID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls[regID]...)
}

// fakeAuth is a hub registry: device keys and certificate thumbprints.
type fakeAuth struct {
	mu     sync.Mutex
	keys   map[string]string
	thumbs map[string]string
}

func (a *fakeAuth) add(id, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[id] = key
}

func (a *fakeAuth) AuthenticateDevice(_ context.Context, hubHost, deviceID string, cred mqttbroker.Credential) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(cred.Chain) > 0 {
		if a.thumbs[deviceID] != "" && certs.Thumbprint(cred.Chain[0], crypto.SHA256) == a.thumbs[deviceID] {
			return nil
		}
		return mqttbroker.ErrUnauthorized
	}
	key, ok := a.keys[deviceID]
	if !ok {
		return mqttbroker.ErrUnknownDevice
	}
	tok, err := sas.ParseToken(cred.SASToken)
	if err != nil {
		return err
	}
	if want := hubHost + "/devices/" + deviceID; !strings.EqualFold(tok.Resource, want) {
		return fmt.Errorf("%w: sr %q, want %q", mqttbroker.ErrUnauthorized, tok.Resource, want)
	}
	return tok.Verify(key, time.Now())
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// sasFor is a device SAS token for the test hub.
func sasFor(t testing.TB, id, key string) string {
	t.Helper()
	tok, err := sas.NewToken(key, url.QueryEscape(testHub+"/devices/"+id), "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
