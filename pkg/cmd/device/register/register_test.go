package register

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmd/device/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

const key = "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="

// parseCase is a command line of TestNewCmdRegister: the options it gives
// (check) or its usage error.
type parseCase struct {
	name    string
	args    []string
	env     map[string]string
	check   func(t *testing.T, o *RegisterOptions)
	wantErr string
}

func TestNewCmdRegister(t *testing.T) {
	tests := []parseCase{
		{
			name: "symmetric key",
			args: []string{"--registration-id", "d1", "--symmetric-key", key, "--id-scope", "0ne1", "--connect", "--message", "hi", "--payload", `{"a":1}`},
			check: func(t *testing.T, o *RegisterOptions) {
				if o.RegistrationID != "d1" || o.SymmetricKey != key || o.IDScope != "0ne1" || !o.Connect || o.Message != "hi" || !o.MessageGiven ||
					string(o.Payload) != `{"a":1}` || o.HostGiven || o.ProvisioningHost != "global.azure-devices-provisioning.net" || o.TPM {
					t.Errorf("options %+v", o)
				}
			},
		},
		{
			name: "host",
			args: []string{"--registration-id", "d1", "--group-key", key, "--provisioning-host", "localhost:8443"},
			check: func(t *testing.T, o *RegisterOptions) {
				if !o.HostGiven || o.ProvisioningHost != "localhost:8443" || o.GroupKey != key {
					t.Errorf("options %+v", o)
				}
			},
		},
		{
			name: "certificate",
			args: []string{"--certificate", "d.pem", "--key", "d.key"},
			check: func(t *testing.T, o *RegisterOptions) {
				if o.Certificate != "d.pem" || o.Key != "d.key" || o.RegistrationID != "" {
					t.Errorf("options %+v", o)
				}
			},
		},
		{
			name: "TPM simulator implies --tpm",
			args: []string{"--tpm-simulator", "./tpm"},
			check: func(t *testing.T, o *RegisterOptions) {
				if !o.TPM || o.TPMFlags.Simulator != "./tpm" || !o.TPMFlags.Create || o.TPMFlags.Spec != "" {
					t.Errorf("options %+v", o)
				}
			},
		},
		{
			name: "TPM from the environment",
			args: []string{"--tpm"},
			env:  map[string]string{"DPSCTL_TPM": "swtpm:127.0.0.1:2321"},
			check: func(t *testing.T, o *RegisterOptions) {
				if !o.TPM || o.TPMFlags.Spec != "swtpm:127.0.0.1:2321" {
					t.Errorf("options %+v", o)
				}
			},
		},
		// --connect reaches the hub over MQTT unless told otherwise: over
		// WebSockets after --transport mqtt-ws, over TLS otherwise (TPM
		// devices registered over HTTPS included).
		hubTransport("default after https", "mqtt", true, "--tpm", "--connect"),
		hubTransport("default after https, staying", "mqtt", true, "--tpm", "--connect", "--stay"),
		hubTransport("default after mqtt", "mqtt", true, "--registration-id", "d", "--symmetric-key", key, "--transport", "mqtt", "--connect"),
		hubTransport("default after mqtt-ws", "mqtt-ws", true, "--registration-id", "d", "--symmetric-key", key, "--transport", "mqtt-ws", "--connect"),
		hubTransport("https given", "https", false, "--tpm", "--connect", "--hub-transport", "https"),
		hubTransport("mqtt-ws given after mqtt", "mqtt-ws", false, "--registration-id", "d", "--symmetric-key", key, "--transport", "mqtt", "--connect", "--hub-transport", "mqtt-ws"),
		{name: "no credential", args: []string{"--registration-id", "d"}, wantErr: "give the device's credential"},
		{name: "two credentials", args: []string{"--registration-id", "d", "--symmetric-key", key, "--tpm"}, wantErr: "give one credential"},
		{name: "two TPMs", args: []string{"--tpm-device", "/dev/tpm0", "--tpm-tcp", "h:1"}, wantErr: "name one TPM"},
		{name: "certificate without key", args: []string{"--certificate", "d.pem"}, wantErr: "--certificate and --key go together"},
		{name: "key without certificate", args: []string{"--key", "d.key", "--tpm"}, wantErr: "--certificate and --key go together"},
		{name: "symmetric key without ID", args: []string{"--symmetric-key", key}, wantErr: "--registration-id is required"},
		{name: "bad key", args: []string{"--registration-id", "d", "--group-key", "not base64!"}, wantErr: "--group-key: not a base64 key"},
		{name: "message without connect", args: []string{"--tpm", "--message", "x"}, wantErr: "add --connect"},
		{name: "bad payload", args: []string{"--tpm", "--payload", "{x"}, wantErr: "--payload is not valid JSON"},
		{name: "empty host", args: []string{"--tpm", "--provisioning-host", ""}, wantErr: "--provisioning-host needs a host name"},
		{name: "arguments", args: []string{"d1", "--tpm"}, wantErr: "register takes no arguments"},
		{name: "unknown transport", args: []string{"--registration-id", "d", "--symmetric-key", key, "--transport", "amqp"}, wantErr: `--transport "amqp": use https, mqtt or mqtt-ws`},
		{name: "TPM over MQTT", args: []string{"--tpm", "--transport", "mqtt"}, wantErr: "TPM attestation needs --transport https"},
		{name: "TPM over MQTT over WebSockets", args: []string{"--tpm-tcp", "h:1", "--transport", "mqtt-ws"}, wantErr: "TPM attestation needs --transport https"},
		{name: "hub transport without connect", args: []string{"--tpm", "--hub-transport", "mqtt"}, wantErr: "--hub-transport is for --connect"},
		{name: "unknown hub transport", args: []string{"--tpm", "--connect", "--hub-transport", "amqp-ws"}, wantErr: `--hub-transport "amqp-ws"`},
		{name: "stay without connect", args: []string{"--tpm", "--stay"}, wantErr: "add --connect"},
		{name: "stay over HTTPS", args: []string{"--tpm", "--connect", "--hub-transport", "https", "--stay"}, wantErr: "--stay needs --hub-transport mqtt or mqtt-ws"},
		{name: "timeout without stay", args: []string{"--tpm", "--connect", "--timeout", "5s"}, wantErr: "--timeout bounds --stay"},
		{name: "negative timeout", args: []string{"--tpm", "--connect", "--hub-transport", "mqtt", "--stay", "--timeout", "-1s"}, wantErr: "--timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DPSCTL_TPM", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := cmdtest.Parse(t, NewCmdRegister, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

// hubTransport is a case of TestNewCmdRegister whose hub transport must
// be want, defaulted or given.
func hubTransport(name, want string, defaulted bool, args ...string) parseCase {
	return parseCase{name: "hub transport: " + name, args: args, check: func(t *testing.T, o *RegisterOptions) {
		if o.HubTransport != want || o.HubTransportDefaulted != defaulted {
			t.Errorf("hub transport %q (defaulted %v), want %q (defaulted %v)", o.HubTransport, o.HubTransportDefaulted, want, defaulted)
		}
	}}
}

// isolate points the configuration and the data directory at temporary
// directories and returns the data directory.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, e := range []string{config.EnvConnectionString, config.EnvCAFile, config.EnvProfile, config.EnvOutput, config.EnvQuiet, config.EnvConfigFile, "DPSCTL_TPM"} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	data := filepath.Join(dir, "dps")
	t.Setenv(config.EnvDataDir, data)
	return data
}

// enroll opens the data directory, runs fn with a service client and
// closes it again.
func enroll(t *testing.T, dataDir string, fn func(c *dps.Client, inst *server.Instance)) {
	t.Helper()
	inst, err := server.Open(server.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	c, err := dps.New(dps.Options{ConnectionString: inst.Info().ConnectionString, HTTPClient: &http.Client{Transport: server.Transport(inst.Handler())}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	fn(c, inst)
}

func mustPut(t *testing.T, c *dps.Client, e *model.IndividualEnrollment) *model.IndividualEnrollment {
	t.Helper()
	got, err := c.PutEnrollment(context.Background(), e, "")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func symmetric(id, status string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{
		RegistrationID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ProvisioningStatus: status,
			Attestation:        &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}},
		},
	}
}

type run struct {
	out, errOut string
	err         error
}

func runCmd(t *testing.T, tty bool, args ...string) run {
	t.Helper()
	f, s := cmdtest.NewFactory(t, nil, tty)
	err := cmdtest.Run(t, f, NewCmdRegister(f, nil), args...)
	return run{s.Out.String(), s.ErrOut.String(), err}
}

func TestRegisterEmbedded(t *testing.T) {
	data := isolate(t)
	var ind, off *model.IndividualEnrollment
	var group *model.EnrollmentGroup
	pki := certstest.New(t)
	enroll(t, data, func(c *dps.Client, _ *server.Instance) {
		ind = mustPut(t, c, symmetric("dev-1", ""))
		off = mustPut(t, c, symmetric("dev-off", model.StatusDisabled))
		var err error
		group, err = c.PutGroup(context.Background(), &model.EnrollmentGroup{
			EnrollmentGroupID: "fleet",
			EnrollmentCommon:  model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}}},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutGroup(context.Background(), &model.EnrollmentGroup{
			EnrollmentGroupID: "factory",
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
				SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(pki.Intermediate.Cert)}}}}},
		}, ""); err != nil {
			t.Fatal(err)
		}
	})
	dev := pki.Device(t, "cam-7")

	tests := []struct {
		name  string
		tty   bool
		args  []string
		check func(t *testing.T, r run)
	}{
		{
			name: "symmetric key connects",
			tty:  true,
			args: []string{"--registration-id", "dev-1", "--symmetric-key", "KEY", "--connect"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				for _, want := range []string{"REGISTRATION ID  dev-1", "STATUS           assigned", "ASSIGNED HUB     localhost", "ATTESTATION      symmetricKey"} {
					if !strings.Contains(r.out, want) {
						t.Errorf("stdout lacks %q:\n%s", want, r.out)
					}
				}
				// --connect goes over MQTT by default.
				for _, want := range []string{"Registering dev-1 (symmetricKey attestation, ID scope 0ne", "served by this command at 127.0.0.1:", "Assigned to localhost as device dev-1", "Connected to localhost as dev-1 over mqtt and sent a message"} {
					if !strings.Contains(r.errOut, want) {
						t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
					}
				}
			},
		},
		{
			name: "group key, JSON, hub over HTTPS",
			args: []string{"--registration-id", "sensor-9", "--group-key", "GROUPKEY", "--connect", "--hub-transport", "https", "-o", "json", "--quiet"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				var res model.DeviceRegistrationResult
				if err := json.Unmarshal([]byte(r.out), &res); err != nil {
					t.Fatal(err)
				}
				if res.Status != "assigned" || res.DeviceID != "sensor-9" || res.SymmetricKey == nil || res.SymmetricKey.EnrollmentGroupID != "fleet" {
					t.Errorf("result %s", r.out)
				}
				if r.errOut != "" {
					t.Errorf("quiet run printed %q", r.errOut)
				}
			},
		},
		{
			name: "X.509 group device, tab-separated",
			args: []string{"--certificate", dev.CertPath, "--key", dev.KeyPath, "--connect", "--message", "frame 1"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.HasPrefix(r.out, "cam-7\tassigned\tinitialAssignment\tlocalhost\tcam-7\tx509\tfactory\t") {
					t.Errorf("stdout %q", r.out)
				}
				if !strings.Contains(r.errOut, "Connected to localhost as cam-7 over mqtt and sent a message (7 bytes)") {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
		{
			name: "symmetric key over MQTT, hub over MQTT",
			args: []string{"--registration-id", "dev-1", "--symmetric-key", "KEY", "--transport", "mqtt", "--connect", "-o", "json"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.Contains(r.out, `"assignedHub": "localhost"`) {
					t.Errorf("stdout %q", r.out)
				}
				for _, want := range []string{"served by this command at 127.0.0.1:", " over mqtt\n", "Connected to localhost as dev-1 over mqtt and sent a message"} {
					if !strings.Contains(r.errOut, want) {
						t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
					}
				}
			},
		},
		{
			name: "X.509 over MQTT over WebSockets, stays for the time given",
			args: []string{"--certificate", dev.CertPath, "--key", dev.KeyPath, "--transport", "mqtt-ws", "--connect", "--stay", "--timeout", "1ms", "--quiet"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				// The twin the device reads when it connects.
				if !strings.Contains(r.out, "desired properties (version 1): {") {
					t.Errorf("stdout %q", r.out)
				}
			},
		},
		{
			name: "wrong key over MQTT is refused",
			args: []string{"--registration-id", "dev-1", "--symmetric-key", "OFFKEY", "--transport", "mqtt-ws"},
			check: func(t *testing.T, r run) {
				var ve *cmdutil.VerificationError
				if !errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "device registration refused") || !strings.Contains(r.err.Error(), "401") {
					t.Fatalf("err %v", r.err)
				}
			},
		},
		{
			name: "wrong key is refused",
			args: []string{"--registration-id", "dev-1", "--symmetric-key", "OFFKEY"},
			check: func(t *testing.T, r run) {
				var ve *cmdutil.VerificationError
				if !errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "device registration refused") || !strings.Contains(r.err.Error(), "401") {
					t.Fatalf("err %v", r.err)
				}
				if r.out != "" {
					t.Errorf("stdout %q", r.out)
				}
			},
		},
		{
			name: "disabled prints the state and is refused",
			args: []string{"--registration-id", "dev-off", "--symmetric-key", "OFFKEY", "-o", "json"},
			check: func(t *testing.T, r run) {
				var ve *cmdutil.VerificationError
				if !errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "disabled") {
					t.Fatalf("err %v", r.err)
				}
				if !strings.Contains(r.out, `"status": "disabled"`) {
					t.Errorf("stdout %q", r.out)
				}
			},
		},
		{
			name: "certificate CN differs from the registration ID",
			args: []string{"--certificate", dev.CertPath, "--key", dev.KeyPath, "--registration-id", "cam-8"},
			check: func(t *testing.T, r run) {
				var ve *cmdutil.VerificationError
				if !errors.As(r.err, &ve) {
					t.Fatalf("err %v", r.err)
				}
				if !strings.Contains(r.errOut, `Warning: the registration ID "cam-8" is not the certificate's CN "cam-7"`) {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.NewReplacer("GROUPKEY", group.Attestation.SymmetricKey.PrimaryKey, "OFFKEY", off.Attestation.SymmetricKey.PrimaryKey, "KEY", ind.Attestation.SymmetricKey.PrimaryKey).Replace(a)
			}
			tt.check(t, runCmd(t, tt.tty, args...))
		})
	}

	// What the hub recorded: dev-1 and cam-7 connected twice over MQTT
	// and left, sensor-9 posted once over HTTPS (activity, with no
	// connection state: IoT Hub follows it for MQTT and AMQP only).
	enroll(t, data, func(_ *dps.Client, inst *server.Instance) {
		for _, want := range []struct {
			id, state string
			messages  int64
		}{{"dev-1", "Disconnected", 2}, {"cam-7", "Disconnected", 2}, {"sensor-9", "Disconnected", 1}} {
			d, err := inst.HubDevice(context.Background(), "localhost", want.id)
			if err != nil {
				t.Fatal(err)
			}
			if d.ConnectionState != want.state || d.DeviceToCloudMessageCount != want.messages || d.LastActivityTime == "" || d.ConnectionStateUpdatedTime == "" {
				t.Errorf("hub device %s: %+v, want %s with %d messages", want.id, d, want.state, want.messages)
			}
		}
	})
}

