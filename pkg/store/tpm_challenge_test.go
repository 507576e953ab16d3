package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A TPM challenge key is consumed once, only while valid, and only with
// the key that was issued last.
func TestConsumeTPMChallenge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	tests := []struct {
		name      string
		put       string // key issued ("" for none)
		expires   time.Time
		key       string // key consumed
		at        time.Time
		ok        bool
		consumeBy int // consumed this many times before (with key, at)
	}{
		{name: "valid", put: "a2V5MQ==", expires: now.Add(time.Minute), key: "a2V5MQ==", at: now, ok: true},
		{name: "already consumed", put: "a2V5MQ==", expires: now.Add(time.Minute), key: "a2V5MQ==", at: now, consumeBy: 1},
		{name: "other key", put: "a2V5MQ==", expires: now.Add(time.Minute), key: "a2V5Mg==", at: now},
		{name: "expired", put: "a2V5MQ==", expires: now.Add(time.Minute), key: "a2V5MQ==", at: now.Add(2 * time.Minute)},
		{name: "at its expiry", put: "a2V5MQ==", expires: now.Add(time.Minute), key: "a2V5MQ==", at: now.Add(time.Minute), ok: true},
		{name: "never issued", key: "a2V5MQ==", at: now},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "Tpm-" + string(rune('a'+i))
			if tt.put != "" {
				if err := s.PutTPMChallenge(ctx, id, tt.put, tt.expires); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.consumeBy {
				if err := s.ConsumeTPMChallenge(ctx, id, tt.key, tt.at); err != nil {
					t.Fatal(err)
				}
			}
			err := s.ConsumeTPMChallenge(ctx, id, tt.key, tt.at)
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("consume: %v", err)
			}
			if tt.ok {
				// Gone for TPMChallenge too (IDs compare without case).
				if _, err := s.TPMChallenge(ctx, "TPM-"+string(rune('A'+i)), now); !errors.Is(err, ErrNotFound) {
					t.Fatalf("after consume: %v", err)
				}
			}
		})
	}

	// Of concurrent consumers of one key exactly one succeeds.
	if err := s.PutTPMChallenge(ctx, "tpm-race", "a2V5Mw==", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.ConsumeTPMChallenge(ctx, "tpm-race", "a2V5Mw==", now)
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrNotFound):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d consumers succeeded", won, n)
	}
}
