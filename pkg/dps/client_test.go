package dps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const testKey = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"

// fake is a scripted service: each handler sees the request and answers.
func newFake(t *testing.T, h http.HandlerFunc) (*Client, *[]*http.Request) {
	t.Helper()
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r2 := r.Clone(context.Background())
		r2.Body = io.NopCloser(strings.NewReader(string(body)))
		mu.Lock()
		seen = append(seen, r2)
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c, err := New(Options{
		Endpoint:         srv.URL,
		ConnectionString: "HostName=" + host + ";SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=" + testKey,
		Sleep:            func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, &seen
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestRequestsCarryWireContract(t *testing.T) {
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut:
			var e model.IndividualEnrollment
			_ = json.NewDecoder(r.Body).Decode(&e)
			e.ETag = "ImV0YWci"
			writeJSON(w, 200, e)
		case r.Method == http.MethodDelete:
			w.WriteHeader(204)
		case strings.HasSuffix(r.URL.Path, "/attestationmechanism"):
			writeJSON(w, 200, model.AttestationMechanism{Type: "symmetricKey", SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: "p"}})
		default:
			writeJSON(w, 200, model.IndividualEnrollment{RegistrationID: "dev:1"})
		}
	})
	ctx := context.Background()
	e := &model.IndividualEnrollment{RegistrationID: "dev:1", EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: "symmetricKey"}}}
	if _, err := c.PutEnrollment(ctx, e, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEnrollment(ctx, e, `"ImV0YWci"`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetEnrollment(ctx, "dev:1"); err != nil {
		t.Fatal(err)
	}
	am, err := c.GetEnrollmentAttestation(ctx, "dev:1")
	if err != nil || am.SymmetricKey.PrimaryKey != "p" {
		t.Fatal(am, err)
	}
	if err := c.DeleteEnrollment(ctx, "dev:1", "*"); err != nil {
		t.Fatal(err)
	}
	reqs := *seen
	if len(reqs) != 5 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs {
		if r.URL.Query().Get("api-version") != "2021-10-01" {
			t.Errorf("req %d: api-version %q", i, r.URL.RawQuery)
		}
		if r.URL.EscapedPath() != "/enrollments/dev%3A1" && r.URL.EscapedPath() != "/enrollments/dev%3A1/attestationmechanism" {
			t.Errorf("req %d: path %q", i, r.URL.EscapedPath())
		}
		tok, err := sas.ParseToken(r.Header.Get("Authorization"))
		if err != nil {
			t.Fatalf("req %d: %v", i, err)
		}
		if err := tok.Verify(testKey, time.Now()); err != nil || tok.KeyName != "provisioningserviceowner" {
			t.Errorf("req %d: token %v %q", i, err, tok.KeyName)
		}
	}
	if got := reqs[0].Header.Get("If-Match"); got != "" {
		t.Errorf("create sent If-Match %q", got)
	}
	if got := reqs[1].Header.Get("If-Match"); got != `"ImV0YWci"` {
		t.Errorf("update If-Match %q", got)
	}
	if got := reqs[0].Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("content type %q", got)
	}
	if got := reqs[3].Header.Get("Content-Type"); got != "" {
		t.Errorf("attestationmechanism sent a content type %q", got)
	}
	if got := reqs[4].Header.Get("If-Match"); got != "*" {
		t.Errorf("delete If-Match %q", got)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", "404201")
		writeJSON(w, 404, map[string]any{"errorCode": 404201, "trackingId": "tid-1", "message": "Enrollment not found", "timestampUtc": "2025-01-01T00:00:00.0000000Z"})
	})
	_, err := c.GetEnrollment(context.Background(), "x")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T %v", err, err)
	}
	if e.StatusCode != 404 || e.ErrorCode != 404201 || e.TrackingID != "tid-1" || e.Message != "Enrollment not found" {
		t.Fatalf("%+v", e)
	}
	if !IsNotFound(err) || IsConflict(err) {
		t.Fatal("classification")
	}
	if !strings.Contains(err.Error(), "404201") || !strings.Contains(err.Error(), "tid-1") {
		t.Fatal(err.Error())
	}
}