// TestRegisterWithServe uses a service already serving the data directory,
// found by its recorded address, and the same service named with
// --provisioning-host.
func TestRegisterWithServe(t *testing.T) {
	data := isolate(t)
	// The command finds the running service by the address it records.
	srv := servertest.Start(t, server.Options{DataDir: data})
	inst := srv.Instance
	c, err := dps.New(dps.Options{ConnectionString: inst.Info().ConnectionString, HTTPClient: &http.Client{Transport: server.Transport(inst.Handler())}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := mustPut(t, c, symmetric("dev-2", ""))
	k := e.Attestation.SymmetricKey.PrimaryKey
	port := srv.Port()

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, r run)
	}{
		{
			// This service serves no MQTT: --connect posts over HTTPS.
			name: "found by its address",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--connect"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.Contains(r.errOut, "dpsctl serve at "+srv.Addr) || !strings.Contains(r.errOut, "Connected to localhost as dev-2 and sent a message") {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
		{
			name: "found by its address, staying needs MQTT",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--connect", "--stay", "--timeout", "1ms"},
			check: func(t *testing.T, r run) {
				if r.err == nil || !strings.Contains(r.err.Error(), "does not serve MQTT") {
					t.Fatalf("err %v", r.err)
				}
			},
		},
		{
			// Named by address, the service's MQTT port is not known.
			name: "named by address, with the CA file",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--connect", "--hub-transport", "https", "--provisioning-host", "127.0.0.1:" + port,
				"--id-scope", inst.IDScope(), "--ca-file", inst.CAFile()},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.Contains(r.errOut, "Connected to localhost as dev-2") {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
		{
			name: "untrusted without the CA file",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--provisioning-host", "localhost:" + port, "--id-scope", inst.IDScope()},
			check: func(t *testing.T, r run) {
				var ve *cmdutil.VerificationError
				if r.err == nil || errors.As(r.err, &ve) || !strings.Contains(r.err.Error(), "certificate") {
					t.Fatalf("err %v", r.err)
				}
			},
		},
		{
			name: "named by host name",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--connect", "--hub-transport", "https", "--provisioning-host", "localhost:" + port,
				"--id-scope", inst.IDScope(), "--ca-file", inst.CAFile()},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.Contains(r.errOut, "Connected to localhost as dev-2") {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
		{
			name: "host without ID scope",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--provisioning-host", "localhost:" + port},
			check: func(t *testing.T, r run) {
				var fe *cmdutil.FlagError
				if !errors.As(r.err, &fe) || !strings.Contains(r.err.Error(), "--id-scope is required") {
					t.Fatalf("err %v", r.err)
				}
			},
		},
		{
			name: "connection string host",
			args: []string{"--registration-id", "dev-2", "--symmetric-key", k, "--id-scope", inst.IDScope(),
				"--connection-string", inst.Info().ConnectionString, "--ca-file", inst.CAFile(), "-o", "json"},
			check: func(t *testing.T, r run) {
				if r.err != nil {
					t.Fatal(r.err)
				}
				if !strings.Contains(r.errOut, "with localhost:"+port) {
					t.Errorf("stderr %q", r.errOut)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, runCmd(t, false, tt.args...))
		})
	}
}

func TestEndpointDefaults(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"mydps.azure-devices-provisioning.net", true},
		{"MyDPS.Azure-Devices-Provisioning.NET:443", true},
		{"localhost:8443", false},
		{"dps.lab.example", false},
	}
	for _, tt := range tests {
		if got := shared.IsAzureDPSHost(tt.host); got != tt.want {
			t.Errorf("isAzureDPSHost(%q) = %v", tt.host, got)
		}
	}
}
