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
//     The accepted calls are counted by the time they started, not the
//     time they ended: a refusal comes back at once while a call the
//     service takes is still at work, so the calls of the window that end
//     after the decrease still count, and raise the rate it set.
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
	// accepted are the start times of the successful calls of the last
	// two measureWindows, about oldest first.
	accepted []time.Time
	// The last decrease counted the calls accepted that started in
	// (measuredFrom, decreased]; a late one raises base by perAccepted,
	// up to maxBase.
	measuredFrom         time.Time
	perAccepted, maxBase float64
}

// ticket is a call's reservation: when it was made, which says the rate
// that paced the call, and when the call may start.
type ticket struct {
	reserved, start time.Time
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
func (p *pacer) tryStart(now time.Time) (t ticket, ok bool) {
	if p.inflight >= max(1, int(p.window)) {
		return ticket{}, false
	}
	p.inflight++
	r := p.rate(now)
	if r <= 0 {
		return ticket{now, now}, true
	}
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(time.Duration(float64(time.Second) / r))
	return ticket{now, at}, true
}

// outcome is how a call ended, for the pacer.
type outcome int

const (
	callOK        outcome = iota // the service took the call
	callThrottled                // 429
	callFailed                   // any other failure: neither speeds up nor slows down
)

// end records the end, at now, of the call of ticket t.
func (p *pacer) end(t ticket, now time.Time, o outcome) {
	p.inflight--
	close(p.freed)
	p.freed = make(chan struct{})
	cut := now.Add(-2 * measureWindow)
	i := 0
	for i < len(p.accepted) && !p.accepted[i].After(cut) {
		i++
	}
	p.accepted = p.accepted[i:]
	switch o {
	case callOK:
		p.accepted = append(p.accepted, t.start)
		if p.limited && t.reserved.Before(p.decreased) && t.start.After(p.measuredFrom) {
			// Accepted in the window the last decrease measured.
			p.base = math.Min(p.maxBase, p.base+p.perAccepted)
			p.step = rateIncrease * p.base
		}
		if p.limited {
			p.window += 1 / p.window
		} else {
			p.window++
		}
		p.window = math.Min(p.window, float64(p.maxWindow))
	case callThrottled:
		if p.limited && t.reserved.Before(p.decreased) {
			return // paced by the rate already decreased
		}
		from := now.Add(-measureWindow)
		n := 0
		for _, s := range p.accepted {
			if s.After(from) {
				n++
			}
		}
		p.perAccepted = rateDecrease / measureWindow.Seconds()
		p.maxBase = math.Inf(1)
		if cur := p.rate(now); cur > 0 {
			p.maxBase = rateDecrease * cur
		}
		p.base = math.Min(p.maxBase, math.Max(float64(n), 1)*p.perAccepted)
		p.step = rateIncrease * p.base
		p.decreased = now
		p.measuredFrom = from
		p.limited = true
		p.window = math.Max(1, p.window*windowDecrease)
		// Calls already reserved keep their times; the next ones follow
		// at the new rate.
	}
}

// acquire waits until a call may start, and returns the ticket to
// release it with.
func (p *pacer) acquire(ctx context.Context, sleep func(context.Context, time.Duration) error) (ticket, error) {
	for {
		p.mu.Lock()
		now := p.now()
		t, ok := p.tryStart(now)
		freed := p.freed
		p.mu.Unlock()
		if ok {
			if err := sleep(ctx, t.start.Sub(now)); err != nil {
				p.release(t, callFailed)
				return ticket{}, err
			}
			return t, nil
		}
		select {
		case <-ctx.Done():
			return ticket{}, ctx.Err()
		case <-freed:
		}
	}
}

// release ends the call of ticket t.
func (p *pacer) release(t ticket, o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.end(t, p.now(), o)
}

// state returns the current rate (calls a minute, 0: not paced) and window.
func (p *pacer) state() (perMinute float64, window int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate(p.now()) * 60, int(p.window)
}
