package server_test

// DPS and the local hubs over MQTT, served by the instance itself
// (ServeMQTT), as dpsctl serve runs it: the device core attests and
// allocates, the linked hubs' registries vouch for devices.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

const mqttWait = 20 * time.Second

func mqttCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), mqttWait)
	t.Cleanup(cancel)
	return ctx
}

func randomKey(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// mqttEndpoint is the server's MQTT over TLS or over WebSockets, with the
// device certificate when given.
func mqttEndpoint(s *servertest.Server, ws bool, dev *certstest.Device) mqttdevice.Endpoint {
	conf := &tls.Config{RootCAs: s.RootCAs, ServerName: s.Info.HostName, MinVersion: tls.VersionTLS12}
	if dev != nil {
		var der [][]byte
		for _, c := range dev.Chain {
			der = append(der, c.Raw)
		}
		conf.Certificates = []tls.Certificate{{Certificate: der, PrivateKey: dev.Key, Leaf: dev.Cert}}
	}
	ep := mqttdevice.Endpoint{Address: s.MQTTAddr, TLS: conf, ConnectTimeout: mqttWait}
	if ws {
		ep.Address, ep.WebSocket = s.Addr, true
	}
	return ep
}

func TestServeMQTT(t *testing.T) {
	s := servertest.StartMQTT(t, server.Options{})
	if s.Info.MQTTAddress != s.MQTTAddr || s.MQTTAddr == "" {
		t.Fatalf("Info.MQTTAddress %q, want %q", s.Info.MQTTAddress, s.MQTTAddr)
	}
	ctx := mqttCtx(t)
	c, err := dps.New(dps.Options{
		ConnectionString: s.Info.ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(s.Instance.Handler())},
		MaxRetries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	key := randomKey(t)
	sym := &model.IndividualEnrollment{RegistrationID: "mqtt-sym", EnrollmentCommon: model.EnrollmentCommon{
		InitialTwin: &model.InitialTwin{Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}},
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
			SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key, SecondaryKey: randomKey(t)}},
	}}
	xdev := certstest.SelfSigned(t, "mqtt-x509")
	x509Enr := &model.IndividualEnrollment{RegistrationID: "mqtt-x509", EnrollmentCommon: model.EnrollmentCommon{
		Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			ClientCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(xdev.Cert)}}}},
	}}
	for _, e := range []*model.IndividualEnrollment{sym, x509Enr} {
		if _, err := c.PutEnrollment(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	scope := s.Instance.IDScope()

	// A wrong key is DPS's 401 on the response topic, from the same core
	// as HTTPS.
	_, err = mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: mqttEndpoint(s, false, nil), IDScope: scope, RegistrationID: "mqtt-sym", SymmetricKey: randomKey(t)})
	if se := (*mqttdevice.StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %v, want a 401 answer", err)
	}

	for _, tt := range []struct {
		name string
		ws   bool
		id   string
		key  string
		dev  *certstest.Device
	}{
		{"symmetric key over MQTT over WebSockets", true, "mqtt-sym", key, nil},
		{"X.509 over MQTT over TLS", false, "mqtt-x509", "", xdev},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mqttCtx(t)
			st, err := mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: mqttEndpoint(s, tt.ws, tt.dev), IDScope: scope, RegistrationID: tt.id, SymmetricKey: tt.key})
			if err != nil {
				t.Fatal(err)
			}
			rs := st.RegistrationState
			if st.Status != model.RegAssigned || rs == nil || rs.AssignedHub != server.DefaultHostName {
				t.Fatalf("registration %+v", st)
			}
			// The record is the one the HTTPS API shows.
			got, err := c.GetRegistration(ctx, tt.id)
			if err != nil || got.AssignedHub != rs.AssignedHub || got.DeviceID != rs.DeviceID {
				t.Fatalf("registration record %+v, %v", got, err)
			}
			d, err := s.Instance.HubDevice(ctx, rs.AssignedHub, rs.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			hub, err := s.Instance.Hub(ctx, rs.AssignedHub)
			if err != nil {
				t.Fatal(err)
			}
			stream, err := hub.Subscribe(mqttbroker.StreamOptions{DeviceID: rs.DeviceID})
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: mqttEndpoint(s, !tt.ws, tt.dev), HubHost: rs.AssignedHub, DeviceID: rs.DeviceID, SymmetricKey: d.PrimaryKey})
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			tw, err := dc.GetTwin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := sym.InitialTwin.Properties.Desired; tt.id == "mqtt-sym" && tw.Desired["interval"] != float64(30) {
				t.Fatalf("desired %v, want the enrollment's initial twin %s", tw.Desired, want)
			}
			if err := dc.SendTelemetry(ctx, []byte(`{"t":1}`), topics.Bag{{Key: "k", Value: "v"}}); err != nil {
				t.Fatal(err)
			}
			ev, err := stream.Next(ctx)
			if err != nil || string(ev.Payload) != `{"t":1}` || ev.Properties["k"] != "v" || ev.DeviceID != rs.DeviceID {
				t.Fatalf("event %+v, %v", ev, err)
			}
		})
	}

	// A hub linked while MQTT is served is served from its first device.
	const late = "hub-late.lab.example"
	if _, err := s.Instance.LinkHub(ctx, late, 1, true); err != nil {
		t.Fatal(err)
	}
	lateKey := randomKey(t)
	lateEnr := &model.IndividualEnrollment{RegistrationID: "mqtt-late", EnrollmentCommon: model.EnrollmentCommon{
		IoTHubs:     []string{late},
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: lateKey, SecondaryKey: randomKey(t)}},
	}}
	if _, err := c.PutEnrollment(ctx, lateEnr, ""); err != nil {
		t.Fatal(err)
	}
	st, err := mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: mqttEndpoint(s, false, nil), IDScope: scope, RegistrationID: "mqtt-late", SymmetricKey: lateKey})
	if err != nil || st.RegistrationState == nil || st.RegistrationState.AssignedHub != late {
		t.Fatalf("registration to the late hub %+v, %v", st, err)
	}
	d, err := s.Instance.HubDevice(ctx, late, st.RegistrationState.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: mqttEndpoint(s, false, nil), HubHost: late, DeviceID: d.DeviceID, SymmetricKey: d.PrimaryKey})
	if err != nil {
		t.Fatalf("connect to a hub linked while serving: %v", err)
	}
	dc.Close()
	// A hub that is not linked is refused.
	if _, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: mqttEndpoint(s, false, nil), HubHost: "not-linked.example", DeviceID: d.DeviceID, SymmetricKey: d.PrimaryKey}); err == nil {
		t.Fatal("a hub that is not linked accepted a device")
	}
	if _, err := s.Instance.Hub(ctx, "not-linked.example"); !errors.Is(err, server.ErrHubNotLinked) {
		t.Fatalf("Hub of an unlinked host: %v", err)
	}
}

