// Package groupcommit commits concurrent writes to the store together
// (group commit): SQLite allows one writer, and a commit costs about as
// much as the writes of a registration or of a bulk call. Batcher serves
// the device API's registrations, BulkWriter the service API's bulk calls.
package groupcommit

import (
	"context"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/store"
)

// maxBatch bounds the writes committed in one transaction.
const maxBatch = 64

// Batcher commits concurrent writes together (group commit): SQLite
// allows one writer, and a commit costs about as much as the writes of a
// registration, so registrations that arrive while a transaction runs share
// the next one. If a batch fails, its writes are retried one by one so that
// one bad write does not fail the others.
type Batcher struct {
	st *store.Store

	mu      sync.Mutex
	queue   []*job
	running bool
}

// NewBatcher returns a Batcher that writes to st.
func NewBatcher(st *store.Store) *Batcher { return &Batcher{st: st} }

type job struct {
	fn   func(tx *store.Tx) error
	done chan error
}

// Do runs fn in a transaction, possibly shared with other writes, and
// returns its error. fn may run twice (the second time alone), so it must
// only write what it computed from its own inputs and the transaction.
func (b *Batcher) Do(ctx context.Context, fn func(tx *store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, j)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	return <-j.done
}

// drain commits batches until the queue is empty.
func (b *Batcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		commitBatch(b.st, batch)
	}
}

// commitBatch runs the writes of batch in one transaction of st and
// answers each job. If that transaction fails, each write is retried in a
// transaction of its own, so that one bad write does not fail the others.
func commitBatch(st *store.Store, batch []*job) {
	ctx := context.Background()
	if len(batch) == 1 {
		batch[0].done <- st.Update(ctx, batch[0].fn)
		return
	}
	err := st.Update(ctx, func(tx *store.Tx) error {
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
		j.done <- st.Update(ctx, j.fn)
	}
}
