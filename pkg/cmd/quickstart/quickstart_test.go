package quickstart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

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

type run struct {
	out, errOut string
	err         error
}

func runCmd(t *testing.T, args ...string) run {
	t.Helper()
	f, s := cmdtest.NewFactory(t, nil, false)
	err := cmdtest.Run(t, f, NewCmdQuickstart(f, nil), args...)
	return run{s.Out.String(), s.ErrOut.String(), err}
}

func TestNewCmdQuickstart(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *QuickstartOptions)
		wantErr string
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o *QuickstartOptions) {
			if o.TPMGiven || o.SkipTPM || !o.TPM.Create || o.TPM.Simulator != "" {
				t.Errorf("options %+v", o)
			}
		}},
		{name: "swtpm", args: []string{"--tpm-tcp", "127.0.0.1:2321"}, check: func(t *testing.T, o *QuickstartOptions) {
			if !o.TPMGiven || o.TPM.TCP != "127.0.0.1:2321" {
				t.Errorf("options %+v", o)
			}
		}},
		{name: "two TPMs", args: []string{"--tpm-tcp", "h:1", "--tpm-simulator", "d"}, wantErr: "name one TPM"},
		{name: "skip and name", args: []string{"--skip-tpm", "--tpm-device", "/dev/tpm0"}, wantErr: "--skip-tpm leaves the TPM out"},
		{name: "arguments", args: []string{"now"}, wantErr: "quickstart takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdQuickstart, tt.args...)
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

// TestQuickstart runs the tutorial twice on one data directory: both runs
// provision the same devices, which end up assigned and connected.
func TestQuickstart(t *testing.T) {
	data := isolate(t)
	args := []string{"-o", "json"}
	if !tpm.SimulatorAvailable {
		args = append(args, "--skip-tpm")
	}
	want := []string{X509RegistrationID, GroupDeviceID}
	if tpm.SimulatorAvailable {
		want = append([]string{TPMRegistrationID}, want...)
	}
	var firstEK string
	for run := 1; run <= 2; run++ {
		r := runCmd(t, args...)
		if r.err != nil {
			t.Fatalf("run %d: %v\n%s", run, r.err, r.errOut)
		}
		var devs []Device
		if err := json.Unmarshal([]byte(r.out), &devs); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, r.out)
		}
		// X.509 and symmetric-key devices register over MQTT, and one
		// message goes the whole way over MQTT to the event stream.
		for _, w := range []string{"quickstart-x509: x509 attestation over MQTT", "symmetricKey attestation over MQTT",
			`Monitored quickstart-x509 on localhost's event stream: {"temperature":21,"sentBy":"dpsctl quickstart"}`} {
			if !strings.Contains(r.errOut, w) {
				t.Errorf("run %d: stderr lacks %q:\n%s", run, w, r.errOut)
			}
		}
		if len(devs) != len(want) {
			t.Fatalf("run %d: %d devices, want %d", run, len(devs), len(want))
		}
		for i, d := range devs {
			if d.RegistrationID != want[i] || d.Registration.Status != model.RegAssigned || d.Registration.DeviceID != want[i] || d.Registration.AssignedHub == "" {
				t.Errorf("run %d: device %+v", run, d)
			}
			// Each run, every device posts a message over HTTPS (activity
			// only: IoT Hub follows the connection state of MQTT and AMQP
			// devices); the X.509 device then sends one more over MQTT and
			// leaves. So all are Disconnected, their messages counted.
			state, messages := "Disconnected", int64(run)
			if d.RegistrationID == X509RegistrationID {
				messages = int64(2 * run)
			}
			h := d.HubDevice
			if h == nil || h.ConnectionState != state || h.DeviceToCloudMessageCount != messages {
				t.Errorf("run %d: hub device of %s: %+v, want %s with %d messages", run, d.RegistrationID, h, state, messages)
			}
		}
		created := strings.Contains(r.errOut, "Created a test PKI")
		if created != (run == 1) {
			t.Errorf("run %d: stderr %q", run, r.errOut)
		}
		if tpm.SimulatorAvailable {
			seed, err := os.ReadFile(filepath.Join(data, WorkDirName, "tpm", "simulator-seed"))
			if err != nil {
				t.Fatal(err)
			}
			if run == 1 {
				firstEK = string(seed)
			} else if string(seed) != firstEK {
				t.Error("the simulated TPM changed between runs")
			}
		}
	}
}

// TestQuickstartTable checks the table form (tab-separated off a
// terminal) and the note about the TPM.
func TestQuickstartTable(t *testing.T) {
	isolate(t)
	r := runCmd(t, "--skip-tpm")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.errOut, "Skipping the TPM device (--skip-tpm)") || !strings.Contains(r.errOut, "served by this command") {
		t.Errorf("stderr %q", r.errOut)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout %q", r.out)
	}
	for _, want := range []string{"quickstart-x509\tx509\tindividual\tassigned\tlocalhost\tquickstart-x509\tselfSigned\tDisconnected\t2\t", "quickstart-group-device-1\tsymmetricKey\tgroup quickstart-group\tassigned\tlocalhost\tquickstart-group-device-1\tsas\tDisconnected\t1\t"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
}
