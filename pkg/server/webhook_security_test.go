package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// probeTarget is a web server on 127.0.0.1 that counts its requests.
type probeTarget struct {
	*httptest.Server
	hits atomic.Int64
}

func newProbeTarget(t *testing.T, h http.HandlerFunc) *probeTarget {
	p := &probeTarget{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// webhookEnv is an instance with a log, and a device client.
type webhookEnv struct {
	e   *testEnv
	d   *devClient
	log *syncLog
}

func newWebhookEnv(t *testing.T, allow []string) *webhookEnv {
	t.Helper()
	log := &syncLog{}
	inst, err := Open(Options{DataDir: t.TempDir(), WebhookAllow: allow, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	e := envFor(t, inst)
	return &webhookEnv{e: e, d: e.deviceClient(), log: log}
}

// register enrolls id with custom allocation by webhookURL and registers
// it.
func (w *webhookEnv) register(id, webhookURL string) model.RegistrationOperationStatus {
	w.e.put("/enrollments/"+id, map[string]any{
		"registrationId": id, "attestation": symKeys(keyA, keyB), "allocationPolicy": "custom",
		"customAllocationDefinition": map[string]string{"webhookUrl": webhookURL, "apiVersion": "2021-10-01"},
	})
	return w.d.provision(id, w.d.symToken(id, keyA), nil)
}

// answer writes a webhook answer.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

const goodAnswer = `{"iotHubHostName":"localhost"}`

// Whatever goes wrong with a webhook call, the device and the service API
// learn the same generic message: the webhook cannot tell them what is
// listening where. The reason goes to the server log, without the URL's
// path or query.
func TestWebhookFailuresAreGeneric(t *testing.T) {
	w := newWebhookEnv(t, nil)
	elsewhere := newProbeTarget(t, answer(200, goodAnswer))
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: closedURL
		logs    string
	}{
		{"server error", answer(500, `{}`), "answered HTTP 500"},
		{"not found", answer(404, `not here`), "answered HTTP 404"},
		{"redirect", http.RedirectHandler(elsewhere.URL+"/x", http.StatusFound).ServeHTTP, "answered HTTP 302 (a redirect"},
		{"temporary redirect", http.RedirectHandler(elsewhere.URL+"/x", http.StatusTemporaryRedirect).ServeHTTP, "answered HTTP 307"},
		{"connection refused", nil, "call failed"},
		{"not JSON", answer(200, `<html>hello</html>`), "not an AllocationResponse"},
		{"no hub", answer(200, `{"payload":{}}`), "no iotHubHostName"},
		{"nested too deep", answer(200, `{"iotHubHostName":"localhost","payload":`+nest(httpapi.MaxJSONDepth)+`}`), "deeper than 64 levels"},
		{"not UTF-8", answer(200, "{\"iotHubHostName\":\"localhost\",\"payload\":\"\xff\"}"), "not valid UTF-8"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := closedURL
			if tt.handler != nil {
				base = newProbeTarget(t, tt.handler).URL
			}
			before := len(w.log.String())
			id := fmt.Sprintf("wh-%d", i)
			op := w.register(id, base+"/api/allocate?code=SECRETCODE")
			rs := op.RegistrationState
			if op.Status != model.RegFailed || rs == nil || rs.ErrorCode != model.ErrHubNotSpecified || rs.ErrorMessage != webhookFailed {
				t.Fatalf("%+v %+v", op, rs)
			}
			// The service API shows the same.
			var st model.DeviceRegistrationState
			w.e.call(http.MethodGet, "/registrations/"+id, nil).json(t, &st)
			if st.ErrorMessage != webhookFailed {
				t.Fatalf("service view %+v", st)
			}
			out := w.log.String()[before:]
			host := strings.TrimPrefix(base, "http://")
			if !strings.Contains(out, "custom allocation webhook failed") || !strings.Contains(out, "host="+host) || !strings.Contains(out, tt.logs) || !strings.Contains(out, "level=ERROR") {
				t.Fatalf("log lacks the reason %q or host %s:\n%s", tt.logs, host, out)
			}
			if strings.Contains(out, "SECRETCODE") || strings.Contains(out, "/api/allocate") {
				t.Fatalf("log holds the URL's path or query:\n%s", out)
			}
		})
	}
	if n := elsewhere.hits.Load(); n != 0 {
		t.Fatalf("a redirect was followed (%d requests)", n)
	}
}

// serve --webhook-allow: a call goes only where the list allows, checked
// on the address dialled.
func TestWebhookAllowList(t *testing.T) {
	hook := newProbeTarget(t, answer(200, goodAnswer))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))
	byIP := "http://127.0.0.1:" + port + "/alloc"
	byName := "http://localhost:" + port + "/alloc"
	tests := []struct {
		name    string
		allow   []string
		url     string
		allowed bool
	}{
		{"no list", nil, byIP, true},
		{"the address", []string{"127.0.0.1"}, byIP, true},
		{"a range with the address", []string{"192.0.2.0/24", "127.0.0.0/8"}, byIP, true},
		{"an IPv4-mapped address", []string{"::ffff:127.0.0.1"}, byIP, true},
		{"a range without the address", []string{"10.0.0.0/8"}, byIP, false},
		{"a neighbour address", []string{"127.0.0.2"}, byIP, false},
		{"IPv6 loopback only", []string{"::1/128"}, byIP, false},
		{"a host name does not allow an address", []string{"localhost"}, byIP, false},
		{"the host name", []string{"LOCALHOST."}, byName, true},
		{"another host name", []string{"alloc.example.com", "*.example.com"}, byName, false},
		// The name resolves to an address outside the list: refused when
		// dialling, whatever the name.
		{"a name resolving outside the ranges", []string{"10.0.0.0/8", "192.0.2.1"}, byName, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWebhookEnv(t, tt.allow)
			before := hook.hits.Load()
			op := w.register(fmt.Sprintf("al-%d", i), tt.url)
			hits := hook.hits.Load() - before
			if tt.allowed {
				if op.Status != model.RegAssigned || hits != 1 {
					t.Fatalf("%d calls: %+v %+v", hits, op, op.RegistrationState)
				}
				return
			}
			if op.Status != model.RegFailed || op.RegistrationState.ErrorMessage != webhookFailed || hits != 0 {
				t.Fatalf("%d calls: %+v %+v", hits, op, op.RegistrationState)
			}
			if out := w.log.String(); !strings.Contains(out, "not allowed by the webhook allow list") {
				t.Fatalf("log:\n%s", out)
			}
		})
	}
}

