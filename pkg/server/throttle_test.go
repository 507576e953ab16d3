package server

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// TestThrottle checks the quota per shared access policy of Options.Throttle
// on a fake clock.
func TestThrottle(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs strings.Builder
	inst, err := Open(Options{DataDir: t.TempDir(), Now: clock, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	h, err := inst.h.throttled(60) // one a second, a burst of one
	if err != nil {
		t.Fatal(err)
	}
	e := envFor(t, inst)
	e.client = &http.Client{Transport: Transport(h)}

	mustStatus(t, e.call(http.MethodGet, "/enrollments/dev-1", nil), http.StatusNotFound, model.ErrEnrollmentNotFound)
	r := e.call(http.MethodGet, "/enrollments/dev-1", nil)
	mustStatus(t, r, http.StatusTooManyRequests, model.ErrThrottled)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q; want 1", got)
	}
	if !strings.Contains(logs.String(), `route=/enrollments/{id} status=429`) || !strings.Contains(logs.String(), `reason="throttled: retry after 1 s"`) {
		t.Errorf("the refusal is not in the request log:\n%s", logs.String())
	}

	// Another policy has a quota of its own.
	e.usePolicy(ReadOnlyPolicy)
	mustStatus(t, e.call(http.MethodGet, "/enrollments/dev-1", nil), http.StatusNotFound, model.ErrEnrollmentNotFound)

	// A token that does not verify takes nothing and is refused as before.
	e.usePolicy(OwnerPolicy)
	mustStatus(t, e.call(http.MethodGet, "/enrollments/dev-1", nil, "Authorization", "SharedAccessSignature sr=localhost&sig=bad&se=9999999999&skn="+OwnerPolicy), http.StatusUnauthorized)

	// The device API has no quota.
	for range 3 {
		r := e.call(http.MethodPut, "/"+inst.IDScope()+"/registrations/dev-1/register", map[string]any{"registrationId": "dev-1"}, "Authorization", "")
		if r.status == http.StatusTooManyRequests {
			t.Fatalf("the device API was throttled: %s", r.body)
		}
	}

	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	mustStatus(t, e.call(http.MethodGet, "/enrollments/dev-1", nil), http.StatusNotFound, model.ErrEnrollmentNotFound)
}

func TestThrottleOff(t *testing.T) {
	e := newEnv(t)
	h, err := e.inst.h.throttled(0)
	if err != nil || h != http.Handler(e.inst.h) {
		t.Fatalf("throttled(0) = %v, %v; want the handler itself", h, err)
	}
	if _, err := e.inst.h.throttled(-1); err == nil {
		t.Fatal("throttled(-1): no error")
	}
}
