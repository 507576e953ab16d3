// Package hubtest puts a device online on a served local hub, for the
// tests of the hub commands that reach what only the running service holds.
package hubtest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

// DeviceKey is the symmetric key dev-1 is enrolled with.
const DeviceKey = "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="

// OnlineDevice serves a fresh data directory as dpsctl serve does (MQTT
// too), points the environment of the test's commands at it, enrolls dev-1
// with the initial desired properties {"interval":30}, registers it over
// MQTT and connects it to its hub with the callbacks of dev (OnMethod,
// OnDesired, OnC2D). The device disconnects when the test ends.
func OnlineDevice(t *testing.T, dev mqttdevice.HubOptions) {
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
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: DeviceKey, SecondaryKey: DeviceKey}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	ep := mqttdevice.Endpoint{Address: s.MQTTAddr, TLS: &tls.Config{RootCAs: s.RootCAs, ServerName: s.Info.HostName, MinVersion: tls.VersionTLS12}, ConnectTimeout: 30 * time.Second}
	if _, err := mqttdevice.Register(ctx, mqttdevice.RegisterOptions{Endpoint: ep, IDScope: s.Instance.IDScope(), RegistrationID: "dev-1", SymmetricKey: DeviceKey}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Instance.HubDevice(ctx, server.DefaultHostName, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	dev.Endpoint, dev.HubHost, dev.DeviceID, dev.SymmetricKey = ep, server.DefaultHostName, "dev-1", d.PrimaryKey
	dc, err := mqttdevice.Connect(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dc.Close)
}
