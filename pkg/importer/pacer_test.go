package importer

import (
	"container/heap"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/throttle"
)

// The pacer is tried against a simulated service: a token bucket shaped
// like DPS's quota (throttle.Bucket), calls that take a fixed latency, and
// a fake clock that jumps from event to event. Nothing waits and the
// outcome is the same on every run.

type simEvent struct {
	at  time.Time
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at.Before(q[j].at) || q[i].at.Equal(q[j].at) && q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simResult struct {
	accepted, throttled int
	// maxAccepted is the most calls the quota allows over the run: the
	// quota and the bucket's burst.
	maxAccepted float64
}

func (r simResult) utilisation() float64 { return float64(r.accepted) / r.maxAccepted }
func (r simResult) throttledShare() float64 {
	return float64(r.throttled) / float64(r.accepted+r.throttled)
}

// simulate runs workers importing against a service with a quota of
// quotaPerMinute calls a minute (0: none) for d, with the ceilings
// ceilingPerMinute and workers.
func simulate(quotaPerMinute float64, latency time.Duration, workers int, ceilingPerMinute float64, d time.Duration) simResult {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	end := start.Add(d)
	var q simQueue
	seq := 0
	at := func(t time.Time, fn func()) {
		seq++
		heap.Push(&q, simEvent{at: t, seq: seq, fn: fn})
	}
	var bucket *throttle.Bucket
	res := simResult{maxAccepted: math.Inf(1)}
	if quotaPerMinute > 0 {
		burst := throttle.DefaultBurst(quotaPerMinute)
		bucket = throttle.NewBucket(quotaPerMinute, burst, start)
		res.maxAccepted = quotaPerMinute*d.Minutes() + float64(burst)
	}
	p := newPacer(ceilingPerMinute, workers, func() time.Time { return now })
	var waiting []func()
	var want func()
	want = func() {
		if !now.Before(end) {
			return
		}
		tk, ok := p.tryStart(now)
		if !ok {
			waiting = append(waiting, want)
			return
		}
		arrive := tk.start.Add(latency / 2)
		at(arrive, func() {
			if !now.Before(end) {
				return // past the end of the run
			}
			took, wait := true, time.Duration(0)
			if bucket != nil {
				took, wait = bucket.Take(now)
			}
			// A refusal comes back at once; the service works on a
			// call it takes (the answers of the local service: under
			// 1 ms and 5 to 20 ms).
			back := latency / 2
			if !took {
				back = latency / 20
			}
			at(now.Add(back), func() {
				o := callOK
				next := now
				if took {
					res.accepted++
				} else {
					res.throttled++
					o = callThrottled
					secs := math.Max(1, math.Ceil(wait.Seconds()))
					next = now.Add(time.Duration(secs) * time.Second)
				}
				p.end(tk, now, o)
				at(next, want)
				w := waiting
				waiting = nil
				for _, fn := range w {
					at(now, fn)
				}
			})
		})
	}
	for range workers {
		at(now, want)
	}
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		now = e.at
		e.fn()
	}
	return res
}

func TestPacerRidesTheQuota(t *testing.T) {
	for _, quota := range []float64{600, 1000, 3000, 12000} {
		for _, latency := range []time.Duration{2 * time.Millisecond, 20 * time.Millisecond, 150 * time.Millisecond} {
			t.Run(fmt.Sprintf("%v a minute, %v", quota, latency), func(t *testing.T) {
				r := simulate(quota, latency, DefaultConcurrency, 0, 3*time.Minute)
				t.Logf("accepted %d (%.1f %% of the quota), throttled %d (%.2f %%)", r.accepted, 100*r.utilisation(), r.throttled, 100*r.throttledShare())
				if r.utilisation() < 0.9 {
					t.Errorf("the import used %.1f %% of the quota; want at least 90 %%", 100*r.utilisation())
				}
				if r.throttledShare() > 0.05 {
					t.Errorf("%.2f %% of the calls were throttled; want at most 5 %%", 100*r.throttledShare())
				}
			})
		}
	}
}

// TestPacerShortRun: even a short import, where finding the quota weighs
// most, stays within the bounds.
func TestPacerShortRun(t *testing.T) {
	for _, quota := range []float64{600, 3000, 12000} {
		r := simulate(quota, 5*time.Millisecond, DefaultConcurrency, 0, 30*time.Second)
		t.Logf("%v a minute: %.1f %% of the quota, %.2f %% throttled", quota, 100*r.utilisation(), 100*r.throttledShare())
		if r.utilisation() < 0.9 || r.throttledShare() > 0.05 {
			t.Errorf("%v a minute over 30 s: %.1f %% of the quota, %.2f %% throttled", quota, 100*r.utilisation(), 100*r.throttledShare())
		}
	}
}

// TestPacerCeilings: --rate and --concurrency stay ceilings.
func TestPacerCeilings(t *testing.T) {
	// A ceiling below the quota: never throttled, at the ceiling.
	r := simulate(3000, 5*time.Millisecond, DefaultConcurrency, 1200, time.Minute)
	if r.throttled != 0 || r.accepted < 1195 || r.accepted > 1201 {
		t.Errorf("ceiling 1200/min under a quota of 3000/min: accepted %d, throttled %d", r.accepted, r.throttled)
	}
	// No quota at all: one worker with a 10 ms latency makes 100 calls a
	// second, however many it could have.
	r = simulate(0, 10*time.Millisecond, 1, 0, 10*time.Second)
	if r.throttled != 0 || r.accepted != 1000 {
		t.Errorf("one worker, 10 s of 10 ms calls: accepted %d, throttled %d", r.accepted, r.throttled)
	}
}

func TestPacerWindow(t *testing.T) {
	now := time.Unix(0, 0)
	p := newPacer(0, 6, func() time.Time { return now })
	// The window starts at initialWindow calls.
	for i := range initialWindow {
		if _, ok := p.tryStart(now); !ok {
			t.Fatalf("call %d refused", i)
		}
	}
	if _, ok := p.tryStart(now); ok {
		t.Fatal("the window let a fifth call start")
	}
	// Successes grow it up to the ceiling.
	for range 10 {
		p.end(ticket{now, now}, now, callOK)
	}
	p.inflight = 0
	if _, w := p.state(); w != 6 {
		t.Fatalf("window %d after ten successes; want the ceiling, 6", w)
	}
	// A throttle halves it and starts pacing.
	p.inflight = 1
	now = now.Add(500 * time.Millisecond)
	p.end(ticket{now.Add(-time.Millisecond), now.Add(-time.Millisecond)}, now, callThrottled)
	perMinute, w := p.state()
	if w != 3 {
		t.Fatalf("window %d after a throttle; want 3", w)
	}
	// Ten successes in the last second were accepted: 10/s, less 10 %.
	if math.Abs(perMinute-540) > 1e-6 {
		t.Fatalf("rate %v a minute after a throttle; want 540", perMinute)
	}
	// A 429 of a call reserved before the decrease changes nothing.
	p.inflight = 1
	p.end(ticket{now.Add(-time.Millisecond), now.Add(-time.Millisecond)}, now, callThrottled)
	if r, w := p.state(); r != perMinute || w != 3 {
		t.Fatalf("a stale 429 changed the pacer: %v a minute, window %d", r, w)
	}
	// The rate then rises by 1 % of 540 a minute every second.
	now = now.Add(10 * time.Second)
	if r, _ := p.state(); math.Abs(r-540*1.1) > 1e-6 {
		t.Fatalf("rate %v a minute after 10 s; want %v", r, 540*1.1)
	}
}
