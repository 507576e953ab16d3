package mqttbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

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
