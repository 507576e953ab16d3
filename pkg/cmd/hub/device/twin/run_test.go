package twin

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
// enrolls dev-1 with an initial twin, and connects it over MQTT; desired
// receives its desired-property updates.
func onlineDevice(t *testing.T) (desired chan string) {
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
	desired = make(chan string, 8)
	dc, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: ep, HubHost: server.DefaultHostName, DeviceID: "dev-1", SymmetricKey: d.PrimaryKey,
		OnDesired: func(_ int64, patch []byte) { desired <- string(patch) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dc.Close)
	return desired
}

func TestTwinRun(t *testing.T) {
	desired := onlineDevice(t)
	runs := []struct {
		name string
		tty  bool
		args []string
	}{
		{"show table", true, []string{"show", "dev-1"}},
		{"show piped", false, []string{"show", "dev-1"}},
		{"update json", false, []string{"update", "dev-1", "--desired", `{"interval":60,"mode":"eco"}`, "-o", "json"}},
		{"show after update", true, []string{"show", "dev-1"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, r.tty)
			if err := cmdtest.Run(t, f, NewCmdTwin(f, nil), r.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
	select {
	case p := <-desired:
		if p != `{"$version":2,"interval":60,"mode":"eco"}` {
			t.Fatalf("the device got %s", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the device got no desired-property update")
	}

	// A device no local hub has.
	f, _ := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdTwin(f, nil), "show", "nobody"); err == nil || err.Error() != `there is no device "nobody" in any local IoT hub` {
		t.Fatalf("unknown device: %v", err)
	}
}
