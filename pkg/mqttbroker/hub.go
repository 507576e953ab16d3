package mqttbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
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
