package mqttbroker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeRecorder keeps every report, and fails while fail is set.
type fakeRecorder struct {
	mu      sync.Mutex
	reports [][]DeviceActivity
	fail    error
	got     chan struct{} // a report arrived (not blocking)
}

func newFakeRecorder() *fakeRecorder { return &fakeRecorder{got: make(chan struct{}, 1)} }

func (r *fakeRecorder) RecordActivity(_ context.Context, hubHost string, news []DeviceActivity) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hubHost != "h" {
		return errors.New("wrong hub " + hubHost)
	}
	if r.fail != nil {
		return r.fail
	}
	r.reports = append(r.reports, append([]DeviceActivity(nil), news...))
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

// take returns the reports since the last take.
func (r *fakeRecorder) take() [][]DeviceActivity {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reports
	r.reports = nil
	return out
}

// stepClock is a clock that moves a second at each reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestActivityIsCoalesced: a connection and a disconnection are reported
// as they happen; messages are counted in memory and reported together
// (here by Flush: the interval is far off), never one write each.
func TestActivityIsCoalesced(t *testing.T) {
	rec := newFakeRecorder()
	clk := &stepClock{t: t0}
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: time.Hour, Now: clk.now})
	defer h.Close(ctx(t))

	l := newFakeLink()
	if err := h.attach(ctx(t), "d", l); err != nil {
		t.Fatal(err)
	}
	connected := t0.Add(time.Second)
	want := [][]DeviceActivity{{{DeviceID: "d", StateChanged: true, Connected: true, StateTime: connected, LastActivity: connected}}}
	checkReports(t, "after connecting", rec.take(), want)

	const n = 1000
	for range n {
		if err := h.telemetry("d", "", nil, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	checkReports(t, "before the interval", rec.take(), nil)
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	last := connected.Add(n * time.Second)
	checkReports(t, "flushed", rec.take(), [][]DeviceActivity{{{DeviceID: "d", LastActivity: last, Messages: n}}})
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	checkReports(t, "nothing new", rec.take(), nil)

	// The disconnection carries the messages since the last report.
	for range 3 {
		_ = h.telemetry("d", "", nil, []byte("x"))
	}
	h.detach("d", l)
	gone := last.Add(4 * time.Second)
	checkReports(t, "after disconnecting", rec.take(), [][]DeviceActivity{{{DeviceID: "d", StateChanged: true, StateTime: gone, LastActivity: last.Add(3 * time.Second), Messages: 3}}})
}

// TestActivityTakeover: a device that connects again before its old
// connection is seen to close stays connected.
func TestActivityTakeover(t *testing.T) {
	rec := newFakeRecorder()
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: time.Hour})
	defer h.Close(ctx(t))
	old, cur := newFakeLink(), newFakeLink()
	for _, l := range []*fakeLink{old, cur} {
		if err := h.attach(ctx(t), "d", l); err != nil {
			t.Fatal(err)
		}
	}
	h.detach("d", old)
	for _, r := range rec.take() {
		for _, a := range r {
			if a.StateChanged && !a.Connected {
				t.Fatalf("reported %+v: the old connection's end disconnected the device", a)
			}
		}
	}
	if !h.Online("d") {
		t.Fatal("the device is not online on its new connection")
	}
}

// TestActivityRetried: news the recorder failed to take is reported with
// the next report, merged with what happened since.
func TestActivityRetried(t *testing.T) {
	rec := newFakeRecorder()
	clk := &stepClock{t: t0}
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: time.Hour, Now: clk.now})
	defer h.Close(ctx(t))
	rec.fail = errors.New("database is locked")
	l := newFakeLink()
	if err := h.attach(ctx(t), "d", l); err != nil { // t0+1s, not recorded
		t.Fatal(err)
	}
	_ = h.telemetry("d", "", nil, nil) // t0+2s
	if err := h.Flush(ctx(t)); err == nil {
		t.Fatal("Flush hid the recorder's error")
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	_ = h.telemetry("d", "", nil, nil) // t0+3s
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	checkReports(t, "retried", rec.take(), [][]DeviceActivity{{{DeviceID: "d", StateChanged: true, Connected: true,
		StateTime: t0.Add(time.Second), LastActivity: t0.Add(3 * time.Second), Messages: 2}}})
}

