package mqttbroker_test

import (
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

var transports = []struct {
	name string
	ws   bool
}{{"tls", false}, {"websocket", true}}

func TestProvisioning(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			key := newKey(t)
			symID := "sym-" + tr.name
			x509ID := "x509-" + tr.name
			throttledID := "throttled-" + tr.name
			e.prov.mu.Lock()
			e.prov.keys[symID] = key
			e.prov.keys[throttledID] = key
			e.prov.throttle[throttledID] = true
			e.prov.mu.Unlock()
			dev := e.ca.Device(t, x509ID)
			e.prov.mu.Lock()
			e.prov.certs[x509ID] = certs.Thumbprint(dev.Cert, crypto.SHA256)
			e.prov.mu.Unlock()

			tests := []struct {
				name       string
				opts       mqttdevice.RegisterOptions
				wantStatus int // of a StatusError; 0 for success
				wantCalls  []string
			}{
				{"symmetric key, polled as retry-after says",
					mqttdevice.RegisterOptions{Endpoint: e.endpoint(tr.ws, nil), IDScope: testScope, RegistrationID: symID, SymmetricKey: key},
					0, []string{"register", "status", "status"}},
				{"x509",
					mqttdevice.RegisterOptions{Endpoint: e.endpoint(tr.ws, dev), IDScope: testScope, RegistrationID: x509ID},
					0, []string{"register", "status", "status"}},
				{"429 is retried after retry-after",
					mqttdevice.RegisterOptions{Endpoint: e.endpoint(tr.ws, nil), IDScope: testScope, RegistrationID: throttledID, SymmetricKey: key},
					0, []string{"register", "register", "status", "status"}},
				{"wrong key is a 401 answer",
					mqttdevice.RegisterOptions{Endpoint: e.endpoint(tr.ws, nil), IDScope: testScope, RegistrationID: "wrong-" + tr.name, SymmetricKey: newKey(t)},
					401, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					st, err := mqttdevice.Register(ctxT(t), tt.opts)
					if tt.wantStatus != 0 {
						var se *mqttdevice.StatusError
						if !errors.As(err, &se) || se.Status != tt.wantStatus {
							t.Fatalf("Register: %v, want a %d answer", err, tt.wantStatus)
						}
						if se.Details.ErrorCode != 401002 {
							t.Fatalf("error details %+v", se.Details)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					rs := st.RegistrationState
					if st.Status != "assigned" || rs == nil || rs.AssignedHub != testHub || rs.DeviceID != tt.opts.RegistrationID {
						t.Fatalf("status %+v", st)
					}
					if got := e.prov.history(tt.opts.RegistrationID); !reflect.DeepEqual(got, tt.wantCalls) {
						t.Fatalf("calls %v, want %v", got, tt.wantCalls)
					}
				})
			}
		})
	}
}

