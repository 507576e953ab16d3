package server

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
)

// bulkWriter commits the writes of concurrent bulk calls together (group
// commit), like writeBatcher does for registrations, and also waits for the
// calls it knows are on their way. A bulk call spends most of its time
// before its transaction (decoding, checking, encoding); on a machine with
// few cores the transaction of one call would otherwise start as soon as
// it is queued, alone, and each transaction costs about as much as
// inserting a dozen enrollments. So a call announces itself (prepare)
// when it starts, and the writer gathers, for at most bulkGatherWait, the
// announced calls before it begins a transaction.
//
// Each call is answered after the transaction that holds its writes
// commits. If a shared transaction fails, its calls are retried one by one
// so that one bad call does not fail the others.
type bulkWriter struct {
	st *store.Store

	mu        sync.Mutex
	queue     []*writeJob
	preparing int  // announced calls not queued yet
	running   bool // a writer goroutine exists
	// wake is signalled (without blocking) when a job is queued or an
	// announced call gives up.
	wake chan struct{}
}

func newBulkWriter(st *store.Store) *bulkWriter {
	return &bulkWriter{st: st, wake: make(chan struct{}, 1)}
}

// announce counts a call that will probably queue a write soon. The
// ticket is handed to do, or cancelled when the call will not write; it
// belongs to one goroutine.
func (b *bulkWriter) announce() *bulkTicket {
	b.mu.Lock()
	b.preparing++
	b.mu.Unlock()
	return &bulkTicket{b: b, open: true}
}

// bulkTicket is an announced call.
type bulkTicket struct {
	b    *bulkWriter
	open bool
}

// cancel withdraws the announcement unless do has taken it; it may be
// called more than once.
func (t *bulkTicket) cancel() {
	if t == nil || !t.open {
		return
	}
	t.open = false
	t.b.mu.Lock()
	t.b.preparing--
	t.b.mu.Unlock()
	t.b.signal()
}

func (b *bulkWriter) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// do runs fn in a transaction, possibly shared with other calls, and
// returns its error once the transaction committed or failed. fn may run
// twice (the second time alone), so it must only write what it computed
// from its own inputs and the transaction. t, if not nil, is the call's
// announcement, which do takes.
func (b *bulkWriter) do(ctx context.Context, t *bulkTicket, fn func(tx *store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		t.cancel()
		return err
	}
	j := &writeJob{fn: fn, done: make(chan error, 1)}
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
func (b *bulkWriter) run() {
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
		b.commit(batch)
	}
}

// gather takes the next batch off the queue, first waiting (at most
// bulkGatherWait) for announced calls to queue theirs. It returns nil when
// the queue is empty.
func (b *bulkWriter) gather() []*writeJob {
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
		if b.preparing == 0 || n >= maxBulkBatch {
			break
		}
		now := time.Now()
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

func (b *bulkWriter) commit(batch []*writeJob) {
	ctx := context.Background()
	if len(batch) == 1 {
		batch[0].done <- b.st.Update(ctx, batch[0].fn)
		return
	}
	err := b.st.Update(ctx, func(tx *store.Tx) error {
		for _, j := range batch {
			if err := j.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, j := range batch {
			j.done <- nil
		}
		return
	}
	for _, j := range batch {
		j.done <- b.st.Update(ctx, j.fn)
	}
}
