package groupcommit

import (
	"context"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/store"
)

// Limits of the bulk writer.
const (
	// maxBulkBatch bounds the bulk calls committed in one transaction.
	maxBulkBatch = 32
	// bulkGatherWait bounds how long a transaction waits for calls that
	// are still being decoded and checked.
	bulkGatherWait = 2 * time.Millisecond
	// bulkIdleWait is how long the writer goroutine waits for new work
	// before it exits (a goroutine kept busy keeps its grown stack).
	bulkIdleWait = 20 * time.Millisecond
	// bulkPeakWindow is how long the peak of calls in flight is kept.
	bulkPeakWindow = 200 * time.Millisecond
)

// BulkWriter commits the writes of concurrent bulk calls together (group
// commit), like Batcher does for registrations, but it also waits for
// calls it expects. A bulk call spends most of its time before its
// transaction (decoding, checking, encoding), and a transaction costs
// about as much as inserting a dozen enrollments; on a machine with few
// cores the writer would otherwise begin a transaction as soon as one call
// is queued, and an import would pay for a transaction per call. So a call
// announces itself when it starts, and before it begins a transaction the
// writer waits, for at most bulkGatherWait, until the announced calls have
// queued their writes and at least half of the calls that clients lately
// kept in flight are queued (the other half is being prepared meanwhile).
// A client that sends one call at a time is never kept waiting.
//
// Each call is answered after the transaction that holds its writes
// commits. If a shared transaction fails, its calls are retried one by one
// so that one bad call does not fail the others.
type BulkWriter struct {
	st *store.Store

	mu        sync.Mutex
	queue     []*job
	preparing int  // announced calls not queued yet
	active    int  // announced calls not finished
	running   bool // a writer goroutine exists
	// peak is the most calls active at once lately (since peakAt): how many
	// calls the clients keep in flight.
	peak   int
	peakAt time.Time
	// wake is signalled (without blocking) when a job is queued or an
	// announced call gives up.
	wake chan struct{}
}

func NewBulkWriter(st *store.Store) *BulkWriter {
	return &BulkWriter{st: st, wake: make(chan struct{}, 1)}
}

// InFlight reports the announced calls that have not queued their write yet
// (preparing), and those not finished (active).
func (b *BulkWriter) InFlight() (preparing, active int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.preparing, b.active
}

// Announce counts a call that will probably queue a write soon. The
// ticket is handed to Do, and closed when the call ends; it belongs to one
// goroutine.
func (b *BulkWriter) Announce() *Ticket {
	b.mu.Lock()
	b.preparing++
	b.active++
	b.peak = max(b.peak, b.active)
	b.mu.Unlock()
	return &Ticket{b: b, open: true, live: true}
}

// Ticket is an announced call.
type Ticket struct {
	b    *BulkWriter
	open bool // announced, not queued
	live bool // not closed
}

// Close ends the call: it withdraws the announcement unless Do has taken
// it. It may be called more than once.
func (t *Ticket) Close() {
	if t == nil || !t.live {
		return
	}
	t.live = false
	t.b.mu.Lock()
	t.b.active--
	if t.open {
		t.open = false
		t.b.preparing--
	}
	t.b.mu.Unlock()
	t.b.signal()
}

func (b *BulkWriter) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Do runs fn in a transaction, possibly shared with other calls, and
// returns its error once the transaction committed or failed. fn may run
// twice (the second time alone), so it must only write what it computed
// from its own inputs and the transaction. t, if not nil, is the call's
// announcement, which do takes.
func (b *BulkWriter) Do(ctx context.Context, t *Ticket, fn func(tx *store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		t.Close()
		return err
	}
	j := &job{fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, j)
	if t != nil && t.open {
		t.open = false
		b.preparing--
	}
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.run()
	} else {
		b.signal()
	}
	return <-j.done
}

// run commits batches until the queue stays empty for bulkIdleWait.
func (b *BulkWriter) run() {
	idle := time.NewTimer(bulkIdleWait)
	defer idle.Stop()
	for {
		batch := b.gather()
		if batch == nil {
			// Nothing queued: wait a little for more before leaving.
			idle.Reset(bulkIdleWait)
			select {
			case <-b.wake:
				continue
			case <-idle.C:
			}
			b.mu.Lock()
			if len(b.queue) == 0 {
				b.running = false
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			continue
		}
		commitBatch(b.st, batch)
	}
}

// gather takes the next batch off the queue, first waiting (at most
// bulkGatherWait) for announced calls to queue theirs and, when clients
// keep several calls in flight, for half of them: the other half is being
// prepared while this transaction runs. It returns nil when the queue is
// empty.
func (b *BulkWriter) gather() []*job {
	var deadline time.Time
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		b.mu.Lock()
		n := len(b.queue)
		if n == 0 {
			b.mu.Unlock()
			return nil
		}
		now := time.Now()
		if now.Sub(b.peakAt) > bulkPeakWindow {
			b.peak, b.peakAt = b.active, now
		}
		if batchReady(n, b.preparing, b.peak) {
			break
		}
		if deadline.IsZero() {
			deadline = now.Add(bulkGatherWait)
		}
		if !now.Before(deadline) {
			break
		}
		b.mu.Unlock()
		if t == nil {
			t = time.NewTimer(deadline.Sub(now))
		} else {
			t.Reset(deadline.Sub(now))
		}
		select {
		case <-b.wake:
		case <-t.C:
		}
	}
	n := min(len(b.queue), maxBulkBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()
	return batch
}

// batchReady reports whether a transaction should begin with queued calls
// queued: no announced call is still being prepared and at least half of
// the peak number of calls in flight is queued, or the batch is full.
func batchReady(queued, preparing, peak int) bool {
	return queued >= maxBulkBatch || preparing == 0 && queued >= (peak+1)/2
}