// TestActivityOnClose: Close reports what is left, the devices still
// connected as disconnected, and nothing after.
func TestActivityOnClose(t *testing.T) {
	rec := newFakeRecorder()
	clk := &stepClock{t: t0}
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: time.Hour, Now: clk.now})
	for _, id := range []string{"a", "b"} {
		if err := h.attach(ctx(t), id, newFakeLink()); err != nil {
			t.Fatal(err)
		}
	}
	h.detach("b", nil) // not its link: ignored
	rec.take()
	_ = h.telemetry("a", "", nil, nil) // t0+3s
	if err := h.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 || len(got[0]) != 2 {
		t.Fatalf("Close reported %+v, want both devices in one report", got)
	}
	byID := map[string]DeviceActivity{}
	for _, a := range got[0] {
		byID[a.DeviceID] = a
	}
	closed := t0.Add(4 * time.Second)
	if want := (DeviceActivity{DeviceID: "a", StateChanged: true, StateTime: closed, LastActivity: t0.Add(3 * time.Second), Messages: 1}); byID["a"] != want {
		t.Errorf("a: %+v, want %+v", byID["a"], want)
	}
	if want := (DeviceActivity{DeviceID: "b", StateChanged: true, StateTime: closed}); byID["b"] != want {
		t.Errorf("b: %+v, want %+v", byID["b"], want)
	}
	_ = h.telemetry("a", "", nil, nil)
	if err := h.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	checkReports(t, "after Close", rec.take(), nil)
}

// TestActivityEveryInterval: without Flush, the messages are reported by
// the hub's own goroutine.
func TestActivityEveryInterval(t *testing.T) {
	rec := newFakeRecorder()
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: 10 * time.Millisecond})
	defer h.Close(ctx(t))
	for range 5 {
		_ = h.telemetry("d", "", nil, nil)
	}
	var total int64
	for total < 5 {
		select {
		case <-rec.got:
		case <-ctx(t).Done():
			t.Fatalf("%d of 5 messages reported", total)
		}
		for _, r := range rec.take() {
			for _, a := range r {
				total += a.Messages
			}
		}
	}
	if total != 5 {
		t.Fatalf("%d messages reported, want 5", total)
	}
}

// TestActivityWithoutRecorder: a hub without one keeps no news.
func TestActivityWithoutRecorder(t *testing.T) {
	h := NewHub("h", nil, HubOptions{})
	l := newFakeLink()
	if err := h.attach(ctx(t), "d", l); err != nil {
		t.Fatal(err)
	}
	_ = h.telemetry("d", "", nil, nil)
	h.detach("d", l)
	h.mu.Lock()
	queued, started := len(h.actQueue), h.actStarted
	h.mu.Unlock()
	if queued != 0 || started {
		t.Fatalf("%d devices queued, goroutine started %v, without a recorder", queued, started)
	}
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func checkReports(t *testing.T, when string, got, want [][]DeviceActivity) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: reports %+v, want %+v", when, got, want)
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: report %d %+v, want %+v", when, i, got[i], want[i])
		}
		for j := range got[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("%s: report %d: %+v, want %+v", when, i, got[i][j], want[i][j])
			}
		}
	}
}

// hookRecorder calls hook with each report, outside its own lock.
type hookRecorder struct {
	fakeRecorder
	hook func(news []DeviceActivity)
}

func (r *hookRecorder) RecordActivity(ctx context.Context, hubHost string, news []DeviceActivity) error {
	if r.hook != nil {
		r.hook(news)
	}
	return r.fakeRecorder.RecordActivity(ctx, hubHost, news)
}

// TestActivityTakeoverWhileRecording: the old connection of a device is
// seen to end while its new one is being recorded; the device, online on
// the new one, ends up connected in the registry.
func TestActivityTakeoverWhileRecording(t *testing.T) {
	rec := &hookRecorder{fakeRecorder: *newFakeRecorder()}
	h := NewHub("h", nil, HubOptions{Activity: rec, ActivityInterval: time.Hour})
	defer h.Close(ctx(t))
	old, cur := newFakeLink(), newFakeLink()
	if err := h.attach(ctx(t), "d", old); err != nil {
		t.Fatal(err)
	}
	detached := make(chan struct{})
	rec.hook = func(news []DeviceActivity) {
		rec.hook = nil // once: the new connection's first report
		go func() {
			defer close(detached)
			h.detach("d", old) // notes the end, then waits for this report
		}()
		for i := 0; h.Online("d"); i++ {
			if i == 3000 {
				t.Error("the old connection's end was not noted")
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := h.attach(ctx(t), "d", cur); err != nil {
		t.Fatal(err)
	}
	<-detached
	if err := h.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	connected := false
	for _, r := range rec.take() {
		for _, a := range r {
			if a.StateChanged {
				connected = a.Connected
			}
		}
	}
	if !connected || !h.Online("d") {
		t.Fatalf("the registry's last state: connected %v; online %v", connected, h.Online("d"))
	}
}
