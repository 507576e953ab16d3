// Package iothubservice is a client of an IoT hub's service REST API, as
// an operator uses it with the hub's shared access policy: device twins
// (GET and PATCH /twins/{id}) and direct methods (POST
// /twins/{id}/methods), api-version 2021-04-12; and, on the local hubs of
// dpsctl serve only, the endpoints that stand in for IoT Hub's AMQP ones:
// sending a cloud-to-device message and the stream of device-to-cloud
// messages.
package iothubservice

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
)

// APIVersion is the api-version of the requests.
const APIVersion = "2021-04-12"

// Limits of answers read.
const (
	maxAnswer = 1 << 20
	// MaxEventLine bounds one line of the event stream (a message of
	// 256 KiB, base64, with its properties).
	MaxEventLine = 1 << 20
)

// Client calls one hub's service API.
type Client struct {
	// HubHost is the hub's host name (the SAS sr).
	HubHost string
	// Address is host:port to connect to [HubHost:443].
	Address string
	// KeyName and Key are the shared access policy (iothubowner).
	KeyName, Key string
	// HTTPClient makes the requests [a client with the system roots].
	HTTPClient *http.Client
}

// FromConnectionString makes a client of the hub a service connection
// string names (HostName, SharedAccessKeyName, SharedAccessKey).
func FromConnectionString(cs string, hc *http.Client) (*Client, error) {
	c, err := sas.ParseConnectionString(cs)
	if err != nil {
		return nil, err
	}
	if c.KeyName == "" || c.Key == "" {
		return nil, errors.New("the hub connection string needs SharedAccessKeyName and SharedAccessKey")
	}
	host := c.HostName
	addr := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		addr = host + ":443"
	}
	return &Client{HubHost: host, Address: addr, KeyName: c.KeyName, Key: c.Key, HTTPClient: hc}, nil
}

// Error is an answer other than 2xx.
type Error struct {
	Status int
	// Code is the iothub-errorcode header (DeviceNotOnline, …).
	Code    string
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("the hub answered %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("the hub answered %d: %s", e.Status, msg)
}

// IsNotFound reports a device the hub does not know (404, not a device
// that is offline).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code != "DeviceNotOnline"
}

// Twin is a device twin as the service API answers it.
type Twin struct {
	DeviceID        string          `json:"deviceId"`
	ETag            string          `json:"etag,omitempty"`
	Version         int64           `json:"version,omitempty"`
	Status          string          `json:"status,omitempty"`
	ConnectionState string          `json:"connectionState,omitempty"`
	Tags            json.RawMessage `json:"tags,omitempty"`
	Properties      struct {
		Desired  map[string]any `json:"desired"`
		Reported map[string]any `json:"reported"`
	} `json:"properties"`
}

// GetTwin reads a device's twin.
func (c *Client) GetTwin(ctx context.Context, deviceID string) (*Twin, error) {
	var t Twin
	return &t, c.do(ctx, http.MethodGet, "/twins/"+url.PathEscape(deviceID), nil, nil, &t)
}

// UpdateDesired patches a device's desired properties (a JSON object;
// null deletes a property) and returns the twin.
func (c *Client) UpdateDesired(ctx context.Context, deviceID string, desired json.RawMessage) (*Twin, error) {
	body, err := json.Marshal(map[string]any{"properties": map[string]json.RawMessage{"desired": desired}})
	if err != nil {
		return nil, err
	}
	var t Twin
	return &t, c.do(ctx, http.MethodPatch, "/twins/"+url.PathEscape(deviceID), nil, body, &t)
}

// MethodResult is a device's answer to a direct method.
type MethodResult struct {
	Status  int             `json:"status"`
	Payload json.RawMessage `json:"payload"`
}

// InvokeMethod calls a direct method; responseTimeout and connectTimeout
// are whole seconds (0: the hub's defaults).
func (c *Client) InvokeMethod(ctx context.Context, deviceID, name string, payload json.RawMessage, responseTimeout, connectTimeout time.Duration) (*MethodResult, error) {
	req := map[string]any{"methodName": name}
	if len(payload) > 0 {
		req["payload"] = payload
	}
	if responseTimeout > 0 {
		req["responseTimeoutInSeconds"] = int(responseTimeout / time.Second)
	}
	if connectTimeout > 0 {
		req["connectTimeoutInSeconds"] = int(connectTimeout / time.Second)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var r MethodResult
	return &r, c.do(ctx, http.MethodPost, "/twins/"+url.PathEscape(deviceID)+"/methods", nil, body, &r)
}

// C2DMessage is a cloud-to-device message to send.
type C2DMessage struct {
	Payload       string            `json:"payload"`
	MessageID     string            `json:"messageId,omitempty"`
	CorrelationID string            `json:"correlationId,omitempty"`
	ContentType   string            `json:"contentType,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
}

// SendResult is what the local hub answers a send with.
type SendResult struct {
	MessageID string `json:"messageId"`
	// Pending is how many messages wait for the device, this one included
	// if it is not connected.
	Pending int `json:"pending"`
}

// SendC2D queues a cloud-to-device message (local hubs of dpsctl serve).
func (c *Client) SendC2D(ctx context.Context, deviceID string, m C2DMessage) (*SendResult, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var r SendResult
	return &r, c.do(ctx, http.MethodPost, "/local/devices/"+url.PathEscape(deviceID)+"/messages/cloudToDevice", nil, body, &r)
}

// Event is a device-to-cloud message of the stream.
type Event struct {
	SequenceNumber   uint64            `json:"sequenceNumber"`
	DeviceID         string            `json:"deviceId"`
	ModuleID         string            `json:"moduleId,omitempty"`
	EnqueuedTime     time.Time         `json:"enqueuedTime"`
	SystemProperties map[string]string `json:"systemProperties,omitempty"`
	Properties       map[string]string `json:"properties,omitempty"`
	Payload          []byte            `json:"payload"`
}

// EventOptions select the events of a stream.
type EventOptions struct {
	DeviceID string
	// Since replays what the hub kept from then on (zero: nothing).
	Since time.Time
	// Timeout ends the stream (whole seconds; zero: the hub's limit).
	Timeout time.Duration
}

// Events streams device-to-cloud messages (local hubs of dpsctl serve) to
// fn until the stream ends, ctx is done or fn returns an error.
func (c *Client) Events(ctx context.Context, o EventOptions, fn func(Event) error) error {
	q := url.Values{}
	if o.DeviceID != "" {
		q.Set("deviceId", o.DeviceID)
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	if o.Timeout > 0 {
		q.Set("timeoutSeconds", strconv.Itoa(max(1, int(o.Timeout/time.Second))))
	}
	res, err := c.send(ctx, http.MethodGet, "/local/events", q, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), MaxEventLine)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}

func (c *Client) token() (string, error) {
	return sas.NewToken(c.Key, c.HubHost, c.KeyName, time.Now().Add(time.Hour))
}

func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("api-version", APIVersion)
	addr := c.Address
	if addr == "" {
		addr = c.HubHost + ":443"
	}
	u := "https://" + addr + path + "?" + q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
		e := &Error{Status: res.StatusCode, Code: res.Header.Get("iothub-errorcode")}
		var m struct{ Message string }
		if json.Unmarshal(b, &m) == nil {
			e.Message = m.Message
			if _, rest, ok := strings.Cut(m.Message, ";"); ok && strings.HasPrefix(m.Message, "ErrorCode:") {
				e.Message = rest
			}
		}
		return nil, e
	}
	return res, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	res, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the hub's answer: %w", err)
	}
	return nil
}
