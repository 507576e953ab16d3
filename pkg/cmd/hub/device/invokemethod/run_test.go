package invokemethod

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

const testKey = "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="

// onlineDevice serves a data directory as dpsctl serve does (MQTT too),
// enrolls dev-1 and connects it over MQTT, answering every direct method
// with status 200 and {"echo": payload}.
func onlineDevice(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(config.EnvDataDir, filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for _, e := range []string{config.EnvConnectionString, config.EnvCAFile, config.EnvProfile, config.EnvOutput} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	s := servertest.StartMQTT(t, server.Options{DataDir: filepath.Join(dir, "data")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	c, err := dps.New(dps.Options{ConnectionString: s.Info.ConnectionString, HTTPClient: &http.Client{Transport: server.Transport(s.Instance.Handler())}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEnrollment(ctx, &model.IndividualEnrollment{RegistrationID: "dev-1", EnrollmentCommon: model.EnrollmentCommon{
		InitialTwin: &model.InitialTwin{Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}},
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: testKey, SecondaryKey: testKey}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	ep := mqttdevice.Endpoint{Address: s.MQTTAddr, TLS: &tls.Config{RootCAs: s.RootCAs, ServerName: s.Info.HostName, MinVersion: tls.VersionTLS12}, ConnectTimeout: 30 * time.Second}
	if _, err := mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: ep, IDScope: s.Instance.IDScope(), RegistrationID: "dev-1", SymmetricKey: testKey}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Instance.HubDevice(ctx, server.DefaultHostName, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: ep, HubHost: server.DefaultHostName, DeviceID: "dev-1", SymmetricKey: d.PrimaryKey,
		OnMethod: func(name string, payload []byte) (int, []byte) {
			return 200, []byte(`{"echo":` + string(payload) + `}`)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dc.Close)
}

func TestInvokeRun(t *testing.T) {
	onlineDevice(t)
	for _, r := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"table", true, []string{"dev-1", "ping", "--payload", `{"n":1}`}},
		{"json", false, []string{"dev-1", "ping", "--payload", `[1,2]`, "--timeout", "10s", "-o", "json"}},
		{"no payload piped", false, []string{"dev-1", "ping"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, r.tty)
			if err := cmdtest.Run(t, f, NewCmdInvokeMethod(f, nil), r.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
}
