package mqttbroker

import (
	"context"
	"time"
)

// A hub's registry records each device's connection state, last activity
// and device-to-cloud message count, as IoT Hub's does. The hub tells an
// ActivityRecorder of them without a write per message: the counts are
// kept in memory and reported at most once per device per
// HubOptions.ActivityInterval, by one goroutine of the hub; a connection
// or a disconnection is reported at once, with the counts of the device
// so far; Close reports what is left.

// DefaultActivityInterval is HubOptions.ActivityInterval by default.
const DefaultActivityInterval = time.Second

// activityTimeout bounds a report made without a caller's context.
const activityTimeout = 30 * time.Second

// ActivityRecorder records what a hub's devices do in its registry. Its
// calls are made one at a time, in the order the news happened, each with
// at most one DeviceActivity per device.
type ActivityRecorder interface {
	// RecordActivity records the news of the devices of hub hubHost since
	// they were last reported. A device the registry does not have
	// should be skipped. On an error the news is reported again with the
	// next report.
	RecordActivity(ctx context.Context, hubHost string, news []DeviceActivity) error
}

// DeviceActivity is what a device did since its last report.
type DeviceActivity struct {
	DeviceID string
	// StateChanged says that the device connected (Connected) or
	// disconnected (!Connected) at StateTime, its latest change.
	StateChanged bool
	Connected    bool
	StateTime    time.Time
	// LastActivity is the time of its latest connection or message; zero
	// when it did neither.
	LastActivity time.Time
	// Messages is the number of device-to-cloud messages it sent.
	Messages int64
}

// activity is what a device did that its recorder has not been told.
type activity struct {
	queued       bool // in Hub.actQueue
	stateChanged bool
	connected    bool
	stateTime    time.Time
	last         time.Time
	messages     int64
}

// queueActivity puts d in the queue of the next report, starting the
// reporting goroutine on first use; h.mu is held.
func (h *Hub) queueActivity(d *device) {
	if d.act.queued {
		return
	}
	d.act.queued = true
	h.actQueue = append(h.actQueue, d)
	if !h.actStarted && !h.actClosed {
		h.actStarted = true
		go h.reportEvery(h.opts.ActivityInterval)
	}
}

// noteState records that d connected or disconnected at t; h.mu is held.
func (h *Hub) noteState(d *device, connected bool, t time.Time) {
	if h.opts.Activity == nil || h.actClosed {
		return
	}
	d.act.stateChanged, d.act.connected, d.act.stateTime = true, connected, t
	d.connNoted = connected
	if connected {
		d.act.last = t
	}
	h.queueActivity(d)
}

// noteMessage records a device-to-cloud message of d at t; h.mu is held.
func (h *Hub) noteMessage(d *device, t time.Time) {
	if h.opts.Activity == nil || h.actClosed {
		return
	}
	d.act.messages++
	d.act.last = t
	h.queueActivity(d)
}

// reportEvery reports the queued news every interval until Close.
func (h *Hub) reportEvery(interval time.Duration) {
	defer close(h.actDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.actStop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), activityTimeout)
			_ = h.report(ctx, false) // the recorder logs; the news waits for the next report
			cancel()
		}
	}
}

// report tells the recorder the news of the queued devices: all of them,
// or with stateOnly those that connected or disconnected. Reports are
// made one at a time, each with the news up to its start, so that a later
// report never carries an older state. News the recorder failed to take
// is queued again.
func (h *Hub) report(ctx context.Context, stateOnly bool) error {
	if h.opts.Activity == nil {
		return nil
	}
	h.actMu.Lock()
	defer h.actMu.Unlock()
	h.mu.Lock()
	var news []DeviceActivity
	kept := h.actQueue[:0]
	for _, d := range h.actQueue {
		if stateOnly && !d.act.stateChanged {
			kept = append(kept, d)
			continue
		}
		a := d.act
		news = append(news, DeviceActivity{DeviceID: d.id, StateChanged: a.stateChanged, Connected: a.connected,
			StateTime: a.stateTime, LastActivity: a.last, Messages: a.messages})
		d.act = activity{}
	}
	clear(h.actQueue[len(kept):])
	h.actQueue = kept
	h.mu.Unlock()
	if len(news) == 0 {
		return nil
	}
	err := h.opts.Activity.RecordActivity(ctx, h.host, news)
	if err != nil {
		h.requeue(news)
	}
	return err
}

// requeue merges news that was not recorded back into the devices' news,
// under what they did since.
func (h *Hub) requeue(news []DeviceActivity) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range news {
		d := h.devices[a.DeviceID]
		if d == nil {
			continue
		}
		d.act.messages += a.Messages
		if a.LastActivity.After(d.act.last) {
			d.act.last = a.LastActivity
		}
		if a.StateChanged && !d.act.stateChanged {
			d.act.stateChanged, d.act.connected, d.act.stateTime = true, a.Connected, a.StateTime
		}
		h.queueActivity(d)
	}
}

// Flush reports the news of every device now, without waiting for the
// next interval. It returns the recorder's error.
func (h *Hub) Flush(ctx context.Context) error { return h.report(ctx, false) }

// Close ends the hub's reports: the devices still connected are reported
// disconnected (the broker serving the hub should be closed first), and
// all the news is reported. Later news is not reported. It returns the
// recorder's error.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.actClosed {
		h.mu.Unlock()
		return nil
	}
	now := h.opts.Now()
	for _, d := range h.devices {
		if d.link != nil {
			h.noteState(d, false, now)
		}
	}
	h.actClosed = true
	started := h.actStarted
	h.mu.Unlock()
	if started {
		close(h.actStop)
		<-h.actDone
	}
	return h.report(ctx, false)
}
