package mqttbroker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

// HubOptions bound a Hub. Zero fields take the defaults in brackets.
type HubOptions struct {
	// TelemetryRing is how many of its last telemetry messages the hub
	// keeps per device for a stream's replay [1000].
	TelemetryRing int
	// TelemetryRingBytes bounds the bytes kept per device [4 MiB].
	TelemetryRingBytes int
	// TelemetryBytes bounds the bytes kept for all devices; past it the
	// oldest messages of the hub go first [256 MiB].
	TelemetryBytes int
	// C2DQueue bounds the cloud-to-device messages waiting per device [50,
	// as IoT Hub].
	C2DQueue int
	// MaxPendingMethods bounds the direct-method calls waiting for one
	// device's answer [16].
	MaxPendingMethods int
	// MaxStreams bounds the open telemetry streams [16].
	MaxStreams int
	// StreamBuffer is how many events a stream buffers before the devices
	// whose telemetry it receives wait for its reader [1024].
	StreamBuffer int
	// MaxDevices bounds the devices the hub keeps state for [100000].
	MaxDevices int
	// Now is the clock of enqueued times [time.Now].
	Now func() time.Time
	// InitialTwin, if set, gives the desired and reported properties
	// (JSON objects, nil for none) a device's twin starts from when the
	// device first connects: the initial twin of its enrollment, say.
	InitialTwin func(ctx context.Context, deviceID string) (desired, reported json.RawMessage, err error)
	// Activity, if set, records the devices' connections, disconnections
	// and device-to-cloud messages in the hub's registry: a connection or
	// disconnection at once, the messages coalesced (see ActivityRecorder).
	// Close the hub to report what is left.
	Activity ActivityRecorder
	// ActivityInterval is how often, at most, a device's messages are
	// reported to Activity [DefaultActivityInterval].
	ActivityInterval time.Duration
}

func (o *HubOptions) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.TelemetryRing, 1000)
	def(&o.TelemetryRingBytes, 4<<20)
	def(&o.TelemetryBytes, 256<<20)
	def(&o.C2DQueue, 50)
	def(&o.MaxPendingMethods, 16)
	def(&o.MaxStreams, 16)
	def(&o.StreamBuffer, 1024)
	def(&o.MaxDevices, 100000)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ActivityInterval <= 0 {
		o.ActivityInterval = DefaultActivityInterval
	}
}

// Size limits of IoT Hub the hub applies.
const (
	MaxTwinSectionSize = 32 * 1024  // desired or reported properties, JSON
	MaxMethodPayload   = 128 * 1024 // direct-method request or answer
	MaxMethodTimeout   = 300 * time.Second
	DefaultMethodWait  = 30 * time.Second
)

// Hub is the in-memory state of one local IoT hub (one host name).
type Hub struct {
	host string
	auth DeviceAuthenticator
	opts HubOptions

	mu      sync.Mutex
	devices map[string]*device
	seq     uint64
	rid     uint64
	mid     uint64
	streams map[*Stream]struct{}

	// The telemetry kept, all devices', in enqueue order: refs that no
	// longer name the front of their device's ring are stale and skipped.
	kept      []ringRef
	keptBytes int
	keptLive  int

	// The news for HubOptions.Activity (activity.go): the devices that
	// have some, the reporting goroutine (started on first news, stopped
	// by Close), and the lock that keeps reports in order.
	actQueue   []*device
	actStarted bool
	actClosed  bool
	actStop    chan struct{}
	actDone    chan struct{}
	actMu      sync.Mutex
}

type ringRef struct {
	d   *device
	seq uint64
}

// subKind is a subscription a device may hold.
type subKind int

const (
	subDPS subKind = iota + 1
	subTwinRes
	subDesired
	subMethods
	subC2D
)

// deviceLink is a device's live connection, for the hub to publish to it.
type deviceLink interface {
	send(k subKind, topic string, payload []byte) error
	subscribed(k subKind) bool
}

type device struct {
	id                      string
	desired, reported       map[string]any
	desiredVer, reportedVer int64

	ring      []Event // oldest first
	ringBytes int

	c2d      []C2DMessage
	flushing bool

	link    deviceLink
	pending map[string]chan MethodResult

	act activity // news for HubOptions.Activity
	// connNoted is the state last noted for HubOptions.Activity: true
	// for connected.
	connNoted bool
}

// NewHub makes the state of the hub with host name host, whose devices
// auth authenticates.
func NewHub(host string, auth DeviceAuthenticator, opts HubOptions) *Hub {
	opts.defaults()
	return &Hub{host: host, auth: auth, opts: opts, devices: map[string]*device{}, streams: map[*Stream]struct{}{},
		actStop: make(chan struct{}), actDone: make(chan struct{})}
}