func TestErrorWithoutJSONBody(t *testing.T) {
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", "412000")
		w.WriteHeader(412)
		fmt.Fprint(w, "precondition failed")
	})
	err := c.DeleteEnrollment(context.Background(), "x", "old")
	var e *Error
	if !errors.As(err, &e) || e.ErrorCode != 412000 || e.Message != "precondition failed" || !IsPreconditionFailed(err) {
		t.Fatalf("%+v", err)
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		wantCalls  int
		wantErr    bool
		wantSleeps []time.Duration
	}{
		{name: "429 then ok", statuses: []int{429, 200}, retryAfter: "2", wantCalls: 2, wantSleeps: []time.Duration{2 * time.Second}},
		{name: "503 twice then ok", statuses: []int{503, 503, 200}, retryAfter: "1", wantCalls: 3, wantSleeps: []time.Duration{time.Second, time.Second}},
		{name: "400 not retried", statuses: []int{400}, wantCalls: 1, wantErr: true},
		{name: "gives up after max", statuses: []int{500, 500, 500, 500, 500, 500}, retryAfter: "0.01", wantCalls: 5, wantErr: true},
		{name: "huge Retry-After capped", statuses: []int{429, 200}, retryAfter: "100000", wantCalls: 2, wantSleeps: []time.Duration{MaxRetryDelay}},
		{name: "Retry-After beyond a Duration capped", statuses: []int{429, 200}, retryAfter: "1e300", wantCalls: 2, wantSleeps: []time.Duration{MaxRetryDelay}},
		{name: "Retry-After Inf capped", statuses: []int{503, 200}, retryAfter: "Inf", wantCalls: 2, wantSleeps: []time.Duration{MaxRetryDelay}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				st := tt.statuses[min(n, len(tt.statuses)-1)]
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if st == 200 {
					writeJSON(w, 200, model.EnrollmentGroup{EnrollmentGroupID: "g"})
					return
				}
				writeJSON(w, st, model.ErrorDetails{ErrorCode: st * 1000})
			}))
			defer srv.Close()
			var sleeps []time.Duration
			c, err := New(Options{Endpoint: srv.URL, Sleep: func(ctx context.Context, d time.Duration) error {
				sleeps = append(sleeps, d)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetGroup(context.Background(), "g")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if int(calls.Load()) != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantSleeps != nil && fmt.Sprint(sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Fatalf("sleeps = %v, want %v", sleeps, tt.wantSleeps)
			}
		})
	}
}

func TestContextCancellationStopsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, 503, model.ErrorDetails{ErrorCode: 503000})
	}))
	defer srv.Close()
	c, _ := New(Options{Endpoint: srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.GetRegistration(ctx, "r")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestQueryIteratorStreamsPages(t *testing.T) {
	const total = 23
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.Header.Get("x-ms-max-item-count"))
		start, _ := strconv.Atoi(r.Header.Get("x-ms-continuation"))
		end := min(start+size, total)
		var page []model.DeviceRegistrationState
		for i := start; i < end; i++ {
			page = append(page, model.DeviceRegistrationState{RegistrationID: fmt.Sprintf("d%02d", i)})
		}
		if end < total {
			w.Header().Set("x-ms-continuation", strconv.Itoa(end))
		}
		w.Header().Set("x-ms-item-type", "DeviceRegistration")
		writeJSON(w, 200, page)
	})
	var got []string
	for r, err := range c.Registrations(context.Background(), "grp", QueryOptions{PageSize: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RegistrationID)
	}
	if len(got) != total || got[0] != "d00" || got[22] != "d22" {
		t.Fatalf("got %v", got)
	}
	reqs := *seen
	if len(reqs) != 3 {
		t.Fatalf("%d pages requested", len(reqs))
	}
	if reqs[0].Header.Get("x-ms-continuation") != "" || reqs[1].Header.Get("x-ms-continuation") != "10" {
		t.Fatal("continuation not sent back")
	}
	if reqs[0].URL.Path != "/registrations/grp/query" || reqs[0].ContentLength > 0 {
		t.Fatalf("registration query %s with %d bytes", reqs[0].URL.Path, reqs[0].ContentLength)
	}

	// Stopping early fetches no further pages.
	before := len(*seen)
	for range c.Registrations(context.Background(), "grp", QueryOptions{PageSize: 10}) {
		break
	}
	if len(*seen)-before != 1 {
		t.Fatalf("early break fetched %d pages", len(*seen)-before)
	}
}

func TestQueryBodyAndEmptyList(t *testing.T) {
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-item-type", "Enrollment")
		writeJSON(w, 200, []model.IndividualEnrollment{})
	})
	n := 0
	for _, err := range c.Enrollments(context.Background(), QueryOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Fatal(n)
	}
	body, _ := io.ReadAll((*seen)[0].Body)
	if string(body) != `{"query":"SELECT *"}` {
		t.Fatalf("query body %s", body)
	}
	if (*seen)[0].Header.Get("x-ms-max-item-count") != "" {
		t.Fatal("page size sent although not set")
	}
}