// rawClient connects with paho directly, for what the device package
// never sends.
func rawClient(t *testing.T, e *env, clientID, user, password string) (paho.Client, chan struct{}) {
	t.Helper()
	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker("ssl://" + e.tlsAddr).SetClientID(clientID).SetUsername(user).SetPassword(password).
		SetTLSConfig(&tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(waitLimit).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, lost
}

func TestProvisioningRefusesTPM(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	user := testScope + "/registrations/tpm-1/api-version=2019-03-31"
	c, _ := rawClient(t, e, "tpm-1", user, "SharedAccessSignature sr=x&sig=y&se=1")
	got := make(chan string, 1)
	if tok := c.Subscribe(topics.DPSResponseFilter, 1, func(_ paho.Client, m paho.Message) {
		got <- m.Topic() + " " + string(m.Payload())
	}); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Publish("$dps/registrations/PUT/iotdps-register/?$rid=7", 1, false, `{"registrationId":"tpm-1","tpm":{"endorsementKey":"AAA="}}`)
	select {
	case s := <-got:
		if !strings.HasPrefix(s, "$dps/registrations/res/400/?$rid=7 ") || !strings.Contains(s, "TPM") {
			t.Fatalf("answer %s", s)
		}
	case <-time.After(waitLimit):
		t.Fatal("no answer")
	}
	if h := e.prov.history("tpm-1"); len(h) != 0 {
		t.Fatalf("the provisioner was called: %v", h)
	}
}

// hubDevice connects a device with a fresh key.
func hubDevice(t *testing.T, e *env, id string, ws bool, o mqttdevice.HubOptions) *mqttdevice.Client {
	t.Helper()
	key := newKey(t)
	e.auth.add(id, key)
	o.Endpoint, o.HubHost, o.DeviceID, o.SymmetricKey = e.endpoint(ws, nil), testHub, id, key
	c, err := mqttdevice.Connect(ctxT(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTelemetryStream(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := startEnv(t, mqttbroker.HubOptions{TelemetryRing: 5})
			live, err := e.hub.Subscribe(mqttbroker.StreamOptions{DeviceID: "d1"})
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			c := hubDevice(t, e, "d1", tr.ws, mqttdevice.HubOptions{})
			start := time.Now().Add(-time.Minute)
			const n = 8
			for i := range n {
				props := topics.Bag{{Key: topics.PropMessageID, Value: "m" + strconv.Itoa(i)}, {Key: topics.PropContentType, Value: "application/json"}, {Key: "seq", Value: strconv.Itoa(i)}}
				if err := c.SendTelemetry(ctxT(t), []byte(fmt.Sprintf(`{"i":%d}`, i)), props); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				ev, err := live.Next(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if ev.DeviceID != "d1" || ev.Properties["seq"] != strconv.Itoa(i) || ev.System["$.mid"] != "m"+strconv.Itoa(i) ||
					ev.System["$.ct"] != "application/json" || string(ev.Payload) != fmt.Sprintf(`{"i":%d}`, i) {
					t.Fatalf("event %d: %+v", i, ev)
				}
			}
			// QoS 0 is taken as well.
			if err := c.Publish(ctxT(t), "devices/d1/messages/events/seq=qos0", 0, []byte("q0")); err != nil {
				t.Fatal(err)
			}
			if ev, err := live.Next(ctxT(t)); err != nil || ev.Properties["seq"] != "qos0" || string(ev.Payload) != "q0" {
				t.Fatalf("QoS 0 event %+v, %v", ev, err)
			}
			// A replay gets the last 5 kept, in order.
			replay, err := e.hub.Subscribe(mqttbroker.StreamOptions{Since: start})
			if err != nil {
				t.Fatal(err)
			}
			defer replay.Close()
			for _, want := range []string{"4", "5", "6", "7", "qos0"} {
				ev, err := replay.Next(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if ev.Properties["seq"] != want {
					t.Fatalf("replayed %+v, want seq %s", ev, want)
				}
			}
		})
	}
}

func TestTwin(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := startEnv(t, mqttbroker.HubOptions{})
			type desired struct {
				version int64
				patch   map[string]any
			}
			got := make(chan desired, 4)
			c := hubDevice(t, e, "twin-1", tr.ws, mqttdevice.HubOptions{OnDesired: func(v int64, p []byte) {
				var m map[string]any
				_ = json.Unmarshal(p, &m)
				got <- desired{v, m}
			}})
			tw, err := c.GetTwin(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if mqttdevice.Version(tw.Desired) != 1 || mqttdevice.Version(tw.Reported) != 1 {
				t.Fatalf("initial twin %+v", tw)
			}
			v, err := c.PatchReported(ctxT(t), []byte(`{"fw":"1.0","net":{"rssi":-50,"ssid":"x"}}`))
			if err != nil || v != 2 {
				t.Fatalf("PatchReported = %d, %v; want version 2", v, err)
			}
			v, err = c.PatchReported(ctxT(t), []byte(`{"net":{"ssid":null}}`))
			if err != nil || v != 3 {
				t.Fatalf("PatchReported = %d, %v; want version 3", v, err)
			}
			if _, err := c.PatchReported(ctxT(t), []byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("a patch that is no object: %v, want a 400", err)
			}
			tw, err = c.GetTwin(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			wantReported := map[string]any{"fw": "1.0", "net": map[string]any{"rssi": float64(-50)}, "$version": float64(3)}
			if !reflect.DeepEqual(tw.Reported, wantReported) {
				t.Fatalf("reported %v, want %v", tw.Reported, wantReported)
			}
			dv, err := e.hub.UpdateDesired("twin-1", []byte(`{"interval":30}`))
			if err != nil || dv != 2 {
				t.Fatalf("UpdateDesired = %d, %v", dv, err)
			}
			select {
			case d := <-got:
				if d.version != 2 || d.patch["interval"] != float64(30) || d.patch["$version"] != float64(2) {
					t.Fatalf("desired notification %+v", d)
				}
			case <-time.After(waitLimit):
				t.Fatal("no desired notification")
			}
			tw, err = c.GetTwin(ctxT(t))
			if err != nil || tw.Desired["interval"] != float64(30) || mqttdevice.Version(tw.Desired) != 2 {
				t.Fatalf("twin after the desired update %+v, %v", tw, err)
			}
			st, err := e.hub.Twin("twin-1")
			if err != nil || st.Properties.Reported["$version"] != int64(3) {
				t.Fatalf("service view %+v, %v", st, err)
			}
		})
	}
}

func TestDirectMethods(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := startEnv(t, mqttbroker.HubOptions{})
			release := make(chan struct{})
			defer close(release)
			hubDevice(t, e, "m-1", tr.ws, mqttdevice.HubOptions{OnMethod: func(name string, p []byte) (int, []byte) {
				if name == "slow" {
					<-release
				}
				return 201, []byte(`{"echo":` + string(p) + `}`)
			}})
			r, err := e.hub.InvokeMethod(ctxT(t), "m-1", "reboot", []byte(`{"delay":1}`), waitLimit)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 201 || string(r.Payload) != `{"echo":{"delay":1}}` {
				t.Fatalf("result %d %s", r.Status, r.Payload)
			}
			if _, err := e.hub.InvokeMethod(ctxT(t), "m-1", "slow", nil, 200*time.Millisecond); !errors.Is(err, mqttbroker.ErrMethodTimeout) {
				t.Fatalf("slow method: %v, want ErrMethodTimeout", err)
			}
			if _, err := e.hub.InvokeMethod(ctxT(t), "nobody", "reboot", nil, time.Second); !errors.Is(err, mqttbroker.ErrDeviceNotOnline) {
				t.Fatalf("offline device: %v, want ErrDeviceNotOnline", err)
			}
			if _, err := e.hub.InvokeMethod(ctxT(t), "m-1", "reboot", []byte(`not json`), time.Second); !errors.Is(err, mqttbroker.ErrBadMethodRequest) {
				t.Fatalf("bad payload: %v", err)
			}
		})
	}
}

