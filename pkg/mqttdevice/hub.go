package mqttdevice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// HubAPIVersion is the IoT Hub api-version of the CONNECT user name.
const HubAPIVersion = "2021-04-12"

// Message is a cloud-to-device message as the device receives it.
type Message struct {
	Topic      string
	Properties topics.Bag // system ($.mid, $.to, …) and application
	Payload    []byte
}

// MethodHandler answers a direct method: a status and a JSON body.
type MethodHandler func(name string, payload []byte) (status int, body []byte)

// HubOptions describe a device's connection to its IoT hub.
type HubOptions struct {
	Endpoint
	// HubHost is the hub's host name of the user name and the SAS
	// resource [the host of Endpoint.Address].
	HubHost  string
	DeviceID string
	// SymmetricKey (base64, the device's key) signs the SAS password; or
	// SASToken is used as given. Neither for X.509.
	SymmetricKey string
	SASToken     string
	// Handlers subscribe to what they handle; nil ones do not subscribe.
	OnDesired func(version int64, patch []byte)
	OnMethod  MethodHandler
	OnC2D     func(Message)
}

// Client is a device connected to its IoT hub.
type Client struct {
	cn   *conn
	o    HubOptions
	host string
}

// Twin is the device's twin as GET answers it.
type Twin struct {
	Desired  map[string]any `json:"desired"`
	Reported map[string]any `json:"reported"`
}

// Version is the "$version" of a twin section.
func Version(section map[string]any) int64 {
	if v, ok := section["$version"].(float64); ok {
		return int64(v)
	}
	return 0
}

// TwinError is a twin request the hub answered with an error status.
type TwinError struct {
	Status int
	Body   []byte
}

func (e *TwinError) Error() string {
	return fmt.Sprintf("twin request answered %d: %s", e.Status, e.Body)
}

// Connect connects the device and subscribes to twin answers and to what
// its handlers take.
func Connect(ctx context.Context, o HubOptions) (*Client, error) {
	if o.DeviceID == "" {
		return nil, errors.New("IoT hub connection needs a device ID")
	}
	host := o.HubHost
	if host == "" {
		host = hostOf(o.Address)
	}
	password := o.SASToken
	if password == "" && o.SymmetricKey != "" {
		tok, err := sas.NewToken(o.SymmetricKey, url.QueryEscape(host+"/devices/"+o.DeviceID), "", time.Now().Add(time.Hour))
		if err != nil {
			return nil, err
		}
		password = tok
	}
	user := topics.Username{Service: topics.IoTHub, HubHost: host, DeviceID: o.DeviceID,
		Params: topics.Bag{{Key: "api-version", Value: HubAPIVersion}, {Key: "DeviceClientType", Value: ClientVersion}}}
	cn, err := dial(ctx, o.Endpoint, o.DeviceID, user.String(), password)
	if err != nil {
		return nil, err
	}
	c := &Client{cn: cn, o: o, host: host}
	if err := c.subscribeAll(ctx); err != nil {
		cn.close()
		return nil, err
	}
	return c, nil
}

func (c *Client) subscribeAll(ctx context.Context) error {
	cn := c.cn
	err := cn.subscribe(ctx, topics.TwinResponseFilter, 0, func(_ paho.Client, m paho.Message) {
		t, err := topics.Parse(m.Topic())
		if err != nil || t.Kind != topics.TwinResponse {
			return
		}
		cn.deliver(t.RID, response{status: t.Status, version: t.Version, hasVersion: t.HasVersion, body: m.Payload()})
	})
	if err != nil {
		return err
	}
	if c.o.OnDesired != nil {
		err := cn.subscribe(ctx, topics.TwinDesiredFilter, 0, func(_ paho.Client, m paho.Message) {
			t, err := topics.Parse(m.Topic())
			if err != nil || t.Kind != topics.TwinDesired {
				return
			}
			c.o.OnDesired(t.Version, m.Payload())
		})
		if err != nil {
			return err
		}
	}
	if c.o.OnMethod != nil {
		err := cn.subscribe(ctx, topics.MethodFilter, 0, func(_ paho.Client, m paho.Message) {
			t, err := topics.Parse(m.Topic())
			if err != nil || t.Kind != topics.MethodRequest {
				return
			}
			payload := m.Payload()
			// Off the receive loop: the handler may take its time and
			// the answer is a publish.
			go func() {
				status, body := c.o.OnMethod(t.Method, payload)
				res := topics.Topic{Kind: topics.MethodResponse, Status: status, RID: t.RID}
				cn.c.Publish(res.String(), 0, false, body)
			}()
		})
		if err != nil {
			return err
		}
	}
	if c.o.OnC2D != nil {
		err := cn.subscribe(ctx, topics.CloudToDeviceFilter(c.o.DeviceID), 1, func(_ paho.Client, m paho.Message) {
			t, err := topics.Parse(m.Topic())
			if err != nil || t.Kind != topics.CloudToDevice {
				return
			}
			c.o.OnC2D(Message{Topic: m.Topic(), Properties: t.Properties, Payload: m.Payload()})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Done is closed when the hub closed the connection.
func (c *Client) Done() <-chan struct{} { return c.cn.Done() }

// Close disconnects.
func (c *Client) Close() { c.cn.close() }

// SendTelemetry sends a device-to-cloud message with its properties
// (system "$.…" ones and application ones) at QoS 1: it returns once the
// hub acknowledged it.
func (c *Client) SendTelemetry(ctx context.Context, payload []byte, props topics.Bag) error {
	t := topics.Topic{Kind: topics.Telemetry, DeviceID: c.o.DeviceID, Properties: props}
	return c.cn.publish(ctx, t.String(), 1, payload)
}

// SendTelemetryAsync sends at QoS 1 without waiting; the token says when
// the hub acknowledged it.
func (c *Client) SendTelemetryAsync(payload []byte, props topics.Bag) paho.Token {
	t := topics.Topic{Kind: topics.Telemetry, DeviceID: c.o.DeviceID, Properties: props}
	return c.cn.c.Publish(t.String(), 1, false, payload)
}

// GetTwin reads the device's twin.
func (c *Client) GetTwin(ctx context.Context) (Twin, error) {
	r, err := c.cn.request(ctx, func(rid string) string {
		return topics.Topic{Kind: topics.TwinGet, RID: rid}.String()
	}, nil)
	if err != nil {
		return Twin{}, err
	}
	if r.status != 200 {
		return Twin{}, &TwinError{Status: r.status, Body: r.body}
	}
	var t Twin
	if err := json.Unmarshal(r.body, &t); err != nil {
		return Twin{}, fmt.Errorf("twin document: %w", err)
	}
	return t, nil
}

// PatchReported sends a reported-properties patch (JSON object; null
// deletes) and returns the new reported version.
func (c *Client) PatchReported(ctx context.Context, patch []byte) (int64, error) {
	r, err := c.cn.request(ctx, func(rid string) string {
		return topics.Topic{Kind: topics.TwinPatchReported, RID: rid}.String()
	}, patch)
	if err != nil {
		return 0, err
	}
	if r.status != 204 && r.status != 200 {
		return 0, &TwinError{Status: r.status, Body: r.body}
	}
	return r.version, nil
}

// Publish publishes raw: for tests of what the hub refuses.
func (c *Client) Publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	return c.cn.publish(ctx, topic, qos, payload)
}

// Subscribe subscribes raw: for tests of what the hub refuses.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte) error {
	return c.cn.subscribe(ctx, filter, qos, func(paho.Client, paho.Message) {})
}
