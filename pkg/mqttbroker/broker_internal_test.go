package mqttbroker

import (
	"runtime"
	"testing"
)

// TestNoSysMessagesRetained: the $SYS messages the broker publishes when
// it starts are not kept, so subscribing searches an empty retained store.
func TestNoSysMessagesRetained(t *testing.T) {
	b := New(Options{})
	if err := b.Start(nil); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := b.srv.Topics.Retained.Len(); n != 0 {
		t.Fatalf("%d messages retained after start, want 0", n)
	}
}

// TestWebSocketsServedWhenStartReturns: the broker starts its listeners
// in goroutines of its own; Start returns only once the WebSocket one has
// run, so an upgrade right after Start finds the broker (it once got 503).
func TestWebSocketsServedWhenStartReturns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the listener's goroutine runs late
	for i := range 20 {
		b := New(Options{})
		if err := b.Start(nil); err != nil {
			t.Fatal(err)
		}
		ready := b.ws.get() != nil
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if !ready {
			t.Fatalf("start %d: no WebSocket listener when Start returned", i)
		}
	}
}
