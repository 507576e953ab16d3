package importer

import (
	"context"
	"math"
	"sync"
	"time"
)

// The pacer decides when an import's next call may start and how many may
// be in flight, so that an import against a throttling service runs close
// to its quota without the user tuning anything: --concurrency and --rate
// are ceilings, not settings.
//
// It works like TCP's congestion control, on a rate as well as a window:
//
//   - Until the service first throttles, calls go out as fast as the
//     ceilings allow, and the window of calls in flight starts small and
//     grows by one per success (doubling every round trip).
//   - A throttled answer (429) decreases both multiplicatively: the rate to
//     rateDecrease times the lower of the rate the calls were paced at and
//     the rate the service accepted over the last measureWindow (when it
//     throttles, what it accepts is its quota), the window to
//     windowDecrease times itself. Calls that started before a decrease
//     were paced by the old rate, so their 429s do not decrease it again.
//   - While the service accepts calls, the rate increases additively, by
//     rateIncrease of the rate after the last decrease every second, and
//     the window by one per window's worth of successes.
//
// The throttled call itself waits for the Retry-After the service asked
// for before it is tried again; the others go on at the decreased rate.
//
// A sawtooth between rateDecrease and a little over the quota keeps the
// service busy above 90 % of its quota, and a token bucket's burst absorbs
// the overshoot, so few calls are throttled (pacer_test.go simulates it).
const (
	rateDecrease   = 0.9
	rateIncrease   = 0.01
	windowDecrease = 0.5
	initialWindow  = 4
	measureWindow  = time.Second
)

type pacer struct {
	now func() time.Time

	mu sync.Mutex
	// maxRate is the ceiling of the rate in calls a second (0: none),
	// maxWindow that of the window.
	maxRate   float64
	maxWindow int
	// limited says that the service has throttled: the rate is then base
	// plus step a second since decreased.
	limited   bool
	base      float64
	step      float64
	decreased time.Time
	// next is the earliest start of the next call.
	next time.Time
	// window is the number of calls that may be in flight, inflight the
	// number that are; freed is closed and replaced when one ends.
	window   float64
	inflight int
	freed    chan struct{}
	// accepted are the end times of the successful calls of the last
	// measureWindow, oldest first.
	accepted []time.Time
}

// newPacer returns a pacer with ceilings of maxPerMinute calls a minute (0:
// none) and maxWindow calls in flight.
func newPacer(maxPerMinute float64, maxWindow int, now func() time.Time) *pacer {
	return &pacer{
		now:       now,
		maxRate:   maxPerMinute / 60,
		maxWindow: maxWindow,
		window:    math.Min(initialWindow, float64(maxWindow)),
		freed:     make(chan struct{}),
	}
}

// rate is the rate calls are paced at, at now, in calls a second (0: not
// paced).
func (p *pacer) rate(now time.Time) float64 {
	r := p.maxRate
	if p.limited {
		r = p.base + p.step*now.Sub(p.decreased).Seconds()
		if p.maxRate > 0 {
			r = math.Min(r, p.maxRate)
		}
	}
	return r
}

// tryStart reserves the start of a call at now: ok false when the window
// is full (wait for a call to end), else the delay until the call may
// start. The caller must call end for every reservation.
func (p *pacer) tryStart(now time.Time) (delay time.Duration, ok bool) {
	if p.inflight >= max(1, int(p.window)) {
		return 0, false
	}
	p.inflight++
	r := p.rate(now)
	if r <= 0 {
		return 0, true
	}
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(time.Duration(float64(time.Second) / r))
	return at.Sub(now), true
}

// outcome is how a call ended, for the pacer.
type outcome int

const (
	callOK        outcome = iota // the service took the call
	callThrottled                // 429
	callFailed                   // any other failure: neither speeds up nor slows down
)

// end records the end, at now, of a call whose start was reserved at
// started.
func (p *pacer) end(started, now time.Time, o outcome) {
	p.inflight--
	close(p.freed)
	p.freed = make(chan struct{})
	cut := now.Add(-measureWindow)
	i := 0
	for i < len(p.accepted) && !p.accepted[i].After(cut) {
		i++
	}
	p.accepted = p.accepted[i:]
	switch o {
	case callOK:
		p.accepted = append(p.accepted, now)
		if p.limited {
			p.window += 1 / p.window
		} else {
			p.window++
		}
		p.window = math.Min(p.window, float64(p.maxWindow))
	case callThrottled:
		if p.limited && started.Before(p.decreased) {
			return // paced by the rate already decreased
		}
		measured := float64(len(p.accepted)) / measureWindow.Seconds()
		r := measured
		if cur := p.rate(now); cur > 0 && (cur < r || r == 0) {
			r = cur
		}
		if r == 0 {
			r = 1 / measureWindow.Seconds()
		}
		p.base = rateDecrease * r
		p.step = rateIncrease * p.base
		p.decreased = now
		p.limited = true
		p.window = math.Max(1, p.window*windowDecrease)
		// Calls already reserved keep their times; the next ones follow
		// at the new rate.
	}
}

// acquire waits until a call may start. It returns the ticket to release
// the call with: the time its start was reserved, which says which rate
// paced it.
func (p *pacer) acquire(ctx context.Context, sleep func(context.Context, time.Duration) error) (ticket time.Time, err error) {
	for {
		p.mu.Lock()
		now := p.now()
		d, ok := p.tryStart(now)
		freed := p.freed
		p.mu.Unlock()
		if ok {
			if err := sleep(ctx, d); err != nil {
				p.release(now, callFailed)
				return time.Time{}, err
			}
			return now, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-freed:
		}
	}
}

// release ends a call acquire let start, with its ticket.
func (p *pacer) release(ticket time.Time, o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.end(ticket, p.now(), o)
}

// state returns the current rate (calls a minute, 0: not paced) and window.
func (p *pacer) state() (perMinute float64, window int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate(p.now()) * 60, int(p.window)
}