// Host is the hub's host name.
func (h *Hub) Host() string { return h.host }

// dev returns the state of id, made if needed; h.mu is held.
func (h *Hub) dev(id string) (*device, error) {
	d := h.devices[id]
	if d == nil {
		if len(h.devices) >= h.opts.MaxDevices {
			return nil, ErrTooManyDevices
		}
		d = &device{id: id, desired: map[string]any{}, reported: map[string]any{}, desiredVer: 1, reportedVer: 1,
			pending: map[string]chan MethodResult{}}
		h.devices[id] = d
	}
	return d, nil
}

func (h *Hub) authenticate(ctx context.Context, deviceID string, cred Credential) error {
	if h.auth == nil {
		return ErrUnauthorized
	}
	return h.auth.AuthenticateDevice(ctx, h.host, deviceID, cred)
}

func (h *Hub) attach(ctx context.Context, deviceID string, l deviceLink) error {
	h.mu.Lock()
	_, known := h.devices[deviceID]
	h.mu.Unlock()
	var desired, reported map[string]any
	if !known && h.opts.InitialTwin != nil {
		dj, rj, err := h.opts.InitialTwin(ctx, deviceID)
		if err != nil {
			return fmt.Errorf("initial twin of %s: %w", deviceID, err)
		}
		desired, reported = map[string]any{}, map[string]any{}
		if _, err := applyPatch(&desired, orEmpty(dj)); err != nil {
			return fmt.Errorf("initial desired properties of %s: %w", deviceID, err)
		}
		if _, err := applyPatch(&reported, orEmpty(rj)); err != nil {
			return fmt.Errorf("initial reported properties of %s: %w", deviceID, err)
		}
	}
	h.mu.Lock()
	_, known = h.devices[deviceID]
	d, err := h.dev(deviceID)
	if err != nil {
		h.mu.Unlock()
		return err
	}
	if !known && desired != nil {
		d.desired, d.reported = desired, reported
	}
	// The connection is recorded before the device is online, and so
	// before its first packet is read: a device that can be reached, or
	// that has had an answer, is connected in the registry too. A failure
	// is reported again with the next report.
	h.noteState(d, true, h.opts.Now().UTC())
	h.mu.Unlock()
	_ = h.report(ctx, true)
	h.mu.Lock()
	d.link = l
	// The device's previous connection may have been seen to end
	// meanwhile, and recorded so: this one is connected again.
	again := h.opts.Activity != nil && !h.actClosed && !d.connNoted
	if again {
		h.noteState(d, true, h.opts.Now().UTC())
	}
	h.mu.Unlock()
	if again {
		_ = h.report(ctx, true)
	}
	return nil
}

func orEmpty(b json.RawMessage) []byte {
	if len(b) == 0 || string(b) == "null" {
		return []byte("{}")
	}
	return b
}

func (h *Hub) detach(deviceID string, l deviceLink) {
	h.mu.Lock()
	d := h.devices[deviceID]
	if d == nil || d.link != l {
		h.mu.Unlock()
		return // never attached, or taken over by a newer connection
	}
	d.link = nil
	h.noteState(d, false, h.opts.Now().UTC())
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), activityTimeout)
	defer cancel()
	_ = h.report(ctx, true)
}

// Online reports whether the device has a live connection.
func (h *Hub) Online(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.devices[deviceID]
	return d != nil && d.link != nil
}

// AnswersMethods reports whether the device is connected and subscribed
// to direct methods, as InvokeMethod needs: a device is connected some
// packets before it subscribes.
func (h *Hub) AnswersMethods(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.devices[deviceID]
	return d != nil && d.link != nil && d.link.subscribed(subMethods)
}

// ---- telemetry ----

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

// Close ends the stream and releases the devices waiting on it.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.h.mu.Lock()
		delete(s.h.streams, s)
		s.h.mu.Unlock()
		close(s.done)
	})
}

// ---- twins ----

// Twin is a device twin's properties with their versions.
type Twin struct {
	DeviceID   string         `json:"deviceId"`
	Properties TwinProperties `json:"properties"`
}

// TwinProperties are the desired and reported sections; each carries
// "$version" as IoT Hub sends it.
type TwinProperties struct {
	Desired  map[string]any `json:"desired"`
	Reported map[string]any `json:"reported"`
}

func withVersion(m map[string]any, v int64) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	out["$version"] = v
	return out
}

