package server

import (
	"bytes"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// Only a write that succeeded drops the device API's group index: refused
// writes (unauthenticated, unauthorized, invalid, conflicting) leave it.
func TestGroupIndexInvalidatedOnlyBySuccessfulWrites(t *testing.T) {
	e := newEnv(t)
	e.put("/enrollmentGroups/kept", symGroup("kept"))
	loaded := e.inst.h.device.GroupsLoaded
	tests := []struct {
		name         string
		policy       string // "" for no Authorization header
		method, path string
		body         any
		status       int
		invalidated  bool
	}{
		{"unauthenticated put", "", "PUT", "/enrollmentGroups/g1", symGroup("g1"), 401, false},
		{"unauthenticated delete", "", "DELETE", "/enrollmentGroups/kept", nil, 401, false},
		{"unauthenticated bulk", "", "POST", "/enrollmentGroups", `{"mode":"create","enrollmentGroups":[{"enrollmentGroupId":"g2","attestation":{"type":"symmetricKey"}}]}`, 401, false},
		{"read-only policy put", ReadOnlyPolicy, "PUT", "/enrollmentGroups/g3", symGroup("g3"), 401, false},
		{"invalid body", OwnerPolicy, "PUT", "/enrollmentGroups/g4", `{"enrollmentGroupId":"g4"`, 400, false},
		{"conflict", OwnerPolicy, "PUT", "/enrollmentGroups/kept", symGroup("kept"), 409, false},
		{"delete of a missing group", OwnerPolicy, "DELETE", "/enrollmentGroups/missing", nil, 404, false},
		{"read", OwnerPolicy, "GET", "/enrollmentGroups/kept", nil, 200, false},
		{"successful put", OwnerPolicy, "PUT", "/enrollmentGroups/g5", symGroup("g5"), 200, true},
		{"successful bulk", OwnerPolicy, "POST", "/enrollmentGroups", `{"mode":"create","enrollmentGroups":[{"enrollmentGroupId":"g6","attestation":{"type":"symmetricKey"}}]}`, 200, true},
		{"successful delete", OwnerPolicy, "DELETE", "/enrollmentGroups/g5", nil, 204, true},
	}
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.inst.h.device.LoadGroups(ctx); err != nil {
				t.Fatal(err)
			}
			if !loaded() {
				t.Fatal("index not loaded")
			}
			var headers []string
			if tt.policy == "" {
				headers = []string{"Authorization", ""}
			} else {
				e.usePolicy(tt.policy)
				defer e.usePolicy(OwnerPolicy)
			}
			r := e.call(tt.method, tt.path, tt.body, headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := !loaded(); got != tt.invalidated {
				t.Fatalf("invalidated = %v, want %v", got, tt.invalidated)
			}
		})
	}
}

// syncLog is a log destination safe for concurrent handlers.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A response that cannot be encoded answers 500 and is logged as an
// error, also when requests are not logged.
func TestEncodeFailureIsLogged(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
		t.Run(level.String(), func(t *testing.T) {
			var log syncLog
			h := &handler{log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: level})), now: time.Now}
			r := httptest.NewRequest(http.MethodGet, "/enrollments/x?api-version=2021-10-01", nil)
			rec := httptest.NewRecorder()
			sw := httpapi.NewStatusWriter(rec, r)
			httpapi.WriteJSON(sw, http.StatusOK, math.Inf(1))
			h.logRequest(sw, r, []string{"enrollments", "x"}, time.Now())
			if rec.Code != 500 {
				t.Fatalf("status %d", rec.Code)
			}
			out := log.String()
			if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "could not encode the response") || !strings.Contains(out, "route=/enrollments/{id}") || !strings.Contains(out, "float64") {
				t.Fatalf("log:\n%s", out)
			}
		})
	}
}

