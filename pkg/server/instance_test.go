package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func TestOpenBootstrapsDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	inst, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	info := inst.Info()
	if !regexp.MustCompile(`^0ne[0-9A-F]{8}$`).MatchString(info.IDScope) {
		t.Errorf("ID scope %q", info.IDScope)
	}
	if info.HostName != DefaultHostName || info.Address != DefaultAddr || info.CAFile != filepath.Join(dir, CAFileName) {
		t.Errorf("info %+v", info)
	}
	cs, err := sas.ParseConnectionString(info.ConnectionString)
	if err != nil || cs.HostName != "localhost:8443" || cs.KeyName != OwnerPolicy {
		t.Fatalf("connection string %q: %+v, %v", info.ConnectionString, cs, err)
	}
	ro, err := inst.ConnectionString(ReadOnlyPolicy)
	if err != nil || !strings.Contains(ro, "SharedAccessKeyName="+ReadOnlyPolicy) {
		t.Fatalf("read-only connection string %q, %v", ro, err)
	}
	if _, err := inst.ConnectionString("nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown policy: %v", err)
	}
	ps, err := inst.st.Policies(context.Background())
	if err != nil || len(ps) != 2 {
		t.Fatalf("policies %+v, %v", ps, err)
	}
	for _, p := range ps {
		if p.PrimaryKey == p.SecondaryKey || len(p.PrimaryKey) != 44 {
			t.Errorf("policy %s keys %q %q", p.Name, p.PrimaryKey, p.SecondaryKey)
		}
	}
	if !ps[0].HasRight(RightServiceConfig) || ps[1].HasRight(RightEnrollmentWrite) || !ps[1].HasRight(RightRegistrationStatusRead) {
		t.Errorf("rights %+v", ps)
	}
	modes := map[string]os.FileMode{
		".": 0o700, CAFileName: 0o644, CAKeyFileName: 0o600, ServerCertFile: 0o644, ServerKeyFileName: 0o600, store.FileName: 0o600,
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	ca, err := certs.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if !ca[0].IsCA || ca[0].NotAfter.Before(time.Now().Add(9*365*24*time.Hour)) {
		t.Errorf("CA: isCA %v, not after %v", ca[0].IsCA, ca[0].NotAfter)
	}
	leaf := inst.TLSConfig().Certificates[0].Leaf
	pool := x509.NewCertPool()
	pool.AddCert(ca[0])
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
			t.Errorf("server certificate for %s: %v", h, err)
		}
	}
	if inst.TLSConfig().ClientAuth != tls.RequestClientCert {
		t.Error("client certificates are not requested")
	}
}