func TestCloudToDevice(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := startEnv(t, mqttbroker.HubOptions{})
			// Queued while the device is away, delivered when it subscribes.
			id1, err := e.hub.SendC2D("c-1", mqttbroker.C2DMessage{Payload: []byte("first"), Properties: topics.Bag{{Key: "k", Value: "v 1"}}})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan mqttdevice.Message, 4)
			hubDevice(t, e, "c-1", tr.ws, mqttdevice.HubOptions{OnC2D: func(m mqttdevice.Message) { got <- m }})
			id2, err := e.hub.SendC2D("c-1", mqttbroker.C2DMessage{Payload: []byte("second"), CorrelationID: "corr"})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []struct{ id, payload string }{{id1, "first"}, {id2, "second"}} {
				select {
				case m := <-got:
					mid, _ := m.Properties.Get(topics.PropMessageID)
					to, _ := m.Properties.Get(topics.PropTo)
					if mid != want.id || string(m.Payload) != want.payload || to != "/devices/c-1/messages/deviceBound" {
						t.Fatalf("message %d: %+v", i, m)
					}
					if i == 0 {
						if v, _ := m.Properties.Get("k"); v != "v 1" {
							t.Fatalf("application property: %+v", m.Properties)
						}
					} else if v, _ := m.Properties.Get(topics.PropCorrelationID); v != "corr" {
						t.Fatalf("correlation ID: %+v", m.Properties)
					}
				case <-time.After(waitLimit):
					t.Fatalf("message %d not delivered", i)
				}
			}
			if n := e.hub.PendingC2D("c-1"); n != 0 {
				t.Fatalf("%d messages still queued", n)
			}
		})
	}
}

