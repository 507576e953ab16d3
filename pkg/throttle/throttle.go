// Package throttle limits the rate of requests the way Azure IoT Hub Device
// Provisioning Service limits its service operations: a quota of operations
// per minute for each caller, refilled continuously, with a small burst, and
// a 429 answer with Retry-After once it is spent.
//
// A Bucket is one caller's quota; a Limiter keeps a Bucket per key (a shared
// access policy for the local service); Handler puts a Limiter in front of an
// http.Handler. The clock is injected, so that the arithmetic can be tested
// without waiting.
package throttle

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Bucket is a token bucket: it holds at most Burst tokens, gains PerMinute
// tokens a minute, continuously, and each operation takes one. It is not
// safe for concurrent use; a Limiter guards its buckets.
type Bucket struct {
	perSecond float64
	burst     float64
	tokens    float64
	last      time.Time
}

// NewBucket returns a full bucket of burst tokens refilled at perMinute
// tokens a minute, as of now.
func NewBucket(perMinute float64, burst int, now time.Time) *Bucket {
	return &Bucket{perSecond: perMinute / 60, burst: float64(burst), tokens: float64(burst), last: now}
}

// refill adds the tokens gained since the last operation.
func (b *Bucket) refill(now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el.Seconds()*b.perSecond)
		b.last = now
	}
}

// Take takes a token at now. When the bucket has none it takes nothing and
// returns false and how long until it has one.
func (b *Bucket) Take(now time.Time) (ok bool, wait time.Duration) {
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	secs := (1 - b.tokens) / b.perSecond
	return false, time.Duration(math.Ceil(secs * float64(time.Second)))
}

// full reports a bucket that holds all its tokens at now: forgetting it
// changes nothing, since a new one starts full.
func (b *Bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst
}

// DefaultBurst is the burst of a quota of perMinute operations a minute when
// Config.Burst is 0: one second of the quota, at least one operation.
func DefaultBurst(perMinute float64) int {
	return max(1, int(math.Ceil(perMinute/60)))
}

// Limiter keeps one Bucket per key. It is safe for concurrent use.
type Limiter struct {
	perMinute float64
	burst     int
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*Bucket
}

// maxIdleBuckets is the number of buckets past which a Limiter forgets the
// full ones when it adds another.
const maxIdleBuckets = 1024

// NewLimiter returns a Limiter of perMinute operations a minute per key, with
// a burst of burst (DefaultBurst when 0), on the clock now (time.Now when
// nil).
func NewLimiter(perMinute float64, burst int, now func() time.Time) (*Limiter, error) {
	if !(perMinute > 0) || math.IsInf(perMinute, 0) {
		return nil, fmt.Errorf("throttle: the quota must be a positive number of operations a minute, not %v", perMinute)
	}
	if burst < 0 {
		return nil, errors.New("throttle: the burst must not be negative")
	}
	if burst == 0 {
		burst = DefaultBurst(perMinute)
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{perMinute: perMinute, burst: burst, now: now, buckets: map[string]*Bucket{}}, nil
}

// Allow takes a token from key's bucket. When there is none it returns false
// and how long until there is one.
func (l *Limiter) Allow(key string) (ok bool, wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxIdleBuckets {
			for k, old := range l.buckets {
				if old.full(now) {
					delete(l.buckets, k)
				}
			}
		}
		b = NewBucket(l.perMinute, l.burst, now)
		l.buckets[key] = b
	}
	return b.Take(now)
}

// RetryAfter is the Retry-After header value of a wait: whole seconds,
// rounded up, at least 1 (DPS sends whole seconds).
func RetryAfter(wait time.Duration) string {
	s := int64(math.Ceil(wait.Seconds()))
	return strconv.FormatInt(max(s, 1), 10)
}

// Config sets up Handler.
type Config struct {
	// Limiter holds the quotas.
	Limiter *Limiter
	// Key names the bucket a request takes its token from; ok false lets
	// the request through without taking one (another API, or a caller
	// the handler will refuse anyway).
	Key func(r *http.Request) (key string, ok bool)
	// Reject answers a throttled request, once the Retry-After header is
	// set; by default with status 429 and the DPS error body
	// (ThrottledBody).
	Reject func(w http.ResponseWriter, r *http.Request, wait time.Duration)
}

// ErrorCode is the DPS error code of a throttled request.
const ErrorCode = 429001

// ThrottledBody is the DPS error body of a throttled request at now.
func ThrottledBody(wait time.Duration, now time.Time) []byte {
	b, _ := json.Marshal(struct {
		ErrorCode    int    `json:"errorCode"`
		Message      string `json:"message"`
		TimestampUTC string `json:"timestampUtc"`
	}{ErrorCode, "too many requests: the operations quota of this shared access policy is spent; retry after " + RetryAfter(wait) + " s", now.UTC().Format(time.RFC3339Nano)})
	return b
}

// Handler returns next behind cfg.Limiter: a request whose bucket is empty
// gets a Retry-After header (whole seconds until a token is back) and
// cfg.Reject's answer, and does not reach next.
func Handler(next http.Handler, cfg Config) http.Handler {
	reject := cfg.Reject
	if reject == nil {
		reject = func(w http.ResponseWriter, _ *http.Request, wait time.Duration) {
			b := ThrottledBody(wait, cfg.Limiter.now())
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(b)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := cfg.Key(r)
		if ok {
			if allowed, wait := cfg.Limiter.Allow(key); !allowed {
				w.Header().Set("Retry-After", RetryAfter(wait))
				reject(w, r, wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