func TestOpenTwiceReusesIdentity(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(Options{DataDir: dir, HostName: "dps.example.test", Addr: "127.0.0.1:443"})
	if err != nil {
		t.Fatal(err)
	}
	first := a.Info()
	a.Close()
	if first.ConnectionString != "HostName=dps.example.test;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey="+mustKey(t, first.ConnectionString) {
		t.Fatalf("port 443 must be left out: %q", first.ConnectionString)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	srvBefore, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))

	// No options: the last host name and address are reused, nothing changes.
	b, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Info(); got != first {
		t.Fatalf("second open info %+v, want %+v", got, first)
	}
	b.Close()
	srvAfter, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))
	if !bytes.Equal(srvBefore, srvAfter) {
		t.Fatal("server certificate re-issued without a reason")
	}

	// A new host name re-issues the server certificate, not the CA.
	c, err := Open(Options{DataDir: dir, HostName: "other.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info := c.Info()
	if info.IDScope != first.IDScope || info.HostName != "other.example.test" || mustKey(t, info.ConnectionString) != mustKey(t, first.ConnectionString) {
		t.Fatalf("info after host change %+v", info)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	if !bytes.Equal(caBefore, caAfter) {
		t.Fatal("CA changed")
	}
	if err := c.TLSConfig().Certificates[0].Leaf.VerifyHostname("other.example.test"); err != nil {
		t.Fatal(err)
	}
}

func TestServerCertificateRenewedNearExpiry(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	old := a.TLSConfig().Certificates[0].Leaf
	a.Close()
	caBefore, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	later := func() time.Time { return time.Now().Add(340 * 24 * time.Hour) }
	b, err := Open(Options{DataDir: dir, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	renewed := b.TLSConfig().Certificates[0].Leaf
	if !renewed.NotAfter.After(old.NotAfter) {
		t.Fatalf("server certificate not renewed: not after %v, was %v", renewed.NotAfter, old.NotAfter)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, CAFileName))
	if !bytes.Equal(caBefore, caAfter) {
		t.Fatal("the CA was replaced although it is far from expiry")
	}
}

func mustKey(t *testing.T, connStr string) string {
	t.Helper()
	cs, err := sas.ParseConnectionString(connStr)
	if err != nil {
		t.Fatal(err)
	}
	return cs.Key
}

func TestOpenRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":         {},
		"host with port": {HostName: "localhost:8443"},
		"bad addr":       {Addr: "8443"},
		"half TLS":       {TLSCertFile: "x.pem"},
		"missing TLS":    {TLSCertFile: "nope.pem", TLSKeyFile: "nope-key.pem"},
	} {
		t.Run(name, func(t *testing.T) {
			if o.DataDir == "" && name != "no dir" {
				o.DataDir = t.TempDir()
			}
			inst, err := Open(o)
			if err == nil {
				inst.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestTLSOverride(t *testing.T) {
	dir := t.TempDir()
	root := newTestCert(t, subject("override", "x", "US"), nil, true)
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	keyPEM, err := certs.EncodePrivateKeyPEM(root.key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certPath, []byte(root.pem()), 0o600)
	os.WriteFile(keyPath, keyPEM, 0o600)
	inst, err := Open(Options{DataDir: filepath.Join(dir, "d"), TLSCertFile: certPath, TLSKeyFile: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	got := inst.TLSConfig().Certificates[0].Certificate[0]
	if !bytes.Equal(got, root.cert.Raw) {
		t.Fatal("TLS certificate override not used")
	}
}

// Two instances on one data directory (a running service and a CLI)
// share the identity and the data, also while both write.
func TestTwoInstancesShareDataDir(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Info() != b.Info() {
		t.Fatalf("identities differ: %+v %+v", a.Info(), b.Info())
	}
	ea, eb := envFor(t, a), envFor(t, b)
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for w, e := range []*testEnv{ea, eb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var items []any
				for j := range 5 {
					items = append(items, symEnrollment(fmt.Sprintf("w%d-%d-%d", w, i, j)))
				}
				r, err := e.try(http.MethodPost, "/enrollments", map[string]any{"mode": "create", "enrollments": items})
				if err != nil {
					errs <- err.Error()
					return
				}
				if r.status != 200 || !strings.Contains(string(r.body), `"isSuccessful":true`) {
					errs <- fmt.Sprintf("worker %d: %d %s", w, r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	mustStatus(t, eb.call(http.MethodGet, "/enrollments/w0-19-4", nil), 200)
	mustStatus(t, ea.call(http.MethodGet, "/enrollments/w1-0-0", nil), 200)
	n, err := b.st.CountEnrollments(context.Background())
	if err != nil || n != 200 {
		t.Fatalf("count %d, %v", n, err)
	}
}

func TestServeOverTLS(t *testing.T) {
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Serve(ctx, ln) }()

	_, port, _ := net.SplitHostPort(ln.Addr().String())
	info := inst.Info()
	caPEM, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ln.Addr().String())
		},
	}}
	defer client.CloseIdleConnections()
	cs, _ := sas.ParseConnectionString(info.ConnectionString)
	tok, _ := sas.NewToken(cs.Key, cs.Host(), cs.KeyName, time.Now().Add(time.Hour))
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port} {
		req, _ := http.NewRequest(http.MethodPut, "https://"+host+"/enrollments/tls-dev?api-version=2021-10-01",
			strings.NewReader(`{"registrationId":"tls-dev","attestation":{"type":"symmetricKey"}}`))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("If-Match", "*")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), `"registrationId":"tls-dev"`) {
			t.Fatalf("%s: %d %s", host, res.StatusCode, body)
		}
	}
	// On the wire the paging headers keep the lower-case names the C SDK
	// looks up.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /enrollments/query?api-version=2018-04-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", tok)
	raw, _ := io.ReadAll(conn)
	conn.Close()
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "\r\nx-ms-item-type: Enrollment\r\n", "\r\nx-ms-max-item-count: 100\r\n", "\r\nContent-Type: application/json; charset=utf-8\r\n"} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("raw response lacks %q:\n%s", want, raw)
		}
	}

	// Serve has recorded the listener's address; a later Open (e.g. a CLI)
	// sees it too.
	info = inst.Info()
	if info.Address != ln.Addr().String() || !strings.HasPrefix(info.ConnectionString, "HostName=localhost:"+port+";") {
		t.Fatalf("info after Serve: %+v", info)
	}
	if v, err := inst.st.Meta(context.Background(), store.MetaAddress); err != nil || v != ln.Addr().String() {
		t.Fatalf("stored address %q, %v", v, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestTransport(t *testing.T) {
	e := newEnv(t)
	mustStatus(t, e.call(http.MethodPut, "/enrollments/tr-1", symEnrollment("tr-1")), 200)
	// Concurrent use.
	var wg sync.WaitGroup
	fails := make(chan int, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "https://localhost/enrollments/tr-1?api-version=2021-10-01", nil)
			req.Header.Set("Authorization", e.token())
			res, err := e.client.Do(req)
			if err != nil {
				fails <- -1
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				fails <- res.StatusCode
			}
		}()
	}
	wg.Wait()
	close(fails)
	for s := range fails {
		t.Fatalf("concurrent request: %d", s)
	}

	// Response fields and request rewriting.
	var seen *http.Request
	rt := Transport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", string(b))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	}))
	req, _ := http.NewRequest(http.MethodPost, "https://example.test/a%2Fb?x=1", strings.NewReader("ping"))
	res, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || res.Status != "201 Created" || string(body) != "hello" || res.ContentLength != 5 ||
		res.Header.Get("X-Echo") != "ping" || res.Header.Get("Content-Length") != "5" || res.Request != req || res.ProtoMajor != 1 {
		t.Fatalf("response %+v body %q", res, body)
	}
	if seen.Host != "example.test" || seen.RequestURI != "/a%2Fb?x=1" || seen.ContentLength != 4 {
		t.Fatalf("server request host %q uri %q length %d", seen.Host, seen.RequestURI, seen.ContentLength)
	}

	// Context: a cancelled request fails with the context's error and the
	// handler sees the cancellation.
	release := make(chan struct{})
	handlerSaw := make(chan error, 1)
	slow := Transport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		handlerSaw <- r.Context().Err()
		close(release)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "https://x/", nil)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := slow.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled round trip: %v", err)
	}
	<-release
	if err := <-handlerSaw; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler saw %v", err)
	}
	if _, err := slow.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("round trip with a done context: %v", err)
	}

	// A 204 has no body and no content length header.
	res, err = Transport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})).RoundTrip(httpReq(t, "DELETE", "https://x/"))
	if err != nil || res.StatusCode != 204 || res.ContentLength != 0 || res.Header.Get("Content-Length") != "" {
		t.Fatalf("204: %+v, %v", res, err)
	}
	// A panicking handler is an error, not a crash.
	_, err = Transport(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })).RoundTrip(httpReq(t, "GET", "https://x/"))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: %v", err)
	}
}

func httpReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPanicAnswers500(t *testing.T) {
	e := newEnv(t)
	e.inst.h.apis[ServiceAPI] = panicking{e.inst.h.apis[ServiceAPI]}
	r := e.call(http.MethodGet, "/enrollments/x", nil)
	mustStatus(t, r, 500, model.ErrInternal)
}

// panicking is an API that panics while serving any route.
type panicking struct{ routeServer }

func (panicking) ServeRoute(http.ResponseWriter, *http.Request, *Route, map[string]string, []string) {
	panic("bug")
}
