package provisioning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const (
	scope  = "0ne00000A0A"
	regID  = "dev-1"
	devKey = "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="
	opID   = "5.316aac5bdc130deb.b1e02da8-c3a0-4ff2-a121-7ea7a6b7f550"
)

// seen is one request the fake device API received.
type seen struct {
	Method, Path, APIVersion, Auth string
	Body                           string
	ClientCN                       string
}

// reply is one scripted answer.
type reply struct {
	status     int
	retryAfter string
	body       string
}

// fakeAPI answers requests with the scripted replies in order (the last
// one repeats) and records them.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	seen    []seen
	// answer, if set, replaces the script.
	answer func(n int, s seen) reply
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Auth: r.Header.Get("Authorization"), Body: string(b)}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		s.ClientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	f.mu.Lock()
	n := len(f.seen)
	f.seen = append(f.seen, s)
	var rp reply
	if f.answer != nil {
		rp = f.answer(n, s)
	} else {
		rp = f.replies[min(n, len(f.replies)-1)]
	}
	f.mu.Unlock()
	if rp.retryAfter != "" {
		w.Header().Set("Retry-After", rp.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rp.status)
	io.WriteString(w, rp.body)
}

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

// startFake serves f over TLS on 127.0.0.1, requesting client
// certificates, and returns the host:port and the roots to trust.
func startFake(t *testing.T, f *fakeAPI) (string, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return strings.TrimPrefix(srv.URL, "https://"), roots
}