func TestC2DQueueIsBounded(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{C2DQueue: 2})
	for i := range 2 {
		if _, err := e.hub.SendC2D("q", mqttbroker.C2DMessage{Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.hub.SendC2D("q", mqttbroker.C2DMessage{}); !errors.Is(err, mqttbroker.ErrQueueFull) {
		t.Fatalf("third message: %v, want ErrQueueFull", err)
	}
}

// TestRefusals: what IoT Hub refuses closes the connection.
func TestRefusals(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	tests := []struct {
		name string
		do   func(c *mqttdevice.Client, self string) error
	}{
		{"publish on another device's telemetry", func(c *mqttdevice.Client, self string) error {
			return c.Publish(ctxT(t), "devices/victim/messages/events/", 1, []byte("x"))
		}},
		{"subscribe to another device's messages", func(c *mqttdevice.Client, self string) error {
			return c.Subscribe(ctxT(t), "devices/victim/messages/devicebound/#", 1)
		}},
		{"subscribe to everything", func(c *mqttdevice.Client, self string) error { return c.Subscribe(ctxT(t), "#", 0) }},
		{"publish at QoS 2", func(c *mqttdevice.Client, self string) error {
			return c.Publish(ctxT(t), "devices/"+self+"/messages/events/", 2, []byte("x"))
		}},
		{"subscribe at QoS 2", func(c *mqttdevice.Client, self string) error { return c.Subscribe(ctxT(t), "$iothub/twin/res/#", 2) }},
		{"publish on an unknown topic", func(c *mqttdevice.Client, self string) error { return c.Publish(ctxT(t), "foo/bar", 1, []byte("x")) }},
		{"publish more than 256 KiB", func(c *mqttdevice.Client, self string) error {
			return c.Publish(ctxT(t), "devices/"+self+"/messages/events/", 1, make([]byte, mqttbroker.MaxMessageSize+1))
		}},
		{"publish a DPS request to a hub", func(c *mqttdevice.Client, self string) error {
			return c.Publish(ctxT(t), "$dps/registrations/PUT/iotdps-register/?$rid=1", 1, []byte("{}"))
		}},
	}
	s, err := e.hub.Subscribe(mqttbroker.StreamOptions{}) // nothing refused may reach it
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			self := "r-" + strconv.Itoa(i)
			c := hubDevice(t, e, self, false, mqttdevice.HubOptions{})
			_ = tt.do(c, self) // the error depends on when paho sees the close
			select {
			case <-c.Done():
			case <-time.After(waitLimit):
				t.Fatal("the connection stays open")
			}
		})
	}
	ctx, cancel := contextWithTimeout(100 * time.Millisecond)
	defer cancel()
	if ev, err := s.Next(ctx); err == nil {
		t.Fatalf("refused telemetry was enqueued: %+v", ev)
	}
}

func TestConnectRefused(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	e.auth.add("known", newKey(t))
	dev := e.ca.Device(t, "certdev")
	tests := []struct {
		name string
		o    mqttdevice.HubOptions
	}{
		{"wrong key", mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: testHub, DeviceID: "known", SymmetricKey: newKey(t)}},
		{"unknown device", mqttdevice.HubOptions{Endpoint: e.endpoint(true, nil), HubHost: testHub, DeviceID: "unknown", SymmetricKey: newKey(t)}},
		{"unknown hub", mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: "other.hub", DeviceID: "known", SymmetricKey: newKey(t)}},
		{"no credential", mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: testHub, DeviceID: "known"}},
		{"certificate not registered", mqttdevice.HubOptions{Endpoint: e.endpoint(false, dev), HubHost: testHub, DeviceID: "certdev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := mqttdevice.Connect(ctxT(t), tt.o)
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), "not Authorized") || !mqttdevice.IsConnectRefused(err) {
				t.Fatalf("error %v, want CONNACK 5 (not authorized), a refusal for IsConnectRefused", err)
			}
		})
	}
	if n := e.broker.Connections(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

func TestX509HubDevice(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	dev := e.ca.Device(t, "xdev")
	e.auth.mu.Lock()
	e.auth.thumbs["xdev"] = certs.Thumbprint(dev.Cert, crypto.SHA256)
	e.auth.mu.Unlock()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c, err := mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(tr.ws, dev), HubHost: testHub, DeviceID: "xdev"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.GetTwin(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConnectionLimit(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{}, func(o *mqttbroker.Options) { o.MaxConnections = 1 })
	hubDevice(t, e, "first", false, mqttdevice.HubOptions{})
	key := newKey(t)
	e.auth.add("second", key)
	_, err := mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(true, nil), HubHost: testHub, DeviceID: "second", SymmetricKey: key})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unavailable") {
		t.Fatalf("second connection: %v, want CONNACK 3 (server unavailable)", err)
	}
}

