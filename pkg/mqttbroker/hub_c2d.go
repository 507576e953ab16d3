package mqttbroker

import (
	"fmt"
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

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