// Twin returns the device's twin.
func (h *Hub) Twin(deviceID string) (Twin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.dev(deviceID)
	if err != nil {
		return Twin{}, err
	}
	return Twin{DeviceID: deviceID, Properties: TwinProperties{
		Desired: withVersion(d.desired, d.desiredVer), Reported: withVersion(d.reported, d.reportedVer),
	}}, nil
}

// twinDoc is what a device's twin GET answers.
func (h *Hub) twinDoc(deviceID string) ([]byte, error) {
	t, err := h.Twin(deviceID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(t.Properties)
}

// mergePatch applies a JSON merge patch (null deletes) to m.
func mergePatch(m map[string]any, patch map[string]any) {
	for k, v := range patch {
		if len(k) > 0 && k[0] == '$' {
			continue // $version, $metadata: the hub's own
		}
		switch pv := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			sub, ok := m[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
			}
			mergePatch(sub, pv)
			m[k] = sub
		default:
			m[k] = v
		}
	}
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// applyPatch merges patch into *section with the size limit; it returns
// the patch as parsed.
func applyPatch(section *map[string]any, patch []byte) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		return nil, ErrBadPatch
	}
	next := deepCopy(*section)
	mergePatch(next, p)
	b, err := json.Marshal(next)
	if err != nil {
		return nil, ErrBadPatch
	}
	if len(b) > MaxTwinSectionSize {
		return nil, fmt.Errorf("%w: twin section of %d bytes, more than %d", ErrTooLarge, len(b), MaxTwinSectionSize)
	}
	*section = next
	return p, nil
}

// patchReported applies a device's reported-properties patch and returns
// the new reported version.
func (h *Hub) patchReported(deviceID string, patch []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.dev(deviceID)
	if err != nil {
		return 0, err
	}
	if _, err := applyPatch(&d.reported, patch); err != nil {
		return 0, err
	}
	d.reportedVer++
	return d.reportedVer, nil
}

// UpdateDesired applies a desired-properties patch (a JSON merge patch;
// null deletes) and notifies the device if it is connected and subscribed.
// It returns the new desired version.
func (h *Hub) UpdateDesired(deviceID string, patch []byte) (int64, error) {
	h.mu.Lock()
	d, err := h.dev(deviceID)
	if err != nil {
		h.mu.Unlock()
		return 0, err
	}
	p, err := applyPatch(&d.desired, patch)
	if err != nil {
		h.mu.Unlock()
		return 0, err
	}
	d.desiredVer++
	v, link := d.desiredVer, d.link
	h.mu.Unlock()
	if link != nil && link.subscribed(subDesired) {
		body, _ := json.Marshal(withVersion(p, v))
		t := topics.Topic{Kind: topics.TwinDesired, Version: v, HasVersion: true}
		_ = link.send(subDesired, t.String(), body) // the device reads the twin again when it reconnects
	}
	return v, nil
}

// ---- direct methods ----

// MethodResult is a device's answer to a direct method.
type MethodResult struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
}

// InvokeMethod calls method name on the device with a JSON payload and
// waits up to timeout (DefaultMethodWait if 0, at most MaxMethodTimeout)
// for its answer. A device that is not connected or has not subscribed to
// methods is ErrDeviceNotOnline (IoT Hub's 404103); no answer in time is
// ErrMethodTimeout (504101).
func (h *Hub) InvokeMethod(ctx context.Context, deviceID, name string, payload []byte, timeout time.Duration) (MethodResult, error) {
	if len(payload) == 0 {
		payload = []byte("null")
	}
	if len(payload) > MaxMethodPayload || !json.Valid(payload) {
		return MethodResult{}, fmt.Errorf("%w: the payload must be JSON of at most %d bytes", ErrBadMethodRequest, MaxMethodPayload)
	}
	switch {
	case timeout <= 0:
		timeout = DefaultMethodWait
	case timeout > MaxMethodTimeout:
		timeout = MaxMethodTimeout
	}
	h.mu.Lock()
	d := h.devices[deviceID]
	if d == nil || d.link == nil || !d.link.subscribed(subMethods) {
		h.mu.Unlock()
		return MethodResult{}, ErrDeviceNotOnline
	}
	if len(d.pending) >= h.opts.MaxPendingMethods {
		h.mu.Unlock()
		return MethodResult{}, ErrTooManyPending
	}
	h.rid++
	rid := strconv.FormatUint(h.rid, 16)
	t := topics.Topic{Kind: topics.MethodRequest, Method: name, RID: rid}
	if _, err := topics.Parse(t.String()); err != nil {
		h.mu.Unlock()
		return MethodResult{}, fmt.Errorf("%w: method name %q", ErrBadMethodRequest, name)
	}
	ch := make(chan MethodResult, 1)
	d.pending[rid] = ch
	link := d.link
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(d.pending, rid)
		h.mu.Unlock()
	}()
	if err := link.send(subMethods, t.String(), payload); err != nil {
		return MethodResult{}, ErrDeviceNotOnline
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-timer.C:
		return MethodResult{}, ErrMethodTimeout
	case <-ctx.Done():
		return MethodResult{}, ctx.Err()
	}
}