// newLoggedEnv is an instance whose log is returned.
func newLoggedEnv(t *testing.T, level slog.Level) (*testEnv, *syncLog) {
	t.Helper()
	log := &syncLog{}
	inst, err := Open(Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return envFor(t, inst), log
}

// secretSig is a signature that must never reach the log.
const secretSig = "SECRETSIGSECRETSIGSECRETSIGSECRETSIG0000"

// secretToken is a well-formed token with secretSig for sr.
func secretToken(sr, skn string) string {
	tok := "SharedAccessSignature sr=" + url.QueryEscape(sr) + "&sig=" + secretSig + "&se=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	if skn != "" {
		tok += "&skn=" + skn
	}
	return tok
}

// logLines returns the log's lines that contain all of want.
func logLines(log string, want ...string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		ok := line != ""
		for _, w := range want {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// At Info, every request is one line: method, route pattern, status,
// duration and, for an error, its precise reason, but no path and nothing
// of a credential.
func TestRequestLog(t *testing.T) {
	e, log := newLoggedEnv(t, slog.LevelInfo)
	d := e.deviceClient()
	e.put("/enrollments/lg-dev", map[string]any{"registrationId": "lg-dev", "attestation": symKeys(keyA, keyB)})
	scope := e.inst.IDScope()
	wrongKey := d.symToken("lg-dev", keyC)
	owner := e.token()
	tests := []struct {
		name, method, path string
		auth               string // "" removes the header
		body               any
		status             int
		want               []string // in the request's line
	}{
		{"refused device registration", "PUT", "/" + scope + "/registrations/lg-dev/register?api-version=2019-03-31", wrongKey, `{"registrationId":"lg-dev"}`, 401,
			[]string{"method=PUT", "route=/{idScope}/registrations/{id}/register", "status=401", "duration=", `lg-dev`}},
		{"device token with a secret signature", "PUT", "/" + scope + "/registrations/lg-dev/register?api-version=2019-03-31", secretToken(scope+"/registrations/lg-dev", "registration"), `{"registrationId":"lg-dev"}`, 401,
			[]string{"route=/{idScope}/registrations/{id}/register", "status=401", "reason="}},
		{"device poll", "GET", "/" + scope + "/registrations/lg-dev/operations/op-1?api-version=2019-03-31", wrongKey, nil, 401,
			[]string{"method=GET", "route=/{idScope}/registrations/{id}/operations/{operationId}", "status=401"}},
		{"service token with a secret signature", "GET", "/enrollments/lg-dev", secretToken("localhost", OwnerPolicy), nil, 401,
			[]string{"method=GET", "route=/enrollments/{id}", "status=401", "reason="}},
		{"service token with a field that is no name=value", "GET", "/enrollments/lg-dev", "SharedAccessSignature sr=localhost&" + secretSig + "&se=1&skn=" + OwnerPolicy, nil, 401,
			[]string{"route=/enrollments/{id}", "status=401", "reason="}},
		{"service token with a secret in sig's escapes", "GET", "/enrollments/lg-dev", "SharedAccessSignature sr=localhost&sig=" + secretSig + "%zz&se=1&skn=" + OwnerPolicy, nil, 401,
			[]string{"route=/enrollments/{id}", "status=401"}},
		{"not a SAS token", "GET", "/enrollments/lg-dev", "Bearer " + secretSig, nil, 401,
			[]string{"route=/enrollments/{id}", "status=401"}},
		{"hub token with a secret signature", "POST", "/devices/lg-dev/messages/events?api-version=2020-09-30", secretToken("localhost/devices/lg-dev", ""), `{"t":1}`, 401,
			[]string{"method=POST", "route=/devices/{id}/messages/events", "status=401", "reason="}},
		{"successful read", "GET", "/enrollments/lg-dev", owner, nil, 200,
			[]string{"method=GET", "route=/enrollments/{id}", "status=200"}},
		{"query", "POST", "/enrollments/query", owner, `{"query":"*"}`, 200,
			[]string{"method=POST", "route=/enrollments/query", "status=200"}},
		{"method not allowed", "PATCH", "/enrollments/lg-dev", owner, nil, 405,
			[]string{"method=PATCH", "route=/enrollments/{id}", "status=405"}},
		{"no route", "GET", "/nowhere/lg-dev", owner, nil, 404,
			[]string{"method=GET", `route="(no route)"`, "status=404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(log.String())
			r := e.call(tt.method, tt.path, tt.body, "Authorization", tt.auth)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			out := log.String()[before:]
			lines := logLines(out, "msg=request")
			if len(lines) != 1 {
				t.Fatalf("%d request lines:\n%s", len(lines), out)
			}
			for _, w := range append([]string{"level=INFO"}, tt.want...) {
				if !strings.Contains(lines[0], w) {
					t.Errorf("the line lacks %q:\n%s", w, lines[0])
				}
			}
			if tt.status >= 400 && !strings.Contains(lines[0], "reason=") && !strings.Contains(lines[0], noRoute) {
				t.Errorf("no reason:\n%s", lines[0])
			}
			if tt.status < 400 && strings.Contains(lines[0], "reason=") {
				t.Errorf("a reason for a success:\n%s", lines[0])
			}
			// Neither the path (with its IDs) nor any credential.
			for _, never := range []string{"SECRET", "/registrations/lg-dev", "/enrollments/lg-dev", "/devices/lg-dev", "/nowhere", scope + "/", "sig=", "Bearer", sasSig(owner), sasSig(wrongKey)} {
				if never != "" && strings.Contains(out, never) {
					t.Errorf("the log holds %q:\n%s", never, out)
				}
			}
		})
	}
	// The refused registration's reason is the precise one, not the
	// message the device got.
	line := logLines(log.String(), "route=/{idScope}/registrations/{id}/register", "status=401")[0]
	if strings.Contains(line, `reason=Unauthorized.`) || strings.Contains(line, `reason="Unauthorized."`) {
		t.Fatalf("the reason is the client's message:\n%s", line)
	}
}

// sasSig is the sig field of a token.
func sasSig(tok string) string {
	_, rest, _ := strings.Cut(tok, "sig=")
	sig, _, _ := strings.Cut(rest, "&")
	return sig
}

// Below Info, requests are not logged; errors still are.
func TestRequestLogOnlyErrorsWithoutVerbose(t *testing.T) {
	e, log := newLoggedEnv(t, slog.LevelError)
	mustStatus(t, e.call("GET", "/enrollments/x", nil, "Authorization", secretToken("localhost", OwnerPolicy)), 401)
	mustStatus(t, e.call("GET", "/enrollments/x", nil), 404)
	if out := log.String(); out != "" {
		t.Fatalf("log:\n%s", out)
	}
}

func TestMaskCredential(t *testing.T) {
	tests := []struct {
		name, s, auth, want string
	}{
		{"no header", "sig abcdefgh", "", "sig abcdefgh"},
		{"signature", "token abcdefgh=x", "SharedAccessSignature sr=a&sig=abcdefgh&se=1", "token ***=x"},
		{"decoded signature", "got ab/cd+ef=", "SharedAccessSignature sig=ab%2Fcd%2Bef%3D&sr=a", "got ***"},
		{"field without a name", `field "qwertyuiop" has no '='`, "SharedAccessSignature sr=a&qwertyuiop&se=1", `field "***" has no '='`},
		{"not a SAS token", "bad token zxcvbnm", "Bearer zxcvbnm", "bad token ***"},
		{"other fields kept", "sr a/registrations/b expired at 12", "SharedAccessSignature sr=a/registrations/b&sig=abcdefgh&se=12&skn=registration", "sr a/registrations/b expired at 12"},
		{"short values kept", "se 1", "SharedAccessSignature sig=a&se=1", "se 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskCredential(tt.s, tt.auth); got != tt.want {
				t.Fatalf("maskCredential(%q, %q) = %q, want %q", tt.s, tt.auth, got, tt.want)
			}
		})
	}
}