// Without ServeMQTT the WebSocket path is no route, as before.
func TestMQTTWebSocketPathWithoutMQTT(t *testing.T) {
	s := servertest.Start(t, server.Options{})
	res, err := s.Client(t, nil).Get("https://" + s.HostPort() + server.MQTTWebSocketPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	if s.Info.MQTTAddress != "" {
		t.Fatalf("MQTTAddress %q without MQTT", s.Info.MQTTAddress)
	}
}

// The service side of a local hub over HTTPS (IoT Hub's twin and method
// REST shapes, and the local C2D and event stream endpoints), with a
// device online over MQTT.
func TestHubServiceWithDeviceOnMQTT(t *testing.T) {
	s := servertest.StartMQTT(t, server.Options{})
	ctx := mqttCtx(t)
	c, err := dps.New(dps.Options{ConnectionString: s.Info.ConnectionString, HTTPClient: &http.Client{Transport: server.Transport(s.Instance.Handler())}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	key := randomKey(t)
	if _, err := c.PutEnrollment(ctx, &model.IndividualEnrollment{RegistrationID: "dev-1", EnrollmentCommon: model.EnrollmentCommon{
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key, SecondaryKey: randomKey(t)}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	st, err := mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: mqttEndpoint(s, false, nil), IDScope: s.Instance.IDScope(), RegistrationID: "dev-1", SymmetricKey: key})
	if err != nil {
		t.Fatal(err)
	}
	hubHost := st.RegistrationState.AssignedHub
	d, err := s.Instance.HubDevice(ctx, hubHost, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	desired := make(chan string, 4)
	c2d := make(chan string, 4)
	dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: mqttEndpoint(s, false, nil), HubHost: hubHost, DeviceID: "dev-1", SymmetricKey: d.PrimaryKey,
		OnDesired: func(_ int64, patch []byte) { desired <- string(patch) },
		OnMethod: func(name string, payload []byte) (int, []byte) {
			return 201, []byte(`{"echo":` + string(payload) + `}`)
		},
		OnC2D: func(m mqttdevice.Message) { c2d <- string(m.Payload) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if err := dc.SendTelemetry(ctx, []byte(`{"t":21}`), nil); err != nil {
		t.Fatal(err)
	}

	linked, err := s.Instance.LinkedHubs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sas.ParseConnectionString(linked[0].ConnectionString)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sas.NewToken(cs.Key, hubHost, cs.KeyName, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	hc := s.Client(t, nil)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "https://"+s.HostPort()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return res.StatusCode, string(b)
	}
	const v = "?api-version=2021-04-12"

	code, body := call("PATCH", "/twins/dev-1"+v, `{"properties":{"desired":{"interval":60}}}`)
	if code != 200 || !strings.Contains(body, `"interval":60`) || !strings.Contains(body, `"connectionState":"Connected"`) {
		t.Fatalf("PATCH twin: %d %s", code, body)
	}
	select {
	case p := <-desired:
		if !strings.Contains(p, `"interval":60`) {
			t.Fatalf("desired patch %s", p)
		}
	case <-ctx.Done():
		t.Fatal("the device got no desired-property update")
	}
	if code, body = call("GET", "/twins/dev-1"+v, ""); code != 200 || !strings.Contains(body, `"$version":2`) {
		t.Fatalf("GET twin: %d %s", code, body)
	}
	code, body = call("POST", "/twins/dev-1/methods"+v, `{"methodName":"reboot","payload":{"delay":1},"responseTimeoutInSeconds":10}`)
	if code != 200 || body != `{"status":201,"payload":{"echo":{"delay":1}}}` {
		t.Fatalf("invoke method: %d %s", code, body)
	}
	if code, body = call("POST", "/local/devices/dev-1/messages/cloudToDevice"+v, `{"payload":"hello device"}`); code != 200 {
		t.Fatalf("send C2D: %d %s", code, body)
	}
	select {
	case p := <-c2d:
		if p != "hello device" {
			t.Fatalf("C2D %q", p)
		}
	case <-ctx.Done():
		t.Fatal("the device got no cloud-to-device message")
	}
	since := url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))
	if code, body = call("GET", "/local/events"+v+"&deviceId=dev-1&timeoutSeconds=1&since="+since, ""); code != 200 || !strings.Contains(body, `"deviceId":"dev-1"`) || strings.Count(body, "\n") != 1 {
		t.Fatalf("event stream: %d %q", code, body)
	}
	// Errors in IoT Hub's shape.
	if code, body = call("GET", "/twins/nobody"+v, ""); code != 404 || !strings.Contains(body, "DeviceNotFound") {
		t.Fatalf("unknown device: %d %s", code, body)
	}
	dc.Close()
	// The hub sees the disconnect on its own time: wait for it, bounded.
	hub, err := s.Instance.Hub(ctx, hubHost)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; hub.Online("dev-1"); i++ {
		if i == 2000 {
			t.Fatal("the hub still has the device online after it disconnected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, body = call("POST", "/twins/dev-1/methods"+v, `{"methodName":"reboot","responseTimeoutInSeconds":5}`); code != 404 || !strings.Contains(body, "DeviceNotOnline") {
		t.Fatalf("offline device: %d %s", code, body)
	}
}
