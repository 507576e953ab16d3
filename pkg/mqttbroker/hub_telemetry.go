package mqttbroker

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

// Event is a device-to-cloud message as the hub enqueued it.
type Event struct {
	SequenceNumber uint64            `json:"sequenceNumber"`
	DeviceID       string            `json:"deviceId"`
	ModuleID       string            `json:"moduleId,omitempty"`
	EnqueuedTime   time.Time         `json:"enqueuedTime"`
	System         map[string]string `json:"systemProperties,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
	Payload        []byte            `json:"payload"`
}

func (h *Hub) telemetry(deviceID, moduleID string, bag topics.Bag, payload []byte) error {
	h.mu.Lock()
	d, err := h.dev(deviceID)
	if err != nil {
		h.mu.Unlock()
		return err
	}
	h.seq++
	ev := Event{
		SequenceNumber: h.seq,
		DeviceID:       deviceID,
		ModuleID:       moduleID,
		EnqueuedTime:   h.opts.Now().UTC(),
		System:         bag.System().Map(),
		Properties:     bag.Application().Map(),
		Payload:        payload,
	}
	h.keep(d, ev)
	h.noteMessage(d, ev.EnqueuedTime)
	var to []*Stream
	for s := range h.streams {
		if s.opts.DeviceID == "" || s.opts.DeviceID == deviceID {
			to = append(to, s)
		}
	}
	h.mu.Unlock()
	for _, s := range to {
		select {
		case s.ch <- ev:
		case <-s.done:
		}
	}
	return nil
}

// eventSize is what an event counts against the telemetry bounds.
func eventSize(ev Event) int {
	n := len(ev.Payload) + 128
	for k, v := range ev.System {
		n += len(k) + len(v)
	}
	for k, v := range ev.Properties {
		n += len(k) + len(v)
	}
	return n
}

// keep adds ev to d's ring and drops the oldest messages past the bounds,
// of d first, then of the hub; h.mu is held.
func (h *Hub) keep(d *device, ev Event) {
	size := eventSize(ev)
	d.ring = append(d.ring, ev)
	d.ringBytes += size
	h.kept = append(h.kept, ringRef{d: d, seq: ev.SequenceNumber})
	h.keptBytes += size
	h.keptLive++
	for len(d.ring) > h.opts.TelemetryRing || d.ringBytes > h.opts.TelemetryRingBytes {
		h.dropOldest(d)
	}
	for h.keptBytes > h.opts.TelemetryBytes && len(h.kept) > 0 {
		r := h.kept[0]
		h.kept[0] = ringRef{}
		h.kept = h.kept[1:]
		if len(r.d.ring) > 0 && r.d.ring[0].SequenceNumber == r.seq {
			h.dropOldest(r.d)
		}
	}
	if len(h.kept) > 2*h.keptLive+1024 {
		h.compactKept()
	}
}

// dropOldest drops the oldest kept message of d.
func (h *Hub) dropOldest(d *device) {
	size := eventSize(d.ring[0])
	d.ring[0] = Event{}
	d.ring = d.ring[1:]
	d.ringBytes -= size
	h.keptBytes -= size
	h.keptLive--
}

// compactKept rebuilds h.kept from the rings, without stale refs.
func (h *Hub) compactKept() {
	kept := make([]ringRef, 0, h.keptLive)
	for _, d := range h.devices {
		for _, ev := range d.ring {
			kept = append(kept, ringRef{d: d, seq: ev.SequenceNumber})
		}
	}
	slices.SortFunc(kept, func(a, b ringRef) int { return cmp.Compare(a.seq, b.seq) })
	h.kept = kept
}

// StreamOptions select the telemetry a Stream delivers.
type StreamOptions struct {
	// DeviceID limits the stream to one device; empty for all.
	DeviceID string
	// Since replays the kept messages enqueued at or after it first; the
	// zero time replays nothing.
	Since time.Time
}

// Stream delivers telemetry as the hub enqueues it: first the replay,
// then live messages, each device's in the order the device sent them. A
// stream that is not read holds up the devices it receives from (after
// HubOptions.StreamBuffer events), never drops.
type Stream struct {
	h      *Hub
	opts   StreamOptions
	replay []Event
	ch     chan Event
	done   chan struct{}
	once   sync.Once
}

// Subscribe opens a telemetry stream; Close it when done.
func (h *Hub) Subscribe(opts StreamOptions) (*Stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) >= h.opts.MaxStreams {
		return nil, ErrTooManyStreams
	}
	s := &Stream{h: h, opts: opts, ch: make(chan Event, h.opts.StreamBuffer), done: make(chan struct{})}
	if !opts.Since.IsZero() {
		for id, d := range h.devices {
			if opts.DeviceID != "" && id != opts.DeviceID {
				continue
			}
			for _, ev := range d.ring {
				if !ev.EnqueuedTime.Before(opts.Since) {
					s.replay = append(s.replay, ev)
				}
			}
		}
		slices.SortFunc(s.replay, func(a, b Event) int { return cmp.Compare(a.SequenceNumber, b.SequenceNumber) })
	}
	h.streams[s] = struct{}{}
	return s, nil
}

// Next returns the next event, waiting for one until ctx is done.
func (s *Stream) Next(ctx context.Context) (Event, error) {
	if len(s.replay) > 0 {
		ev := s.replay[0]
		s.replay = s.replay[1:]
		return ev, nil
	}
	select {
	case ev := <-s.ch:
		return ev, nil
	case <-s.done:
		return Event{}, ErrStreamClosed
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// Buffered is how many events Next returns without waiting: a reader
// that writes them out can hold its flush until it reaches none.
func (s *Stream) Buffered() int { return len(s.replay) + len(s.ch) }

// Close ends the stream and releases the devices waiting on it.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.h.mu.Lock()
		delete(s.h.streams, s)
		s.h.mu.Unlock()
		close(s.done)
	})
}
