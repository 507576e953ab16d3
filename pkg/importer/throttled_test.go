package importer

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/throttle"
)

// TestImportAgainstAThrottledService imports into the local service behind
// a DPS-shaped quota, on a fake clock that the import's waits move on:
// the service's 429s (with its error body and Retry-After) reach the
// import through a client that does not retry them, and every row is
// written all the same.
func TestImportAgainstAThrottledService(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sleep := func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
		}
		return ctx.Err()
	}
	inst, err := server.Open(server.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	lim, err := throttle.NewLimiter(600, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	h := throttle.Handler(inst.Handler(), throttle.Config{Limiter: lim, Key: func(*http.Request) (string, bool) { return "owner", true }})
	c, err := dps.New(dps.Options{
		ConnectionString: inst.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(h)},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, sum := collect(t, c.WithoutRetries(), Options{Now: clock, Sleep: sleep}, itemsOf(many(1000, "dev")...))
	if sum.Outcomes[Created] != 1000 || sum.Failed() != 0 || sum.Stopped != nil {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Throttled == 0 || sum.Retries != sum.Throttled {
		t.Fatalf("%d throttled answers and %d retries; want some, each retried", sum.Throttled, sum.Retries)
	}
}
