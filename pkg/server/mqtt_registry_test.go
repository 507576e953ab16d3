package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// putSASDevice puts an enabled device with a fresh key in the default
// hub's registry and returns the key.
func putSASDevice(t *testing.T, inst *server.Instance, id string) string {
	t.Helper()
	key := randomKey(t)
	if err := inst.PutHubDevice(mqttCtx(t), linkedhub.Device{HubHostName: server.DefaultHostName, DeviceID: id, Status: model.StatusEnabled,
		AuthenticationType: linkedhub.AuthSAS, PrimaryKey: key, SecondaryKey: randomKey(t), ConnectionState: store.ConnectionDisconnected}); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestRegistryFollowsMQTTDevices: a device connected over MQTT (TLS or
// WebSockets) is Connected in the hub registry, its messages are counted,
// and it is Disconnected once it is gone, as for the HTTPS hub API.
func TestRegistryFollowsMQTTDevices(t *testing.T) {
	s := servertest.StartMQTT(t, server.Options{})
	for _, tt := range []struct {
		name string
		ws   bool
	}{{"MQTT over TLS", false}, {"MQTT over WebSockets", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mqttCtx(t)
			id := "reg-tls"
			if tt.ws {
				id = "reg-ws"
			}
			key := putSASDevice(t, s.Instance, id)
			hub, err := s.Instance.Hub(ctx, server.DefaultHostName)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: mqttEndpoint(s, tt.ws, nil), HubHost: server.DefaultHostName, DeviceID: id, SymmetricKey: key})
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			// Connected as soon as the device is answered (Connect waits
			// for its SUBACKs).
			d, err := s.Instance.HubDevice(ctx, server.DefaultHostName, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.ConnectionState != store.ConnectionConnected || d.ConnectionStateUpdatedTime == "" || d.LastActivityTime == "" || d.DeviceToCloudMessageCount != 0 {
				t.Fatalf("after connecting: state %q at %q, last activity %q, %d messages", d.ConnectionState, d.ConnectionStateUpdatedTime, d.LastActivityTime, d.DeviceToCloudMessageCount)
			}
			connectedAt := d.ConnectionStateUpdatedTime

			const n = 7
			for range n {
				if err := dc.SendTelemetry(ctx, []byte(`{"t":1}`), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := hub.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if d, err = s.Instance.HubDevice(ctx, server.DefaultHostName, id); err != nil {
				t.Fatal(err)
			}
			if d.ConnectionState != store.ConnectionConnected || d.DeviceToCloudMessageCount != n || d.LastActivityTime < connectedAt {
				t.Fatalf("after %d messages: state %q, last activity %q, %d messages", n, d.ConnectionState, d.LastActivityTime, d.DeviceToCloudMessageCount)
			}

			dc.Close()
			for i := 0; hub.Online(id); i++ {
				if i == 2000 {
					t.Fatal("the hub still has the device online after it disconnected")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := hub.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if d, err = s.Instance.HubDevice(ctx, server.DefaultHostName, id); err != nil {
				t.Fatal(err)
			}
			if d.ConnectionState != store.ConnectionDisconnected || d.ConnectionStateUpdatedTime < connectedAt || d.DeviceToCloudMessageCount != n {
				t.Fatalf("after disconnecting: state %q at %q, %d messages", d.ConnectionState, d.ConnectionStateUpdatedTime, d.DeviceToCloudMessageCount)
			}
		})
	}
}

// TestStoppedServiceRecordsMQTTDevices: a device still connected when the
// service stops ends Disconnected, with every message counted, whether
// the broker saw it go before the instance closed or the instance's Close
// records it.
func TestStoppedServiceRecordsMQTTDevices(t *testing.T) {
	dir := t.TempDir()
	inst, err := server.Open(server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			inst.Close()
		}
	}()
	key := putSASDevice(t, inst, "stays")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- inst.ServeMQTT(sctx, ln) }()
	defer stop()

	pem, err := os.ReadFile(inst.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx := mqttCtx(t)
	ep := mqttdevice.Endpoint{Address: ln.Addr().String(), TLS: &tls.Config{RootCAs: roots, ServerName: inst.Info().HostName, MinVersion: tls.VersionTLS12}, ConnectTimeout: mqttWait}
	dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: ep, HubHost: server.DefaultHostName, DeviceID: "stays", SymmetricKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	const n = 3
	for range n {
		if err := dc.SendTelemetry(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := server.Open(server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	d, err := again.HubDevice(ctx, server.DefaultHostName, "stays")
	if err != nil {
		t.Fatal(err)
	}
	if d.ConnectionState != store.ConnectionDisconnected || d.DeviceToCloudMessageCount != n || d.LastActivityTime == "" {
		t.Fatalf("after Close: state %q, last activity %q, %d messages", d.ConnectionState, d.LastActivityTime, d.DeviceToCloudMessageCount)
	}
}