func newTestClient(t *testing.T, host string, roots *x509.CertPool, att Attester, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{
		Host:            host,
		IDScope:         scope,
		RegistrationID:  regID,
		Attester:        att,
		RootCAs:         roots,
		MinPollInterval: time.Millisecond,
		MaxPollInterval: 5 * time.Millisecond,
		Timeout:         10 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func symKey(t *testing.T) *SymmetricKey {
	t.Helper()
	k, err := NewSymmetricKey(devKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func assigning(op string) string {
	return fmt.Sprintf(`{"operationId":%q,"status":"assigning"}`, op)
}

const assignedBody = `{"operationId":"` + opID + `","status":"assigned","registrationState":{"registrationId":"dev-1","assignedHub":"hub.azure-devices.net","deviceId":"dev-1","status":"assigned","substatus":"initialAssignment","etag":"abc"}}`

// fakeChallenger is a TPM-like attester without a TPM: it answers the
// challenge by remembering the blob and then signs with a fixed token.
type fakeChallenger struct {
	mu         sync.Mutex
	challenges []string
	assigned   *model.DeviceRegistrationResult
	failAssign error
}

func (*fakeChallenger) Type() string { return model.AttestationTPM }
func (f *fakeChallenger) Reset() {
	f.mu.Lock()
	f.challenges = nil
	f.mu.Unlock()
}
func (f *fakeChallenger) Challenge(_ context.Context, ch *model.TPMChallenge) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch.AuthenticationKey == "bad" {
		return errors.New("cannot import")
	}
	f.challenges = append(f.challenges, ch.AuthenticationKey)
	return nil
}
func (f *fakeChallenger) Authorization(context.Context, string, string, time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.challenges) == 0 {
		return "", nil
	}
	return "SharedAccessSignature sr=x&sig=tpm-" + f.challenges[len(f.challenges)-1] + "&se=1&skn=registration", nil
}
func (f *fakeChallenger) PrepareRegistration(r *model.DeviceRegistration) {
	r.TPM = &model.TPMAttestation{EndorsementKey: "RUs=", StorageRootKey: "U1JL"}
}
func (f *fakeChallenger) Assigned(_ context.Context, r *model.DeviceRegistrationResult) error {
	f.assigned = r
	return f.failAssign
}

func TestRegister(t *testing.T) {
	challenge := `{"message":"TPM challenge","authenticationKey":"blob1","keyName":"registration"}`
	tpmAssigned := `{"operationId":"op","status":"assigned","registrationState":{"registrationId":"dev-1","assignedHub":"hub","deviceId":"dev-1","status":"assigned","tpm":{"authenticationKey":"blob2"}}}`
	tests := []struct {
		name    string
		replies []reply
		att     func(t *testing.T) Attester
		mod     func(*Options)
		// check runs on the result, the error and the requests seen.
		check func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, att Attester)
	}{
		{
			name: "symmetric key polls until assigned",
			replies: []reply{
				{202, "3", assigning(opID)},
				{202, "1", assigning(opID)},
				{200, "", assignedBody},
			},
			mod: func(o *Options) { o.Payload = json.RawMessage(`{"model":"x1"}`) },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != "assigned" || st.RegistrationState.AssignedHub != "hub.azure-devices.net" || st.RegistrationState.DeviceID != "dev-1" {
					t.Errorf("result %+v", st)
				}
				wantPaths := []string{
					"PUT /0ne00000A0A/registrations/dev-1/register",
					"GET /0ne00000A0A/registrations/dev-1/operations/" + opID,
					"GET /0ne00000A0A/registrations/dev-1/operations/" + opID,
				}
				if len(reqs) != len(wantPaths) {
					t.Fatalf("%d requests, want %d: %+v", len(reqs), len(wantPaths), reqs)
				}
				for i, r := range reqs {
					if got := r.Method + " " + r.Path; got != wantPaths[i] {
						t.Errorf("request %d: %s, want %s", i, got, wantPaths[i])
					}
					if r.APIVersion != model.DeviceAPIVersion {
						t.Errorf("request %d: api-version %q", i, r.APIVersion)
					}
					tok, err := sas.ParseToken(r.Auth)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					if err := tok.Verify(devKey, time.Now()); err != nil {
						t.Errorf("request %d: %v", i, err)
					}
					if tok.RawResource != "0ne00000A0A%2Fregistrations%2Fdev-1" || tok.KeyName != "registration" {
						t.Errorf("request %d: sr %q skn %q", i, tok.RawResource, tok.KeyName)
					}
				}
				var body model.DeviceRegistration
				if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
					t.Fatal(err)
				}
				if body.RegistrationID != regID || string(body.Payload) != `{"model":"x1"}` || body.TPM != nil {
					t.Errorf("register body %s", reqs[0].Body)
				}
			},
		},
		{
			name:    "assigned at once",
			replies: []reply{{200, "", assignedBody}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err != nil || len(reqs) != 1 || st.Status != model.RegAssigned {
					t.Fatalf("err %v, %d requests, %+v", err, len(reqs), st)
				}
			},
		},
		{
			name: "TPM challenge then assigned",
			replies: []reply{
				{401, "", challenge},
				{202, "", assigning("op")},
				{200, "", tpmAssigned},
			},
			att: func(*testing.T) Attester { return &fakeChallenger{} },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, att Attester) {
				if err != nil {
					t.Fatal(err)
				}
				if len(reqs) != 3 || reqs[0].Auth != "" || !strings.Contains(reqs[1].Auth, "sig=tpm-blob1") || reqs[2].Auth != reqs[1].Auth {
					t.Fatalf("requests %+v", reqs)
				}
				if reqs[0].Body != reqs[1].Body || !strings.Contains(reqs[0].Body, `"endorsementKey":"RUs="`) || !strings.Contains(reqs[0].Body, `"storageRootKey":"U1JL"`) {
					t.Errorf("bodies %q, %q", reqs[0].Body, reqs[1].Body)
				}
				fc := att.(*fakeChallenger)
				if fc.assigned == nil || fc.assigned.TPM.AuthenticationKey != "blob2" {
					t.Errorf("assigned hook got %+v", fc.assigned)
				}
			},
		},
		{
			name:    "TPM challenged twice is denied",
			replies: []reply{{401, "", challenge}},
			att:     func(*testing.T) Attester { return &fakeChallenger{} },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				var e *Error
				if !errors.As(err, &e) || !e.Denied() || !IsDenied(err) || IsTransport(err) {
					t.Fatalf("err %v", err)
				}
				if len(reqs) != 2 {
					t.Errorf("%d requests, want 2 (one challenge answered)", len(reqs))
				}
			},
		},
		{
			name:    "TPM blob that does not import",
			replies: []reply{{401, "", `{"authenticationKey":"bad","keyName":"registration"}`}},
			att:     func(*testing.T) Attester { return &fakeChallenger{} },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err == nil || !strings.Contains(err.Error(), "cannot import") || IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:    "TPM assigned hook fails",
			replies: []reply{{401, "", challenge}, {200, "", tpmAssigned}},
			att:     func(*testing.T) Attester { return &fakeChallenger{failAssign: errors.New("import failed")} },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err == nil || !strings.Contains(err.Error(), "import failed") || st == nil {
					t.Fatalf("err %v, status %+v", err, st)
				}
			},
		},
		{
			name:    "symmetric key denied",
			replies: []reply{{401, "", `{"errorCode":401002,"trackingId":"t-1","message":"Unauthorized","timestampUtc":"2025-01-01T00:00:00Z"}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				var e *Error
				if !errors.As(err, &e) || e.ErrorCode != 401002 || e.TrackingID != "t-1" || !IsDenied(err) || IsTransport(err) || e.Transient() {
					t.Fatalf("err %#v", err)
				}
				if len(reqs) != 1 {
					t.Errorf("%d requests, want 1", len(reqs))
				}
				if !strings.Contains(err.Error(), "401 Unauthorized: errorCode 401002: Unauthorized (trackingId t-1)") {
					t.Errorf("message %q", err)
				}
			},
		},
		{
			name:    "forbidden",
			replies: []reply{{403, "", `{"errorCode":403000,"message":"no"}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if !IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:    "TPM enrollment not found is denied",
			replies: []reply{{404, "", `{"errorCode":404201,"message":"no TPM enrollment"}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if !IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:    "other not found is not denied",
			replies: []reply{{404, "", `{"errorCode":404000,"message":"no such operation"}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				var e *Error
				if !errors.As(err, &e) || IsDenied(err) || IsTransport(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name: "failed is denied with its result",
			replies: []reply{
				{202, "", assigning(opID)},
				{200, "", `{"operationId":"` + opID + `","status":"failed","registrationState":{"registrationId":"dev-1","status":"failed","errorCode":400208,"errorMessage":"No IoT hub"}}`},
			},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				var re *RegistrationError
				if !errors.As(err, &re) || !IsDenied(err) || IsTransport(err) {
					t.Fatalf("err %v", err)
				}
				if st == nil || st.Status != model.RegFailed || st.RegistrationState.ErrorCode != 400208 {
					t.Errorf("status %+v", st)
				}
				if err.Error() != "registration dev-1: failed: errorCode 400208: No IoT hub" {
					t.Errorf("message %q", err)
				}
			},
		},
		{
			name:    "disabled is denied",
			replies: []reply{{200, "", `{"operationId":"x","status":"Disabled","registrationState":{"registrationId":"dev-1","status":"disabled"}}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if !IsDenied(err) || st == nil || st.Status != model.RegDisabled {
					t.Fatalf("err %v status %+v", err, st)
				}
				if !strings.Contains(err.Error(), "the enrollment is disabled") {
					t.Errorf("message %q", err)
				}
			},
		},
		{
			name: "throttled then accepted",
			replies: []reply{
				{429, "1", `{"errorCode":429001,"message":"slow down"}`},
				{503, "", `{"errorCode":503000}`},
				{200, "", assignedBody},
			},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err != nil || len(reqs) != 3 {
					t.Fatalf("err %v, %d requests", err, len(reqs))
				}
			},
		},
		{
			name:    "server error after retries",
			replies: []reply{{500, "0", `{"errorCode":500000,"message":"boom"}`}},
			mod:     func(o *Options) { o.MaxRetries = 2 },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				var e *Error
				if !errors.As(err, &e) || !e.Transient() || IsDenied(err) || IsTransport(err) {
					t.Fatalf("err %v", err)
				}
				if len(reqs) != 3 {
					t.Errorf("%d requests, want 3", len(reqs))
				}
			},
		},
		{
			name: "registering sends register again",
			replies: []reply{
				{202, "", `{"operationId":"op","status":"registering"}`},
				{202, "", assigning(opID)},
				{200, "", assignedBody},
			},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err != nil || len(reqs) != 3 || reqs[1].Method != http.MethodPut || reqs[2].Method != http.MethodGet {
					t.Fatalf("err %v, requests %+v", err, reqs)
				}
			},
		},
		{
			name:    "malformed answer",
			replies: []reply{{202, "", `{"operationId":"x"}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if !errors.Is(err, ErrMalformedResponse) || IsDenied(err) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:    "assigned without hub",
			replies: []reply{{200, "", `{"operationId":"x","status":"assigned","registrationState":{"deviceId":"d"}}`}},
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("err %v", err)
				}
			},
		},
		{
			name:    "api version and user agent",
			replies: []reply{{200, "", assignedBody}},
			mod:     func(o *Options) { o.APIVersion = "2021-06-01" },
			check: func(t *testing.T, st *model.RegistrationOperationStatus, err error, reqs []seen, _ Attester) {
				if err != nil || reqs[0].APIVersion != "2021-06-01" {
					t.Fatalf("err %v, api-version %q", err, reqs[0].APIVersion)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{t: t, replies: tt.replies}
			host, roots := startFake(t, f)
			var att Attester = symKey(t)
			if tt.att != nil {
				att = tt.att(t)
			}
			c := newTestClient(t, host, roots, att, tt.mod)
			st, err := c.Register(context.Background())
			tt.check(t, st, err, f.requests(), att)
		})
	}
}

func TestRegisterX509(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "x509-dev")
	att, err := LoadX509(dev.CertPath, dev.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if att.RegistrationID() != "x509-dev" || len(att.ClientCertificate().Certificate) != 2 {
		t.Fatalf("attester %q with %d certificates", att.RegistrationID(), len(att.ClientCertificate().Certificate))
	}
	var chainLen int
	f := &fakeAPI{t: t}
	f.answer = func(n int, s seen) reply {
		if n == 0 {
			return reply{202, "", assigning(opID)}
		}
		return reply{200, "", strings.ReplaceAll(assignedBody, "dev-1", "x509-dev")}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chainLen = len(r.TLS.PeerCertificates)
		f.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newTestClient(t, strings.TrimPrefix(srv.URL, "https://"), roots, att, func(o *Options) { o.RegistrationID = att.RegistrationID() })
	st, err := c.Register(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RegistrationState.DeviceID != "x509-dev" {
		t.Errorf("result %+v", st.RegistrationState)
	}
	for i, r := range f.requests() {
		if r.Auth != "" || r.ClientCN != "x509-dev" {
			t.Errorf("request %d: auth %q, client certificate %q", i, r.Auth, r.ClientCN)
		}
	}
	if chainLen != 2 {
		t.Errorf("server saw %d certificates, want the leaf and its intermediate", chainLen)
	}
}

func TestLoadX509Errors(t *testing.T) {
	ca := certstest.New(t)
	a, b := ca.Device(t, "a"), ca.Device(t, "b")
	tests := []struct {
		name, cert, key, want string
	}{
		{"key of another certificate", a.CertPath, b.KeyPath, "does not hold the key"},
		{"missing certificate", a.CertPath + ".none", a.KeyPath, "no such file"},
		{"missing key", a.CertPath, a.KeyPath + ".none", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadX509(tt.cert, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRegisterContext(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, c *Client, f *fakeAPI) error
		want error
	}{
		{
			name: "cancelled while polling",
			run: func(t *testing.T, c *Client, f *fakeAPI) error {
				ctx, cancel := context.WithCancel(context.Background())
				f.answer = func(n int, s seen) reply {
					if n == 2 {
						cancel()
					}
					return reply{202, "", assigning(opID)}
				}
				_, err := c.Register(ctx)
				return err
			},
			want: context.Canceled,
		},
		{
			name: "timeout",
			run: func(t *testing.T, c *Client, f *fakeAPI) error {
				f.answer = func(int, seen) reply { return reply{202, "", assigning(opID)} }
				c.timeout = 50 * time.Millisecond
				_, err := c.Register(context.Background())
				return err
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "already cancelled",
			run: func(t *testing.T, c *Client, f *fakeAPI) error {
				f.answer = func(int, seen) reply { return reply{200, "", assignedBody} }
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := c.Register(ctx)
				return err
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{t: t}
			host, roots := startFake(t, f)
			c := newTestClient(t, host, roots, symKey(t), nil)
			err := tt.run(t, c, f)
			if !errors.Is(err, tt.want) || IsTransport(err) || IsDenied(err) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	// A port nobody listens on: bind, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	// A TLS server whose certificate is not trusted.
	f := &fakeAPI{t: t, replies: []reply{{200, "", assignedBody}}}
	untrusted, _ := startFake(t, f)

	tests := []struct {
		name  string
		host  string
		roots *x509.CertPool
		want  string
	}{
		{"connection refused", closed, x509.NewCertPool(), "connection refused"},
		{"untrusted certificate", untrusted, x509.NewCertPool(), "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.host, tt.roots, symKey(t), nil)
			_, err := c.Register(context.Background())
			if !IsTransport(err) || IsDenied(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v", err)
			}
			if !strings.HasPrefix(err.Error(), "PUT /0ne00000A0A/registrations/dev-1/register: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name    string
		replies []reply
		att     func() Attester
		wantErr string
		check   func(t *testing.T, r *model.DeviceRegistrationResult, reqs []seen)
	}{
		{
			name:    "symmetric key",
			replies: []reply{{200, "", `{"registrationId":"dev-1","assignedHub":"hub","deviceId":"dev-1","status":"assigned"}`}},
			check: func(t *testing.T, r *model.DeviceRegistrationResult, reqs []seen) {
				if r.AssignedHub != "hub" || len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/0ne00000A0A/registrations/dev-1" || reqs[0].Body != `{"registrationId":"dev-1"}` {
					t.Fatalf("result %+v, requests %+v", r, reqs)
				}
			},
		},
		{
			name:    "TPM challenge",
			replies: []reply{{401, "", `{"authenticationKey":"k","keyName":"registration"}`}, {200, "", `{"registrationId":"dev-1","status":"assigned"}`}},
			att:     func() Attester { return &fakeChallenger{} },
			check: func(t *testing.T, r *model.DeviceRegistrationResult, reqs []seen) {
				if len(reqs) != 2 || reqs[0].Auth != "" || !strings.Contains(reqs[1].Auth, "tpm-k") || !strings.Contains(reqs[0].Body, "endorsementKey") {
					t.Fatalf("requests %+v", reqs)
				}
			},
		},
		{
			name:    "not found",
			replies: []reply{{404, "", `{"errorCode":404202,"message":"Registration not found"}`}},
			wantErr: "404 Not Found: errorCode 404202",
		},
		{
			name:    "no status",
			replies: []reply{{200, "", `{"registrationId":"dev-1"}`}},
			wantErr: "no status",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{t: t, replies: tt.replies}
			host, roots := startFake(t, f)
			var att Attester = symKey(t)
			if tt.att != nil {
				att = tt.att()
			}
			c := newTestClient(t, host, roots, att, nil)
			r, err := c.Status(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r, f.requests())
		})
	}
}

func TestPollWait(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := New(Options{IDScope: scope, RegistrationID: regID, Attester: &X509{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", DefaultPollInterval},
		{"3", 3 * time.Second},
		{" 1 ", time.Second},
		{"0", DefaultMinPollInterval},
		{"0.5", 500 * time.Millisecond},
		{"100000", DefaultMaxPollInterval},
		{"-1", DefaultPollInterval},
		{"soon", DefaultPollInterval},
		{"NaN", DefaultPollInterval},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), DefaultMinPollInterval},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Retry-After", tt.header)
			}
			if got := c.pollWait(h); got != tt.want {
				t.Errorf("wait %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	k := &SymmetricKey{key: devKey}
	tests := []struct {
		name     string
		opts     Options
		wantHost string
		wantErr  string
	}{
		{"default host", Options{IDScope: scope, RegistrationID: regID, Attester: k}, DefaultHost, ""},
		{"host and port", Options{Host: "localhost:8443", IDScope: scope, RegistrationID: regID, Attester: k}, "localhost:8443", ""},
		{"https URL", Options{Host: "https://dps.example.net/", IDScope: scope, RegistrationID: regID, Attester: k}, "dps.example.net", ""},
		{"http URL", Options{Host: "http://dps.example.net", IDScope: scope, RegistrationID: regID, Attester: k}, "", "give a host name"},
		{"path", Options{Host: "dps.example.net/x", IDScope: scope, RegistrationID: regID, Attester: k}, "", "give a host name"},
		{"empty port", Options{Host: "dps.example.net:", IDScope: scope, RegistrationID: regID, Attester: k}, "", "empty port"},
		{"no scope", Options{RegistrationID: regID, Attester: k}, "", "ID scope is required"},
		{"no registration ID", Options{IDScope: scope, Attester: k}, "", "registration ID is required"},
		{"no attester", Options{IDScope: scope, RegistrationID: regID}, "", "attester is required"},
		{"bad payload", Options{IDScope: scope, RegistrationID: regID, Attester: k, Payload: json.RawMessage(`{x`)}, "", "payload is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Host() != tt.wantHost {
				t.Errorf("host %q, want %q", c.Host(), tt.wantHost)
			}
		})
	}
}

func TestSymmetricKeyAttesters(t *testing.T) {
	// The documented group key example (dps-wire.md §4.4).
	g, err := NewGroupSymmetricKey("8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==", "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
	if err != nil {
		t.Fatal(err)
	}
	if g.Key() != "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=" {
		t.Errorf("derived key %q", g.Key())
	}
	tests := []struct {
		name    string
		make    func() (*SymmetricKey, error)
		wantErr string
	}{
		{"bad key", func() (*SymmetricKey, error) { return NewSymmetricKey("not base64!") }, "not valid base64"},
		{"empty key", func() (*SymmetricKey, error) { return NewSymmetricKey(" ") }, "not valid base64"},
		{"bad group key", func() (*SymmetricKey, error) { return NewGroupSymmetricKey("%%", "d") }, "not valid base64"},
		{"group without ID", func() (*SymmetricKey, error) { return NewGroupSymmetricKey(devKey, "") }, "registration ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.make(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	tok, err := g.Authorization(context.Background(), "0ne00AB", "dev 1/x", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sas.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.RawResource != "0ne00AB%2Fregistrations%2Fdev%201%2Fx" || p.Resource != "0ne00AB/registrations/dev 1/x" || p.RawExpiry != "1700000000" {
		t.Errorf("token %+v", p)
	}
}
