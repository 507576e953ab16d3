package throttle

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// clock is a fake clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func mustLimiter(t *testing.T, perMinute float64, burst int, c *clock) *Limiter {
	t.Helper()
	l, err := NewLimiter(perMinute, burst, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBucketSteps(t *testing.T) {
	type step struct {
		after    time.Duration // clock advance before the take
		ok       bool
		wantWait time.Duration
	}
	tests := []struct {
		name      string
		perMinute float64
		burst     int
		steps     []step
	}{
		{"burst then refill", 60, 2, []step{
			{0, true, 0}, {0, true, 0}, {0, false, time.Second},
			{500 * time.Millisecond, false, 500 * time.Millisecond},
			{500 * time.Millisecond, true, 0},
			{0, false, time.Second},
		}},
		{"refill never exceeds the burst", 600, 3, []step{
			{time.Hour, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, 100 * time.Millisecond},
		}},
		{"fractional tokens accumulate", 120, 1, []step{
			{0, true, 0}, {250 * time.Millisecond, false, 250 * time.Millisecond},
			{250 * time.Millisecond, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			b := NewBucket(tt.perMinute, tt.burst, c.now())
			for i, s := range tt.steps {
				c.add(s.after)
				ok, wait := b.Take(c.now())
				if ok != s.ok || wait != s.wantWait {
					t.Fatalf("step %d: Take = %v, %v; want %v, %v", i, ok, wait, s.ok, s.wantWait)
				}
			}
		})
	}
}

// TestLimiterHoldsTheQuota takes tokens as fast as they come for ten
// simulated minutes: the operations allowed are the quota and the burst.
func TestLimiterHoldsTheQuota(t *testing.T) {
	for _, perMinute := range []float64{600, 1000, 3000, 12000} {
		c := newClock()
		l := mustLimiter(t, perMinute, 0, c)
		allowed := 0
		step := time.Millisecond
		for range 10 * 60 * 1000 {
			for {
				ok, _ := l.Allow("owner")
				if !ok {
					break
				}
				allowed++
			}
			c.add(step)
		}
		want := int(perMinute*10) + DefaultBurst(perMinute)
		if allowed < want-1 || allowed > want {
			t.Errorf("%v/min: %d operations allowed in 10 min; want %d", perMinute, allowed, want)
		}
	}
}

func TestLimiterKeysAreSeparate(t *testing.T) {
	c := newClock()
	l := mustLimiter(t, 60, 1, c)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a's first operation was refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a's second operation was allowed past the burst")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b paid for a's operations")
	}
}

func TestLimiterForgetsFullBuckets(t *testing.T) {
	c := newClock()
	l := mustLimiter(t, 60, 1, c)
	for i := range maxIdleBuckets {
		l.Allow(strings.Repeat("k", i+1))
	}
	c.add(time.Minute) // every bucket is full again
	l.Allow("new")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept; want only the new one", n)
	}
}

func TestNewLimiterRejects(t *testing.T) {
	for _, tt := range []struct {
		perMinute float64
		burst     int
	}{{0, 0}, {-5, 0}, {60, -1}} {
		if _, err := NewLimiter(tt.perMinute, tt.burst, nil); err == nil {
			t.Errorf("NewLimiter(%v, %d): no error", tt.perMinute, tt.burst)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {59 * time.Second, "59"}} {
		if got := RetryAfter(tt.wait); got != tt.want {
			t.Errorf("RetryAfter(%v) = %q; want %q", tt.wait, got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	c := newClock()
	l := mustLimiter(t, 60, 1, c)
	served := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ })
	h := Handler(next, Config{Limiter: l, Key: func(r *http.Request) (string, bool) {
		k := r.Header.Get("X-Key")
		return k, k != ""
	}})
	do := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/enrollments/x", nil)
		if key != "" {
			r.Header.Set("X-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("owner"); w.Code != http.StatusOK {
		t.Fatalf("first request: %d", w.Code)
	}
	w := do("owner")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: %d; want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q; want 1", got)
	}
	var body struct {
		ErrorCode    int    `json:"errorCode"`
		Message      string `json:"message"`
		TimestampUTC string `json:"timestampUtc"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if body.ErrorCode != ErrorCode || body.Message == "" || body.TimestampUTC != "2026-01-02T03:04:05Z" {
		t.Errorf("body = %+v", body)
	}
	// Requests without a key are never throttled.
	for range 5 {
		if w := do(""); w.Code != http.StatusOK {
			t.Fatalf("unkeyed request: %d", w.Code)
		}
	}
	c.add(time.Second)
	if w := do("owner"); w.Code != http.StatusOK {
		t.Fatalf("after the refill: %d", w.Code)
	}
	if served != 7 {
		t.Errorf("next served %d requests; want 7", served)
	}
}

func TestHandlerCustomReject(t *testing.T) {
	c := newClock()
	l := mustLimiter(t, 30, 1, c)
	var gotWait time.Duration
	h := Handler(http.NotFoundHandler(), Config{
		Limiter: l,
		Key:     func(*http.Request) (string, bool) { return "p", true },
		Reject: func(w http.ResponseWriter, r *http.Request, wait time.Duration) {
			gotWait = wait
			w.WriteHeader(http.StatusTooManyRequests)
		},
	})
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	if gotWait != 2*time.Second {
		t.Errorf("Reject got wait %v; want 2s", gotWait)
	}
}
