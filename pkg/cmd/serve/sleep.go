package serve

import (
	"context"
	"time"
)

// sleep waits a moment or until ctx ends.
func sleep(ctx context.Context) {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
