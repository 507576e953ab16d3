package store

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints. In WAL mode every committed page is written twice: appended
// to the write-ahead log at commit, then copied into the database file by a
// checkpoint. SQLite's default runs that copy inside the commit that makes
// the log reach 1,000 pages (4 MiB), so a bulk import pays for both copies
// on its single writer connection, a third of its cost. The store lets the
// log grow to walAutocheckpointPages before a commit checkpoints, and
// checkpoints on its own once writes have stopped for idleCheckpointDelay:
// the copy moves out of bursts of writes into the quiet after them, and the
// log file is truncated again. A burst long enough to take the log past
// busyCheckpointBytes (three quarters of the bound) has its log copied in
// the background meanwhile, on a reader connection, so that the commit
// that reaches the bound finds little left to copy and the writes are not
// held up for seconds.
const (
	// walAutocheckpointPages bounds the log between checkpoints (256 MiB
	// with the 4 KiB page size).
	walAutocheckpointPages = 65536
	// idleCheckpointDelay is how long after the last write the store
	// checkpoints the log and truncates it.
	idleCheckpointDelay = 250 * time.Millisecond
	// busyCheckpointBytes is the log size past which it is copied in the
	// background while writes go on.
	busyCheckpointBytes = walAutocheckpointPages * 4096 / 4 * 3
	// busyCheckEvery is how many commits pass between looks at the size
	// of the log.
	busyCheckEvery = 32
)

// busyCheckpointer copies a growing log into the database in the
// background while writes go on.
type busyCheckpointer struct {
	threshold int64 // log size that starts a copy
	commits   atomic.Int64
	running   atomic.Bool
}

// wrote notes a committed write of s and, now and then, starts a
// background copy when the log has grown past the threshold.
func (c *busyCheckpointer) wrote(s *Store) {
	if c.commits.Add(1)%busyCheckEvery != 0 || c.running.Load() {
		return
	}
	fi, err := os.Stat(s.path + "-wal")
	if err != nil || fi.Size() < c.threshold {
		return
	}
	if !c.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// A failure only leaves more for the next checkpoint.
		_, _ = s.copyLog(ctx)
	}()
}

// idleCheckpointer checkpoints a store once writes stop.
type idleCheckpointer struct {
	mu     sync.Mutex
	delay  time.Duration
	timer  *time.Timer
	closed bool
	run    func()
}

// wrote notes a committed write: the checkpoint is due delay after the
// last one.
func (c *idleCheckpointer) wrote() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(c.delay, c.fire)
		return
	}
	c.timer.Reset(c.delay)
}

func (c *idleCheckpointer) fire() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.run()
	}
}

// close stops the timer; a checkpoint already running finishes.
func (c *idleCheckpointer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log. The copying is done on a reader connection, where it
// does not hold up writers; only the final truncation takes the writer
// connection, briefly, and only when the copy was complete: a reader still
// on an older snapshot (another process sharing the data directory) would
// make the truncation wait for it, holding up this store's writes, so the
// log is then left for a later checkpoint.
func (s *Store) Checkpoint(ctx context.Context) error {
	complete, err := s.copyLog(ctx)
	if err != nil || !complete {
		return err
	}
	var busy, logPages, done int
	return s.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
}

// copyLog copies the write-ahead log into the database file on a reader
// connection (PASSIVE: what no reader still needs, never waiting) and
// reports whether all of it was copied.
func (s *Store) copyLog(ctx context.Context) (complete bool, err error) {
	var busy, logPages, done int
	if err := s.r.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done); err != nil {
		return false, err
	}
	return busy == 0 && done >= logPages, nil
}

func (s *Store) idleCheckpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A failed checkpoint is harmless: the log stays and the next one,
	// or SQLite's own at walAutocheckpointPages, copies it.
	_ = s.Checkpoint(ctx)
}
