package mqttbroker

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

const waitLimit = 30 * time.Second

// fakeLink records what the hub sends to a device.
type fakeLink struct {
	mu   sync.Mutex
	subs map[subKind]bool
	sent []string // topics
	got  chan string
	fail bool
}

func newFakeLink(subs ...subKind) *fakeLink {
	l := &fakeLink{subs: map[subKind]bool{}, got: make(chan string, 64)}
	for _, k := range subs {
		l.subs[k] = true
	}
	return l
}

func (l *fakeLink) send(k subKind, topic string, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.New("link down")
	}
	l.sent = append(l.sent, topic)
	l.got <- topic
	return nil
}

func (l *fakeLink) subscribed(k subKind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.subs[k]
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

func TestStreamReplayAndRing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHub("h", nil, HubOptions{TelemetryRing: 3, Now: func() time.Time { return now }})
	for i := range 5 {
		now = now.Add(time.Second)
		for _, d := range []string{"a", "b"} {
			if err := h.telemetry(d, "", topics.Bag{{Key: "i", Value: strconv.Itoa(i)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		opts StreamOptions
		want []string // device:i
	}{
		{"all kept, in enqueue order", StreamOptions{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"a:2", "b:2", "a:3", "b:3", "a:4", "b:4"}},
		{"one device", StreamOptions{DeviceID: "b", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"b:2", "b:3", "b:4"}},
		{"since", StreamOptions{Since: time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)}, []string{"a:4", "b:4"}},
		{"no replay", StreamOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := h.Subscribe(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got []string
			for range tt.want {
				ev, err := s.Next(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.DeviceID+":"+ev.Properties["i"])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if ev, err := s.Next(short); err == nil {
				t.Fatalf("one more event: %+v", ev)
			}
		})
	}
}

func TestStreamBufferedCountsWhatNextHasAtHand(t *testing.T) {
	h := NewHub("h", nil, HubOptions{StreamBuffer: 8})
	for _, p := range []string{"kept-1", "kept-2"} {
		if err := h.telemetry("d", "", nil, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := h.Subscribe(StreamOptions{Since: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := h.telemetry("d", "", nil, []byte("live")); err != nil {
		t.Fatal(err)
	}
	for want := 3; want > 0; want-- {
		if got := s.Buffered(); got != want {
			t.Fatalf("Buffered = %d, want %d (replay and live)", got, want)
		}
		if _, err := s.Next(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Buffered(); got != 0 {
		t.Fatalf("Buffered = %d once all is read", got)
	}
}

func TestStreamsAreBoundedAndReleaseDevices(t *testing.T) {
	h := NewHub("h", nil, HubOptions{MaxStreams: 1, StreamBuffer: 1})
	s, err := h.Subscribe(StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(StreamOptions{}); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("second stream: %v", err)
	}
	// The first event fills the buffer; the second waits for the reader.
	if err := h.telemetry("d", "", nil, []byte("1")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.telemetry("d", "", nil, []byte("2")) }()
	select {
	case <-done:
		t.Fatal("the device did not wait for the stream")
	case <-time.After(50 * time.Millisecond):
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("closing the stream did not release the device")
	}
	// The buffered event may come first; then the stream says it is closed.
	closed := false
	for range 2 {
		if _, err := s.Next(ctx(t)); errors.Is(err, ErrStreamClosed) {
			closed = true
			break
		}
	}
	if !closed {
		t.Fatal("Next after Close does not report ErrStreamClosed")
	}
	if _, err := h.Subscribe(StreamOptions{}); err != nil {
		t.Fatalf("a stream after Close: %v", err)
	}
}

func TestMethods(t *testing.T) {
	h := NewHub("h", nil, HubOptions{MaxPendingMethods: 1})
	link := newFakeLink()
	if err := h.attach(context.Background(), "d", link); err != nil {
		t.Fatal(err)
	}
	// Connected is not enough: methods need the subscription.
	if !h.Online("d") || h.AnswersMethods("d") {
		t.Fatalf("before subscribing: online %v, answers methods %v; want true, false", h.Online("d"), h.AnswersMethods("d"))
	}
	if _, err := h.InvokeMethod(ctx(t), "d", "early", nil, time.Second); !errors.Is(err, ErrDeviceNotOnline) {
		t.Fatalf("call before subscribing: %v, want ErrDeviceNotOnline", err)
	}
	link.mu.Lock()
	link.subs[subMethods] = true
	link.mu.Unlock()
	if !h.AnswersMethods("d") || h.AnswersMethods("other") {
		t.Fatal("AnswersMethods after subscribing, or for an unknown device")
	}
	type result struct {
		r   MethodResult
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := h.InvokeMethod(ctx(t), "d", "one", []byte(`{"a":1}`), waitLimit)
		first <- result{r, err}
	}()
	var topic string
	select {
	case topic = <-link.got:
	case <-time.After(waitLimit):
		t.Fatal("no request sent")
	}
	req, err := topics.Parse(topic)
	if err != nil || req.Kind != topics.MethodRequest || req.Method != "one" {
		t.Fatalf("request topic %q: %+v %v", topic, req, err)
	}
	if _, err := h.InvokeMethod(ctx(t), "d", "two", nil, time.Second); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("second call: %v, want ErrTooManyPending", err)
	}
	h.methodResponse("d", "unknown", 200, []byte(`{}`)) // ignored
	h.methodResponse("d", req.RID, 200, []byte(`plain text`))
	select {
	case r := <-first:
		if r.err != nil || r.r.Status != 200 || string(r.r.Payload) != `"plain text"` {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(waitLimit):
		t.Fatal("no result")
	}
	tests := []struct {
		name, method string
		payload      []byte
		want         error
	}{
		{"name with a slash", "a/b", nil, ErrBadMethodRequest},
		{"payload not JSON", "m", []byte("{"), ErrBadMethodRequest},
		{"payload too large", "m", []byte(`"` + strings.Repeat("x", MaxMethodPayload) + `"`), ErrBadMethodRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.InvokeMethod(ctx(t), "d", tt.method, tt.payload, time.Second); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	h.detach("d", link)
	if _, err := h.InvokeMethod(ctx(t), "d", "m", nil, time.Second); !errors.Is(err, ErrDeviceNotOnline) {
		t.Fatalf("after detach: %v", err)
	}
}

func TestTwinPatches(t *testing.T) {
	h := NewHub("h", nil, HubOptions{})
	link := newFakeLink() // subscribed to nothing
	if err := h.attach(context.Background(), "d", link); err != nil {
		t.Fatal(err)
	}
	if v, err := h.UpdateDesired("d", []byte(`{"a":{"b":1,"c":2}}`)); err != nil || v != 2 {
		t.Fatalf("UpdateDesired = %d, %v", v, err)
	}
	if len(link.sent) != 0 {
		t.Fatalf("sent to a device that did not subscribe: %v", link.sent)
	}
	if _, err := h.UpdateDesired("d", []byte(`{"a":{"b":null},"$version":99}`)); err != nil {
		t.Fatal(err)
	}
	tw, _ := h.Twin("d")
	if got := tw.Properties.Desired; got["$version"] != int64(3) || len(got["a"].(map[string]any)) != 1 {
		t.Fatalf("desired %v", got)
	}
	big := `{"x":"` + strings.Repeat("y", MaxTwinSectionSize) + `"}`
	for _, p := range []string{big, `[]`, `null`, `1`, `{`} {
		if _, err := h.patchReported("d", []byte(p)); err == nil {
			t.Fatalf("patch %.20q accepted", p)
		}
	}
	tw, _ = h.Twin("d")
	if tw.Properties.Reported["$version"] != int64(1) {
		t.Fatalf("refused patches moved the version: %v", tw.Properties.Reported)
	}
}

func TestC2DOrderAndRequeue(t *testing.T) {
	h := NewHub("h", nil, HubOptions{})
	link := newFakeLink(subC2D)
	link.fail = true
	if err := h.attach(context.Background(), "d", link); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := h.SendC2D("d", C2DMessage{MessageID: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.PendingC2D("d"); n != 3 {
		t.Fatalf("%d queued after failed sends, want 3", n)
	}
	link.mu.Lock()
	link.fail = false
	link.mu.Unlock()
	h.flushC2D("d")
	if n := h.PendingC2D("d"); n != 0 {
		t.Fatalf("%d still queued", n)
	}
	for i, topic := range link.sent {
		tp, err := topics.Parse(topic)
		if err != nil {
			t.Fatal(err)
		}
		if mid, _ := tp.Properties.Get(topics.PropMessageID); mid != "m"+strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, mid)
		}
	}
}

func TestMaxDevices(t *testing.T) {
	h := NewHub("h", nil, HubOptions{MaxDevices: 1})
	if err := h.telemetry("a", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.telemetry("b", "", nil, nil); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("second device: %v", err)
	}
}

func TestInitialTwin(t *testing.T) {
	calls := 0
	h := NewHub("h", nil, HubOptions{InitialTwin: func(_ context.Context, id string) (json.RawMessage, json.RawMessage, error) {
		calls++
		if id == "bad" {
			return json.RawMessage(`[1]`), nil, nil
		}
		return json.RawMessage(`{"interval":5,"$version":7}`), nil, nil
	}})
	if err := h.attach(context.Background(), "d", newFakeLink()); err != nil {
		t.Fatal(err)
	}
	if err := h.attach(context.Background(), "d", newFakeLink()); err != nil {
		t.Fatal(err)
	}
	tw, _ := h.Twin("d")
	if tw.Properties.Desired["interval"] != float64(5) || tw.Properties.Desired["$version"] != int64(1) || calls != 1 {
		t.Fatalf("twin %+v after %d calls", tw.Properties, calls)
	}
	if err := h.attach(context.Background(), "bad", newFakeLink()); err == nil {
		t.Fatal("an initial twin that is no object was taken")
	}
}

func TestTelemetryBounds(t *testing.T) {
	payload := make([]byte, 872) // 1000 bytes an event with the overhead
	if n := eventSize(Event{Payload: payload}); n != 1000 {
		t.Fatalf("eventSize = %d", n)
	}
	kept := func(h *Hub, id string) []uint64 {
		var seqs []uint64
		for _, ev := range h.devices[id].ring {
			seqs = append(seqs, ev.SequenceNumber)
		}
		return seqs
	}
	t.Run("bytes per device", func(t *testing.T) {
		h := NewHub("h", nil, HubOptions{TelemetryRingBytes: 2500})
		for range 5 {
			_ = h.telemetry("a", "", nil, payload)
		}
		if got := kept(h, "a"); len(got) != 2 || got[0] != 4 || got[1] != 5 {
			t.Fatalf("kept %v, want [4 5]", got)
		}
	})
	t.Run("bytes of the hub, oldest first", func(t *testing.T) {
		h := NewHub("h", nil, HubOptions{TelemetryBytes: 3000})
		for _, id := range []string{"a", "b", "a", "b", "a"} {
			_ = h.telemetry(id, "", nil, payload)
		}
		// seq 1 (a) and 2 (b) went; 3 (a), 4 (b), 5 (a) stay.
		if a, b := kept(h, "a"), kept(h, "b"); len(a) != 2 || a[0] != 3 || len(b) != 1 || b[0] != 4 {
			t.Fatalf("kept a %v b %v", a, b)
		}
		if h.keptBytes != 3000 || h.keptLive != 3 {
			t.Fatalf("accounting: %d bytes, %d live", h.keptBytes, h.keptLive)
		}
	})
	t.Run("the index stays bounded", func(t *testing.T) {
		h := NewHub("h", nil, HubOptions{TelemetryRing: 2})
		for range 10000 {
			_ = h.telemetry("a", "", nil, nil)
		}
		if len(h.kept) > 2*h.keptLive+1024 || h.keptLive != 2 {
			t.Fatalf("%d refs for %d kept messages", len(h.kept), h.keptLive)
		}
	})
}