func TestParseWebhookAllow(t *testing.T) {
	tests := []struct {
		entry   string
		wantErr bool
	}{
		{"10.0.0.0/8", false},
		{"10.1.2.3/8", false}, // masked
		{"2001:db8::/32", false},
		{"192.0.2.7", false},
		{"::1", false},
		{"alloc.example.com", false},
		{"Alloc.Example.COM.", false},
		{"*.example.com", false},
		{"functions_host.internal", false},
		{"", true},
		{"10.0.0.0/33", true},
		{"http://alloc.example.com", true},
		{"alloc.example.com:443", true},
		{"alloc.example.com/path", true},
		{"two words", true},
		{"*", true},
		{"*.", true},
		{"a..b", true},
		{"*.*.example.com", true},
		{strings.Repeat("a", 64) + ".com", true},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			err := CheckWebhookAllow([]string{"192.0.2.0/24", tt.entry})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", strings.TrimSpace(tt.entry))) {
				t.Fatalf("the error does not name the entry: %v", err)
			}
		})
	}
	if err := CheckWebhookAllow(nil); err != nil {
		t.Fatal(err)
	}
	// Open refuses a bad entry, before touching the data directory.
	dir := t.TempDir() + "/new"
	if _, err := Open(Options{DataDir: dir, WebhookAllow: []string{"10.0.0.0/40"}}); err == nil || !strings.Contains(err.Error(), `"10.0.0.0/40"`) {
		t.Fatalf("Open: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created: %v", err)
	}
	// A list cannot be enforced through a transport that is not net/http's.
	if _, err := Open(Options{DataDir: dir, WebhookAllow: []string{"10.0.0.0/8"}, WebhookClient: &http.Client{Transport: Transport(http.NotFoundHandler())}}); err == nil {
		t.Fatal("Open accepted a list with a foreign transport")
	}
}