// methodResponse takes a device's answer; an unknown rid is ignored, as
// IoT Hub does.
func (h *Hub) methodResponse(deviceID, rid string, status int, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.devices[deviceID]
	if d == nil {
		return
	}
	ch, ok := d.pending[rid]
	if !ok {
		return
	}
	delete(d.pending, rid)
	if len(body) == 0 {
		body = []byte("null")
	}
	if !json.Valid(body) {
		body, _ = json.Marshal(string(body))
	}
	ch <- MethodResult{Status: status, Payload: body}
}

// ---- cloud-to-device ----

// C2DMessage is a cloud-to-device message.
type C2DMessage struct {
	MessageID       string     `json:"messageId,omitempty"`
	CorrelationID   string     `json:"correlationId,omitempty"`
	ContentType     string     `json:"contentType,omitempty"`
	ContentEncoding string     `json:"contentEncoding,omitempty"`
	Properties      topics.Bag `json:"properties,omitempty"`
	Payload         []byte     `json:"payload"`
}

func (m C2DMessage) topic(deviceID string) string {
	bag := topics.Bag{{Key: topics.PropMessageID, Value: m.MessageID}, {Key: topics.PropTo, Value: "/devices/" + deviceID + "/messages/deviceBound"}}
	if m.CorrelationID != "" {
		bag = append(bag, topics.Property{Key: topics.PropCorrelationID, Value: m.CorrelationID})
	}
	if m.ContentType != "" {
		bag = append(bag, topics.Property{Key: topics.PropContentType, Value: m.ContentType})
	}
	if m.ContentEncoding != "" {
		bag = append(bag, topics.Property{Key: topics.PropContentEncoding, Value: m.ContentEncoding})
	}
	bag = append(bag, m.Properties.Application()...)
	return topics.Topic{Kind: topics.CloudToDevice, DeviceID: deviceID, Properties: bag}.String()
}

// SendC2D queues a cloud-to-device message and delivers it at once when
// the device is connected and subscribed. It returns the message ID (made
// when empty). A full queue is ErrQueueFull.
func (h *Hub) SendC2D(deviceID string, m C2DMessage) (string, error) {
	if len(m.Payload) > MaxMessageSize {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(m.Payload), MaxMessageSize)
	}
	h.mu.Lock()
	d, err := h.dev(deviceID)
	if err != nil {
		h.mu.Unlock()
		return "", err
	}
	if len(d.c2d) >= h.opts.C2DQueue {
		h.mu.Unlock()
		return "", ErrQueueFull
	}
	if m.MessageID == "" {
		h.mid++
		m.MessageID = "c2d-" + strconv.FormatUint(h.mid, 10)
	}
	if len(m.topic(deviceID)) > topics.MaxTopicLength {
		h.mu.Unlock()
		return "", fmt.Errorf("%w: properties longer than %d bytes", ErrTooLarge, topics.MaxTopicLength)
	}
	d.c2d = append(d.c2d, m)
	h.mu.Unlock()
	h.flushC2D(deviceID)
	return m.MessageID, nil
}

// PendingC2D is the number of queued cloud-to-device messages.
func (h *Hub) PendingC2D(deviceID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.devices[deviceID]; d != nil {
		return len(d.c2d)
	}
	return 0
}

// flushC2D sends the queue in order while the device is subscribed; one
// flusher per device at a time.
func (h *Hub) flushC2D(deviceID string) {
	h.mu.Lock()
	d := h.devices[deviceID]
	if d == nil || d.flushing {
		h.mu.Unlock()
		return
	}
	d.flushing = true
	for len(d.c2d) > 0 && d.link != nil && d.link.subscribed(subC2D) {
		m, link := d.c2d[0], d.link
		d.c2d = d.c2d[1:]
		h.mu.Unlock()
		err := link.send(subC2D, m.topic(deviceID), m.Payload)
		h.mu.Lock()
		if err != nil {
			d.c2d = append([]C2DMessage{m}, d.c2d...) // first again, for the next connection
			break
		}
	}
	d.flushing = false
	h.mu.Unlock()
}
