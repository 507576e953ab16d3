package dps

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestWithoutRetries(t *testing.T) {
	var calls atomic.Int32
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3")
		writeJSON(w, http.StatusTooManyRequests, model.ErrorDetails{ErrorCode: 429001, Message: "throttled"})
	})
	once := c.WithoutRetries()
	_, err := once.GetGroup(context.Background(), "g")
	if !IsThrottled(err) || calls.Load() != 1 {
		t.Fatalf("WithoutRetries: err %v after %d calls; want 429 after one", err, calls.Load())
	}
	var de *Error
	if !errors.As(err, &de) || de.RetryAfter.Seconds() != 3 {
		t.Fatalf("the 429 lost its Retry-After: %#v", err)
	}
	if once.Endpoint() != c.Endpoint() || once.Host() != c.Host() {
		t.Fatalf("another service: %s, want %s", once.Endpoint(), c.Endpoint())
	}
	// The original client still retries.
	calls.Store(0)
	if _, err := c.GetGroup(context.Background(), "g"); err == nil || calls.Load() != DefaultMaxRetries+1 {
		t.Fatalf("the original client made %d calls; want %d", calls.Load(), DefaultMaxRetries+1)
	}
}
