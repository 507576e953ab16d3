package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/serve/info"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// serve with --mqtt-addr on a free port: DPS answers over MQTT over TLS
// and over WebSockets on the HTTPS address, serve info reports the MQTT
// address, and both stop with serve.
func TestServeRunMQTT(t *testing.T) {
	t.Setenv(config.EnvDataDir, t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	f, s := cmdtest.NewFactory(t, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan server.Info, 1)
	opts := &ServeOptions{IO: f.IOStreams, Config: f.Config, Addr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", HostName: "localhost",
		MaxConnections: 16, ready: func(i server.Info) { ready <- i }}
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()
	var it server.Info
	select {
	case it = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	if !strings.HasPrefix(it.MQTTAddress, "127.0.0.1:") || strings.HasSuffix(it.MQTTAddress, ":0") || it.MQTTAddress == it.Address {
		t.Fatalf("MQTT address %q (HTTPS %q)", it.MQTTAddress, it.Address)
	}

	caPEM, err := os.ReadFile(it.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	for _, ep := range []mqttdevice.Endpoint{
		{Address: it.MQTTAddress},
		{Address: it.Address, WebSocket: true},
	} {
		ep.TLS = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		ep.ConnectTimeout = 20 * time.Second
		// Nothing is enrolled: the service itself answers, over MQTT.
		_, err := mqttdevice.Register(rctx, mqttdevice.RegisterOptions{Endpoint: ep, IDScope: it.IDScope, RegistrationID: "nobody",
			SymmetricKey: "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="})
		var se *mqttdevice.StatusError
		if !errors.As(err, &se) || se.Status != 401 {
			t.Fatalf("%+v: %v, want DPS's 401 answer", ep, err)
		}
	}

	fi, si := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, fi, info.NewCmdInfo(fi, nil), "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if want := `"mqttAddress": "` + it.MQTTAddress + `"`; !strings.Contains(si.Out.String(), want) {
		t.Errorf("serve info lacks %s:\n%s", want, si.Out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if want := "MQTT               mqtts://" + it.MQTTAddress + ", wss://" + it.Address + "/$iothub/websocket"; !strings.Contains(s.ErrOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, s.ErrOut)
	}
}
