package dps

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// bearer is an Authorizer handing out numbered bearer tokens, with a hint.
type bearer struct {
	calls atomic.Int32
	hint  string
}

func (b *bearer) Authorization(context.Context) (string, error) {
	n := b.calls.Add(1)
	return "Bearer token-" + string(rune('0'+n)), nil
}

func (b *bearer) UnauthorizedHint() string { return b.hint }

func TestAuthorizerGivesTheHeaderOfEveryRequest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		if len(got) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried with a fresh header
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"registrationId":"dev-1","attestation":{"type":"symmetricKey"}}`))
	}))
	t.Cleanup(srv.Close)
	auth := &bearer{}
	c, err := New(Options{Endpoint: srv.URL, Authorizer: auth, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetEnrollment(t.Context(), "dev-1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"Bearer token-1", "Bearer token-2"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Authorization headers = %q, want %q", got, want)
	}
}

func TestAuthorizerHintOnRefusal(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		hint     string
		wantHint string
	}{
		{"401 with hint", http.StatusUnauthorized, "run az login", "run az login"},
		{"403 with hint", http.StatusForbidden, "assign a role", "assign a role"},
		{"403 without hint", http.StatusForbidden, "", ""},
		{"404 keeps the plain error", http.StatusNotFound, "assign a role", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"errorCode":401002,"message":"no"}`))
			}))
			t.Cleanup(srv.Close)
			c, err := New(Options{Endpoint: srv.URL, Authorizer: &bearer{hint: tt.hint}, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetEnrollment(t.Context(), "dev-1")
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tt.status {
				t.Fatalf("error = %v, want a %d service error in the chain", err, tt.status)
			}
			var h *HintedError
			gotHint := ""
			if errors.As(err, &h) {
				gotHint = h.Hint()
			}
			if gotHint != tt.wantHint {
				t.Fatalf("hint = %q, want %q", gotHint, tt.wantHint)
			}
			if tt.status != http.StatusNotFound && !IsUnauthorized(err) {
				t.Fatalf("IsUnauthorized(%v) = false", err)
			}
		})
	}
}

func TestNewWithoutEndpointOrConnectionString(t *testing.T) {
	if _, err := New(Options{Authorizer: &bearer{}}); err == nil {
		t.Fatal("New without an endpoint: want an error")
	}
}
