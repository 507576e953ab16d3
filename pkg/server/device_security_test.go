package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// syncBuffer records the server log: each record as its message followed
// by key=value for every attribute, values as they are (unquoted), so that
// a test can look for a reason verbatim.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) logger() *slog.Logger { return slog.New(&recordHandler{b: b}) }

// mark is the position from which mustContain looks.
func (b *syncBuffer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// mustContain fails unless a record logged since mark contains want.
func (b *syncBuffer) mustContain(t testing.TB, mark int, want string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines[mark:] {
		if strings.Contains(l, want) {
			return
		}
	}
	t.Fatalf("no log record since the request contains %q; records:\n%s", want, strings.Join(b.lines[mark:], "\n"))
}

type recordHandler struct {
	b     *syncBuffer
	attrs []slog.Attr
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%s", a.Key, a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.b.mu.Lock()
	h.b.lines = append(h.b.lines, sb.String())
	h.b.mu.Unlock()
	return nil
}

func (h *recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordHandler{b: h.b, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// logEnv is an in-process environment whose server log is recorded.
func logEnv(t testing.TB, now func() time.Time) (*testEnv, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	inst, err := Open(Options{DataDir: t.TempDir(), Logger: logs.logger(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return envFor(t, inst), logs
}

// TestDeviceRefusalsRevealNothing checks that a refused device gets the
// same answer whether or not its registration ID is enrolled (and however
// it is enrolled), and that the precise reason is logged.
func TestDeviceRefusalsRevealNothing(t *testing.T) {
	e, logs := logEnv(t, nil)
	d := e.deviceClient()
	ek, srk := softPublic(t, tpm2.ECCEKTemplate), softPublic(t, tpm2.ECCSRKTemplate)
	otherEK := softPublic(t, tpm2.ECCEKTemplate)
	e.put("/enrollments/rv-sym", map[string]any{"registrationId": "rv-sym", "attestation": symKeys(keyA, keyB)})
	e.put("/enrollments/rv-off", map[string]any{"registrationId": "rv-off", "attestation": symKeys(keyA, keyB), "provisioningStatus": "disabled"})
	e.put("/enrollments/rv-tpm", tpmEnrollment("rv-tpm", ek, "enabled"))
	e.put("/enrollments/rv-x509", x509Individual("rv-x509", certstest.SelfSigned(t, "rv-x509").Cert, nil, "enabled"))
	e.put("/enrollmentGroups/rv-grp", map[string]any{"enrollmentGroupId": "rv-grp", "attestation": symKeys(keyC, keyD)})
	op := d.provision("rv-sym", d.symToken("rv-sym", keyA), nil)

	now := time.Now()
	sr := func(id string) string { return d.scope + "/registrations/" + id }
	lookup := func(id string) string { return d.regPath(id) + "?api-version=2021-06-01" }
	poll := func(id string) string {
		return d.regPath(id) + "/operations/" + op.OperationID + "?api-version=2019-03-31"
	}
	register := func(id string) string { return d.regPath(id) + "/register?api-version=2019-03-31" }
	type call struct {
		method, path, auth string
		body               any
	}
	tests := []struct {
		name   string
		calls  []call // all must answer alike
		reason string // logged for the first call
	}{
		{"wrong key", []call{
			{"PUT", register("rv-sym"), d.symToken("rv-sym", keyC), nil},
			{"PUT", register("rv-none"), d.symToken("rv-none", keyC), nil},
			{"PUT", register("rv-off"), d.symToken("rv-off", keyC), nil},
			{"PUT", register("rv-x509"), d.symToken("rv-x509", keyC), nil},
			{"PUT", register("rv-tpm"), d.symToken("rv-tpm", keyC), nil},
		}, "does not match the keys of registration \"rv-sym\""},
		{"expired token", []call{
			{"PUT", register("rv-sym"), deviceSAS(t, keyA, sr("rv-sym"), "registration", now.Add(-time.Hour)), nil},
			{"PUT", register("rv-none"), deviceSAS(t, deriveKey(t, keyC, "rv-none"), sr("rv-none"), "registration", now.Add(-time.Hour)), nil},
		}, "expired"},
		{"token for another registration", []call{
			{"PUT", register("rv-sym"), d.symToken("rv-other", keyA), nil},
			{"PUT", register("rv-none"), d.symToken("rv-other", keyA), nil},
		}, "does not name this registration"},
		{"not a token", []call{
			{"PUT", register("rv-sym"), "Bearer abc", nil},
			{"PUT", register("rv-none"), "Bearer abc", nil},
		}, "not a valid SharedAccessSignature token"},
		{"SAS token for an X.509 enrollment", []call{
			{"PUT", register("rv-x509"), d.symToken("rv-x509", keyA), nil},
		}, "is enrolled with x509 attestation"},
		{"TPM token without a pending challenge", []call{
			{"PUT", register("rv-tpm"), d.symToken("rv-tpm", keyA), map[string]any{"tpm": map[string]string{"endorsementKey": ek, "storageRootKey": srk}}},
		}, "no pending TPM challenge"},
		{"no credentials", []call{
			{"PUT", register("rv-sym"), "", nil},
			{"PUT", register("rv-none"), "", nil},
			{"GET", poll("rv-sym"), "", nil},
			{"GET", poll("rv-none"), "", nil},
			{"POST", lookup("rv-sym"), "", `{}`},
			{"POST", lookup("rv-none"), "", `{}`},
		}, "sent no credentials"},
		{"poll with a wrong key", []call{
			{"GET", poll("rv-sym"), d.symToken("rv-sym", keyC), nil},
			{"GET", poll("rv-none"), d.symToken("rv-none", keyC), nil},
		}, "does not match the keys"},
		{"status lookup with a wrong key", []call{
			{"POST", lookup("rv-sym"), d.symToken("rv-sym", keyC), `{}`},
			{"POST", lookup("rv-none"), d.symToken("rv-none", keyC), `{}`},
		}, "does not match the keys"},
		{"unknown ID scope", []call{
			{"PUT", "/0ne00000000/registrations/rv-sym/register?api-version=2019-03-31", d.symToken("rv-sym", keyA), nil},
		}, "ID scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, c := range tt.calls {
				mark := logs.mark()
				r := d.must(c.method, c.path, c.body, c.auth)
				mustStatus(t, r, 401, model.ErrUnauthorized)
				var body map[string]any
				r.json(t, &body)
				delete(body, "trackingId")
				delete(body, "timestampUtc")
				if len(body) != 2 || body["message"] != "Unauthorized." || body["errorCode"] != float64(model.ErrUnauthorized) {
					t.Fatalf("call %d: %s", i, r.body)
				}
				if strings.Contains(string(r.body), "rv-") {
					t.Fatalf("call %d names the registration: %s", i, r.body)
				}
				if i == 0 {
					logs.mustContain(t, mark, tt.reason)
				}
			}
		})
	}

	// A TPM challenge: an unknown ID, an ID enrolled with another
	// attestation and a TPM enrollment with another endorsement key all get
	// the same 404.
	tpmBody := map[string]any{"tpm": map[string]string{"endorsementKey": otherEK, "storageRootKey": srk}}
	var first []byte
	for i, c := range []struct{ id, reason string }{
		{"rv-none", "there is no individual enrollment"},
		{"rv-sym", "enrolled with symmetricKey attestation"},
		{"rv-x509", "enrolled with x509 attestation"},
		{"rv-tpm", "the endorsement key sent is not the enrolled one"},
	} {
		mark := logs.mark()
		r := d.register(c.id, "", tpmBody)
		mustStatus(t, r, 404, model.ErrEnrollmentNotFound)
		var body map[string]any
		r.json(t, &body)
		delete(body, "trackingId")
		delete(body, "timestampUtc")
		b, _ := json.Marshal(body)
		if i == 0 {
			first = b
		} else if string(b) != string(first) {
			t.Fatalf("%s: %s, unknown ID: %s", c.id, b, first)
		}
		if strings.Contains(string(r.body), c.id) {
			t.Fatalf("the answer names the registration: %s", r.body)
		}
		logs.mustContain(t, mark, c.reason)
	}
	// The enrolled endorsement key is challenged.
	if r := d.register("rv-tpm", "", map[string]any{"tpm": map[string]string{"endorsementKey": ek, "storageRootKey": srk}}); r.status != 401 || !strings.Contains(string(r.body), "authenticationKey") {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// tpmDevice is a TPM enrollment with software keys; the test plays the
// TPM by reading the challenge key from the store.
type tpmDevice struct {
	e       *testEnv
	d       *devClient
	id      string
	body    map[string]any
	keyName string
}

func newTPMDevice(t *testing.T, e *testEnv) *tpmDevice {
	t.Helper()
	ek, srk := softPublic(t, tpm2.ECCEKTemplate), softPublic(t, tpm2.ECCSRKTemplate)
	id, err := tpm.RegistrationIDFromEK(ek)
	if err != nil {
		t.Fatal(err)
	}
	e.put("/enrollments/"+id, tpmEnrollment(id, ek, "enabled"))
	return &tpmDevice{e: e, d: e.deviceClient(), id: id, body: map[string]any{"registrationId": id, "tpm": map[string]string{"endorsementKey": ek, "storageRootKey": srk}}}
}

// challenge runs the first call and returns the token the TPM would sign
// with the challenge key.
func (td *tpmDevice) challenge(t *testing.T) string {
	t.Helper()
	if r := td.d.register(td.id, "", td.body); r.status != 401 || !strings.Contains(string(r.body), "authenticationKey") {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	key, err := td.e.inst.st.TPMChallenge(context.Background(), td.id, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return deviceSAS(t, key, url.QueryEscape(td.d.scope+"/registrations/"+td.id), "registration", time.Now().Add(time.Hour))
}

// TestTPMChallengeSingleUse checks that the token made from a challenge
// registers the device once: a replay, sequential or concurrent, is
// refused and does not touch the device's hub key, while the device's
// polls and status lookups keep working.
func TestTPMChallengeSingleUse(t *testing.T) {
	e, logs := logEnv(t, nil)
	td := newTPMDevice(t, e)
	d := td.d
	tok := td.challenge(t)
	op := d.provision(td.id, tok, td.body)
	rs := op.RegistrationState
	if op.Status != model.RegAssigned || rs.TPM == nil {
		t.Fatalf("%+v", op)
	}
	hubKey := e.hubDevice(rs.AssignedHub, rs.DeviceID).PrimaryKey

	for i := range 3 {
		mark := logs.mark()
		mustStatus(t, d.register(td.id, tok, td.body), 401, model.ErrUnauthorized)
		logs.mustContain(t, mark, "no pending TPM challenge")
		if k := e.hubDevice(rs.AssignedHub, rs.DeviceID).PrimaryKey; k != hubKey {
			t.Fatalf("replay %d rotated the hub key", i)
		}
	}
	// The registration's own token still polls and looks up its status;
	// the device still reaches its hub.
	mustStatus(t, d.operation(td.id, op.OperationID, tok), 200)
	mustStatus(t, d.must(http.MethodPost, d.regPath(td.id)+"?api-version=2019-03-31", `{"registrationId":"`+td.id+`"}`, tok), 200)
	mustHub(t, d.sendMessage(rs.DeviceID, hubToken(t, rs.AssignedHub, rs.DeviceID, hubKey)), 204)

	// Concurrent replays of a fresh token: exactly one registers.
	tok = td.challenge(t)
	const callers = 8
	var (
		wg       sync.WaitGroup
		accepted atomic.Int32
		refused  atomic.Int32
		start    = make(chan struct{})
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := d.send(http.MethodPut, d.regPath(td.id)+"/register?api-version=2019-03-31", td.body, tok)
			switch {
			case err != nil:
			case r.status == http.StatusAccepted:
				accepted.Add(1)
			case r.status == http.StatusUnauthorized && strings.Contains(string(r.body), `"Unauthorized."`):
				refused.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if accepted.Load() != 1 || refused.Load() != callers-1 {
		t.Fatalf("%d accepted, %d refused of %d", accepted.Load(), refused.Load(), callers)
	}
}

// TestTPMChallengeExpires checks the challenge key is good for minutes.
func TestTPMChallengeExpires(t *testing.T) {
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	e, logs := logEnv(t, now)
	td := newTPMDevice(t, e)

	tests := []struct {
		name  string
		after time.Duration
		ok    bool
	}{
		{"used within its lifetime", device.TPMChallengeTTL - time.Second, true},
		{"used after its lifetime", device.TPMChallengeTTL + 2*time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := td.challenge(t)
			advance(tt.after)
			mark := logs.mark()
			r := td.d.register(td.id, tok, td.body)
			if tt.ok {
				mustStatus(t, r, 202)
				return
			}
			mustStatus(t, r, 401, model.ErrUnauthorized)
			logs.mustContain(t, mark, "no pending TPM challenge")
		})
	}
	if device.TPMChallengeTTL > 5*time.Minute {
		t.Fatalf("a TPM challenge lives %s", device.TPMChallengeTTL)
	}
}

// countingBody is a request body that counts the bytes the server reads.
type countingBody struct {
	r io.Reader
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestDeviceBodyReadAfterAuthentication checks a request with a token or a
// client certificate is authenticated before its body is read, and only a
// TPM device's first call is read unauthenticated.
func TestDeviceBodyReadAfterAuthentication(t *testing.T) {
	e, _ := logEnv(t, nil)
	d := e.deviceClient()
	e.put("/enrollments/ba-sym", map[string]any{"registrationId": "ba-sym", "attestation": symKeys(keyA, keyB)})
	tdev := newTPMDevice(t, e)
	stranger := certstest.New(t).Device(t, "ba-x509")
	op := d.provision("ba-sym", d.symToken("ba-sym", keyA), nil)

	huge := `{"payload":"` + strings.Repeat("x", 2*httpapi.MaxBodyBytes) + `"}`
	tpmFirst, _ := json.Marshal(tdev.body)
	tests := []struct {
		name, method, path, auth string
		peer                     []*x509.Certificate
		body                     string
		status, code             int
		read                     bool // whether the body may be read
	}{
		{"register, wrong key", "PUT", d.regPath("ba-sym") + "/register", d.symToken("ba-sym", keyC), nil, huge, 401, model.ErrUnauthorized, false},
		{"register, unknown device", "PUT", d.regPath("ba-none") + "/register", d.symToken("ba-none", keyC), nil, `{"registrationId":`, 401, model.ErrUnauthorized, false},
		{"register, untrusted certificate", "PUT", d.regPath("ba-x509") + "/register", "", stranger.Chain, huge, 401, model.ErrUnauthorized, false},
		{"TPM second call without a pending challenge", "PUT", d.regPath(tdev.id) + "/register", d.symToken(tdev.id, keyA), nil, string(tpmFirst), 401, model.ErrUnauthorized, false},
		{"poll, wrong key", "GET", d.regPath("ba-sym") + "/operations/" + op.OperationID, d.symToken("ba-sym", keyC), nil, huge, 401, model.ErrUnauthorized, false},
		{"poll, no credentials", "GET", d.regPath("ba-sym") + "/operations/" + op.OperationID, "", nil, huge, 401, model.ErrUnauthorized, false},
		{"status lookup, wrong key", "POST", d.regPath("ba-sym"), d.symToken("ba-sym", keyC), nil, huge, 401, model.ErrUnauthorized, false},
		{"status lookup, no credentials", "POST", d.regPath("ba-sym"), "", nil, huge, 401, model.ErrUnauthorized, false},
		// Authenticated: the body is read and checked.
		{"register, valid token, bad JSON", "PUT", d.regPath("ba-sym") + "/register", d.symToken("ba-sym", keyA), nil, `{"registrationId":`, 400, model.ErrBadRequest, true},
		{"register, valid token, body too large", "PUT", d.regPath("ba-sym") + "/register", d.symToken("ba-sym", keyA), nil, huge, 413, model.ErrRequestTooLarge, true},
		{"status lookup, valid token, other id in the body", "POST", d.regPath("ba-sym"), d.symToken("ba-sym", keyA), nil, `{"registrationId":"ba-other"}`, 400, model.ErrBadRequest, true},
		// The TPM first call has nothing but its body, bounded.
		{"TPM first call", "PUT", d.regPath(tdev.id) + "/register", "", nil, string(tpmFirst), 401, 0, true},
		{"no credentials, body too large", "PUT", d.regPath("ba-sym") + "/register", "", nil, huge, 413, model.ErrRequestTooLarge, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			req, err := http.NewRequest(tt.method, d.base+tt.path+"?api-version=2019-03-31", countingBody{strings.NewReader(tt.body), &n})
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.peer != nil {
				req.TLS = &tls.ConnectionState{PeerCertificates: tt.peer}
			}
			res, err := d.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{status: res.StatusCode, header: res.Header, body: b}
			if tt.code != 0 {
				mustStatus(t, r, tt.status, tt.code)
			} else if r.status != tt.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := n.Load(); (got > 0) != tt.read || got > httpapi.MaxBodyBytes+64*1024 {
				t.Fatalf("%d body bytes read (read allowed: %v)", got, tt.read)
			}
		})
	}
}