// TestWillIsTelemetry: a Will on the device's telemetry topic is enqueued
// when the hub closes the connection; one on another device's topic goes
// nowhere.
func TestWillIsTelemetry(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	s, err := e.hub.Subscribe(mqttbroker.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct{ id, topic string }{
		{"w-2", "devices/w-1/messages/events/"}, // not its own: dropped
		{"w-1", "devices/w-1/messages/events/will=1"},
	} {
		key := newKey(t)
		e.auth.add(tt.id, key)
		o := paho.NewClientOptions().AddBroker("ssl://"+e.tlsAddr).SetClientID(tt.id).
			SetUsername(testHub+"/"+tt.id+"/?api-version=2021-04-12").SetPassword(sasFor(t, tt.id, key)).
			SetTLSConfig(&tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(waitLimit).
			SetBinaryWill(tt.topic, []byte("gone"), 1, false)
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		c.Publish("foo", 1, false, "refused") // the hub closes the connection
		deadline := time.Now().Add(waitLimit)
		for c.IsConnectionOpen() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		c.Disconnect(0)
	}
	ev, err := s.Next(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if ev.DeviceID != "w-1" || string(ev.Payload) != "gone" || ev.Properties["will"] != "1" {
		t.Fatalf("event %+v, want w-1's own Will only", ev)
	}
}

func TestWebSocketNeedsSubprotocol(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, HandshakeTimeout: waitLimit}
	c, resp, err := d.Dial("wss://"+e.wsAddr+mqttbroker.WebSocketPath, nil)
	if err == nil {
		c.Close()
		t.Fatal("upgraded without the mqtt subprotocol")
	}
	if resp == nil || resp.StatusCode != 400 {
		t.Fatalf("answer %v, %v; want 400", resp, err)
	}
}

// TestDPSRefusals: a DPS connection may only register and poll.
func TestDPSRefusals(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	user := testScope + "/registrations/reg-1/api-version=2019-03-31"
	tests := []struct {
		name string
		do   func(c paho.Client)
	}{
		{"hub telemetry", func(c paho.Client) { c.Publish("devices/reg-1/messages/events/", 1, false, "x") }},
		{"twin subscription", func(c paho.Client) { c.Subscribe("$iothub/twin/res/#", 0, nil) }},
		{"a DPS answer", func(c paho.Client) { c.Publish("$dps/registrations/res/200/?$rid=1", 1, false, "{}") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, lost := rawClient(t, e, "reg-1", user, "SharedAccessSignature sr=x&sig=y&se=1")
			tt.do(c)
			select {
			case <-lost:
			case <-time.After(waitLimit):
				t.Fatal("the connection stays open")
			}
		})
	}
	// Without any credential, a DPS connection is refused at CONNECT.
	o := paho.NewClientOptions().AddBroker("ssl://" + e.tlsAddr).SetClientID("reg-1").SetUsername(user).
		SetTLSConfig(&tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(waitLimit)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("connected without a credential")
	}
	// A client ID other than the registration ID is refused too.
	o.SetClientID("someone-else").SetPassword("SharedAccessSignature sr=x&sig=y&se=1")
	c = paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("connected with another client ID")
	}
}

// TestSilentConnectionsAreClosed: a connection that sends no CONNECT (or
// does not finish its TLS handshake) is closed after ConnectTimeout.
func TestSilentConnectionsAreClosed(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{}, func(o *mqttbroker.Options) { o.ConnectTimeout = 100 * time.Millisecond })
	tests := []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"no TLS handshake", func() (net.Conn, error) { return net.Dial("tcp", e.tlsAddr) }},
		{"no CONNECT", func() (net.Conn, error) {
			return tls.Dial("tcp", e.tlsAddr, &tls.Config{RootCAs: e.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			_, err = c.Read(make([]byte, 1))
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read: %v, want the broker to close the connection", err)
			}
		})
	}
}

// TestCloseEndsConnections: Close ends connected devices on both
// transports and a connection still in its TLS handshake, then refuses new
// ones.
func TestCloseEndsConnections(t *testing.T) {
	e := startEnv(t, mqttbroker.HubOptions{})
	devices := []*mqttdevice.Client{hubDevice(t, e, "tls-dev", false, mqttdevice.HubOptions{}), hubDevice(t, e, "ws-dev", true, mqttdevice.HubOptions{})}
	raw, err := net.Dial("tcp", e.tlsAddr) // never says ClientHello
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if n := e.broker.Connections(); n != 2 {
		t.Fatalf("%d connections before Close, want 2", n)
	}
	if err := e.broker.Close(); err != nil {
		t.Fatal(err)
	}
	for i, d := range devices {
		select {
		case <-d.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("device %d still connected after Close", i)
		}
	}
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); err == nil {
		t.Error("the connection in its handshake was not closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the connection in its handshake is still open after Close")
	}
	if n := e.broker.Connections(); n != 0 {
		t.Errorf("%d connections after Close", n)
	}
	_, err = mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(true, nil), HubHost: testHub, DeviceID: "late", SymmetricKey: newKey(t)})
	if err == nil {
		t.Error("a device connected over WebSockets after Close")
	}
}
