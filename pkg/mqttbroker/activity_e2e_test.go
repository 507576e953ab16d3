package mqttbroker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

// registry is a device registry kept by the hub's ActivityRecorder calls.
type registry struct {
	mu      sync.Mutex
	devices map[string]*registryDevice
	calls   int
}

type registryDevice struct {
	connected  bool
	stateTime  time.Time
	last       time.Time
	messages   int64
	stateCalls int // reports that changed the state
}

func newRegistry() *registry { return &registry{devices: map[string]*registryDevice{}} }

func (r *registry) RecordActivity(_ context.Context, _ string, news []mqttbroker.DeviceActivity) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	for _, a := range news {
		d := r.devices[a.DeviceID]
		if d == nil {
			d = &registryDevice{}
			r.devices[a.DeviceID] = d
		}
		if a.StateChanged {
			d.connected, d.stateTime = a.Connected, a.StateTime
			d.stateCalls++
		}
		if !a.LastActivity.IsZero() {
			d.last = a.LastActivity
		}
		d.messages += a.Messages
	}
	return nil
}

func (r *registry) device(id string) registryDevice {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.devices[id]; d != nil {
		return *d
	}
	return registryDevice{}
}

func (r *registry) messages() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, d := range r.devices {
		n += d.messages
	}
	return n
}

// TestActivityOverMQTT: the registry has a device connected once it is
// answered, its messages counted (here when flushed: the interval is far
// off), and disconnected once the hub has seen it go.
func TestActivityOverMQTT(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			reg := newRegistry()
			e := startEnv(t, mqttbroker.HubOptions{Activity: reg, ActivityInterval: time.Hour})
			start := time.Now()
			c := hubDevice(t, e, "d1", tr.ws, mqttdevice.HubOptions{})
			// Connect waits for its SUBACKs, which the hub sends after
			// recording the connection.
			if d := reg.device("d1"); !d.connected || d.stateTime.Before(start) || d.last.IsZero() || d.messages != 0 {
				t.Fatalf("registry after connecting: %+v", d)
			}
			const n = 25
			for range n {
				if err := c.SendTelemetry(ctxT(t), []byte(`{"t":1}`), nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := reg.device("d1").messages; got != 0 {
				t.Fatalf("%d messages reported before the interval or a flush", got)
			}
			if err := e.hub.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			d := reg.device("d1")
			if d.messages != n || !d.connected || d.stateCalls != 1 {
				t.Fatalf("registry after %d messages: %+v", n, d)
			}
			c.Close()
			for i := 0; e.hub.Online("d1"); i++ {
				if i == 3000 {
					t.Fatal("the hub still has the device online after it disconnected")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := e.hub.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			d = reg.device("d1")
			if d.connected || d.stateCalls != 2 || d.messages != n || d.stateTime.Before(d.last) {
				t.Fatalf("registry after disconnecting: %+v", d)
			}
		})
	}
}
