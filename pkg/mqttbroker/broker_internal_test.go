package mqttbroker

import "testing"

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