func TestRepeatedContinuationIsAnError(t *testing.T) {
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-continuation", "same")
		writeJSON(w, 200, []model.EnrollmentGroup{{EnrollmentGroupID: "g"}})
	})
	n := 0
	var last error
	for _, err := range c.Groups(context.Background(), QueryOptions{}) {
		n++
		last = err
		if n > 10 {
			t.Fatal("iterator loops forever")
		}
	}
	if last == nil {
		t.Fatal("no error")
	}
}

func TestSASTokenReused(t *testing.T) {
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, model.DeviceRegistrationState{})
	})
	for range 3 {
		if _, err := c.GetRegistration(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
	}
	a := (*seen)[0].Header.Get("Authorization")
	if a == "" || a != (*seen)[2].Header.Get("Authorization") {
		t.Fatal("token not reused")
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{
		{},
		{Endpoint: "ftp://x"},
		{Endpoint: "https://"},
		{ConnectionString: "HostName=x"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	c, err := New(Options{ConnectionString: "HostName=localhost:8443;SharedAccessKeyName=o;SharedAccessKey=" + testKey})
	if err != nil || c.Endpoint() != "https://localhost:8443" || c.Host() != "localhost" {
		t.Fatal(c, err)
	}
}

func TestBulkBody(t *testing.T) {
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, model.BulkEnrollmentOperationResult{IsSuccessful: false, Errors: []model.BulkEnrollmentOperationError{{RegistrationID: "a", ErrorCode: 409000, ErrorStatus: "exists"}}})
	})
	res, err := c.BulkEnrollments(context.Background(), model.BulkCreate, []model.IndividualEnrollment{{RegistrationID: "a"}})
	if err != nil || res.IsSuccessful || len(res.Errors) != 1 {
		t.Fatal(res, err)
	}
	body, _ := io.ReadAll((*seen)[0].Body)
	var op model.BulkEnrollmentOperation
	if err := json.Unmarshal(body, &op); err != nil || op.Mode != "create" || len(op.Enrollments) != 1 {
		t.Fatalf("%s", body)
	}
	if (*seen)[0].Method != "POST" || (*seen)[0].URL.Path != "/enrollments" {
		t.Fatal((*seen)[0].URL.Path)
	}
}

// TestBulkBodyJSON: pre-encoded enrollments go out in the same body as
// BulkEnrollments sends for them.
func TestBulkBodyJSON(t *testing.T) {
	c, seen := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, model.BulkEnrollmentOperationResult{IsSuccessful: true})
	})
	items := []model.IndividualEnrollment{
		{RegistrationID: "a", EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationTPM, TPM: &model.TPMAttestation{EndorsementKey: "AAAA"}}}},
		{RegistrationID: "b<&>", EnrollmentCommon: model.EnrollmentCommon{IoTHubs: []string{"h1", "h2"}, InitialTwin: &model.InitialTwin{Tags: json.RawMessage(`{"x":1}`)}}},
	}
	ctx := context.Background()
	if _, err := c.BulkEnrollments(ctx, model.BulkCreate, items); err != nil {
		t.Fatal(err)
	}
	encoded := make([][]byte, len(items))
	for i := range items {
		var err error
		if encoded[i], err = json.Marshal(&items[i]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.BulkEnrollmentsJSON(ctx, model.BulkCreate, encoded)
	if err != nil || !res.IsSuccessful {
		t.Fatal(res, err)
	}
	want, _ := io.ReadAll((*seen)[0].Body)
	got, _ := io.ReadAll((*seen)[1].Body)
	if len(want) == 0 || string(got) != string(want) {
		t.Fatalf("body\n%s\nwant (as BulkEnrollments sends)\n%s", got, want)
	}
	if r := (*seen)[1]; r.Method != "POST" || r.URL.Path != "/enrollments" || r.Header.Get("Content-Type") == "" {
		t.Fatal(r.Method, r.URL.Path, r.Header)
	}
}

func TestUntrustedServerIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
	}))
	defer srv.Close()
	var sleeps int
	c, _ := New(Options{Endpoint: srv.URL, Sleep: func(ctx context.Context, d time.Duration) error {
		sleeps++
		return nil
	}})
	_, err := c.GetEnrollment(context.Background(), "x")
	if err == nil || sleeps != 0 {
		t.Fatalf("err %v after %d retries", err, sleeps)
	}
}
