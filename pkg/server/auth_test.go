package server

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func TestSASAuthentication(t *testing.T) {
	e := newEnv(t)
	owner, err := e.inst.st.Policy(context.Background(), OwnerPolicy)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := httpapi.RandomKey(32)
	now := time.Now()
	tests := []struct {
		name   string
		key    string
		sr     string
		skn    string
		expiry time.Time
		host   string // request host; default localhost:8443
		path   string // default /enrollments/nope
		ok     bool
	}{
		{name: "host name", sr: "localhost", ok: true},
		{name: "host name with port", sr: "localhost:8443", ok: true},
		{name: "upper case", sr: "LOCALHOST", ok: true},
		{name: "secondary key", key: owner.SecondaryKey, sr: "localhost", ok: true},
		{name: "path prefix", sr: "localhost/enrollments", ok: true},
		{name: "encoded path prefix", sr: url.PathEscape("localhost/enrollments/nope"), ok: true},
		{name: "full path", sr: "localhost:8443/Enrollments/nope", ok: true},
		{name: "request host is not the audience", sr: "127.0.0.1", host: "127.0.0.1:9000"},
		{name: "caller's Host header is not the audience", sr: "evil.example", host: "evil.example"},
		{name: "caller's Host header with port", sr: "evil.example:8443", host: "evil.example:8443"},
		{name: "configured host sent to another Host", sr: "localhost", host: "127.0.0.1:9000", ok: true},
		{name: "skn any case", sr: "localhost", skn: "ProvisioningServiceOwner", ok: true},
		{name: "expired within skew", sr: "localhost", expiry: now.Add(-2 * time.Minute), ok: true},
		{name: "expired", sr: "localhost", expiry: now.Add(-10 * time.Minute)},
		{name: "wrong key", key: wrongKey, sr: "localhost"},
		{name: "other host", sr: "other.azure-devices-provisioning.net"},
		{name: "host prefix by character", sr: "localhos"},
		{name: "path prefix by character", sr: "localhost/enroll"},
		{name: "other path", sr: "localhost/enrollmentGroups"},
		{name: "unknown policy", sr: "localhost", skn: "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, skn, exp := owner.PrimaryKey, OwnerPolicy, now.Add(time.Hour)
			if tt.key != "" {
				key = tt.key
			}
			if tt.skn != "" {
				skn = tt.skn
			}
			if !tt.expiry.IsZero() {
				exp = tt.expiry
			}
			tok, err := sas.NewToken(key, tt.sr, skn, exp)
			if err != nil {
				t.Fatal(err)
			}
			host, path := "localhost:8443", "/enrollments/nope"
			if tt.host != "" {
				host = tt.host
			}
			if tt.path != "" {
				path = tt.path
			}
			req, _ := http.NewRequest(http.MethodGet, "https://"+host+path+"?api-version=2021-10-01", nil)
			req.Header.Set("Authorization", tok)
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			// An authorised request reaches the handler: the id does not exist.
			want := http.StatusUnauthorized
			if tt.ok {
				want = http.StatusNotFound
			}
			if res.StatusCode != want {
				t.Fatalf("status %d, want %d", res.StatusCode, want)
			}
			if !tt.ok && res.Header.Get("x-ms-error-code") != "401002" {
				t.Fatalf("x-ms-error-code %q", res.Header.Get("x-ms-error-code"))
			}
		})
	}
}

func TestReadOnlyPolicyRights(t *testing.T) {
	e := newEnv(t)
	mustStatus(t, e.call(http.MethodPut, "/enrollments/ro-1", symEnrollment("ro-1")), 200)
	if err := e.inst.st.PutRegistration(context.Background(), &store.Registration{State: model.DeviceRegistrationState{RegistrationID: "ro-1", ETag: "x"}}, ""); err != nil {
		t.Fatal(err)
	}
	e.usePolicy(ReadOnlyPolicy)
	tests := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/enrollments/ro-1", nil, 200},
		// Keys are for writers: the read-only policy cannot read them.
		{"POST", "/enrollments/ro-1/attestationmechanism", nil, 401},
		{"POST", "/enrollmentGroups/g/attestationmechanism", nil, 401},
		{"POST", "/enrollments/query", `{"query":"*"}`, 200},
		{"POST", "/enrollmentGroups/query", nil, 200},
		{"GET", "/registrations/ro-1", nil, 200},
		{"POST", "/registrations/g/query", nil, 200},
		{"PUT", "/enrollments/ro-2", symEnrollment("ro-2"), 401},
		{"DELETE", "/enrollments/ro-1", nil, 401},
		{"POST", "/enrollments", map[string]any{"mode": "delete", "enrollments": []any{symEnrollment("ro-1")}}, 401},
		{"PUT", "/enrollmentGroups/g", symGroup("g"), 401},
		{"DELETE", "/registrations/ro-1", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			mustStatus(t, e.call(tt.method, tt.path, tt.body), tt.status)
		})
	}
	// A policy changed behind the cache's back (as another process would)
	// is picked up.
	ctx := context.Background()
	p, _ := e.inst.st.Policy(ctx, ReadOnlyPolicy)
	p.PrimaryKey = httpapi.RandomKey(32)
	if err := e.inst.st.PutPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.key = p.PrimaryKey
	mustStatus(t, e.call("GET", "/enrollments/ro-1", nil), 200)
}
