package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// openStore opens a store in a temporary directory, closed with the test.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestBatchReady(t *testing.T) {
	tests := []struct {
		name                    string
		queued, preparing, peak int
		ready                   bool
	}{
		{"one caller at a time", 1, 0, 1, true},
		{"two callers", 1, 0, 2, true},
		{"four in flight, one queued", 1, 0, 4, false},
		{"four in flight, two queued", 2, 0, 4, true},
		{"one still being prepared", 3, 1, 4, false},
		{"full", maxBulkBatch, 5, 64, true},
		{"sixteen in flight, eight queued", 8, 0, 16, true},
	}
	for _, tt := range tests {
		if got := batchReady(tt.queued, tt.preparing, tt.peak); got != tt.ready {
			t.Errorf("%s: batchReady(%d, %d, %d) = %v", tt.name, tt.queued, tt.preparing, tt.peak, got)
		}
	}
}

func TestBulkWriterIsolatesAFailingCall(t *testing.T) {
	st := openStore(t)
	w := NewBulkWriter(st)
	boom := errors.New("boom")
	const n = 6
	tickets := make([]*Ticket, n)
	for i := range tickets {
		tickets[i] = w.Announce()
	}
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tickets[i].Close()
			results[i] = w.Do(context.Background(), tickets[i], func(tx *store.Tx) error {
				if i == 2 {
					if err := tx.PutEnrollment(&model.IndividualEnrollment{RegistrationID: "bad", EnrollmentCommon: model.EnrollmentCommon{ETag: "x"}}, ""); err != nil {
						return err
					}
					return boom
				}
				return tx.PutEnrollment(&model.IndividualEnrollment{RegistrationID: fmt.Sprintf("ok-%d", i), EnrollmentCommon: model.EnrollmentCommon{ETag: "x"}}, "")
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if want := i == 2; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	ctx := context.Background()
	if n, _ := st.CountEnrollments(ctx); n != 5 {
		t.Fatalf("%d enrollments, want 5", n)
	}
	if _, err := st.Enrollment(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed call's write stayed: %v", err)
	}
	// A withdrawn announcement and a cancelled context leave nothing behind.
	tk := w.Announce()
	tk.Close()
	tk.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Do(cctx, w.Announce(), func(*store.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("do with a cancelled context: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.preparing != 0 || w.active != 0 {
		t.Fatalf("%d calls still announced, %d active", w.preparing, w.active)
	}
}
