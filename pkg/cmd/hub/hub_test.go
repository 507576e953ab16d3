package hub

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// localData points the configuration at a fresh data directory with the
// default hub and one device in its registry.
func localData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(config.EnvDataDir, dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("DPSCTL_CONNECTION_STRING", "")
	inst, err := server.Open(server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	d := linkedhub.Device{
		HubHostName: "localhost", DeviceID: "dev-1", RegistrationID: "dev-1", Status: "enabled",
		AuthenticationType: linkedhub.AuthSAS, PrimaryKey: "cHJpbWFyeS1rZXk=", SecondaryKey: "c2Vjb25kYXJ5LWtleQ==",
		ConnectionState: linkedhub.ConnectionConnected, LastActivityTime: "2025-01-02T03:04:05.0000000Z",
		DeviceToCloudMessageCount: 3, Tags: json.RawMessage(`{"site":"lab"}`), Desired: json.RawMessage(`{"rate":5}`),
	}
	if err := inst.PutHubDevice(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHubCommands(t *testing.T) {
	localData(t)
	steps := []struct {
		name       string
		tty        bool
		args       []string
		wantOut    []string
		notOut     []string
		wantErrOut string
		wantErr    string
		usageErr   bool
	}{
		{name: "list the default hub", args: []string{"list"}, wantOut: []string{"localhost\t1\ttrue\t1\n"}},
		{name: "link", args: []string{"link", "hub-b.lab.example", "--weight", "3"}, wantOut: []string{"hub-b.lab.example\tHostName=hub-b.lab.example;SharedAccessKeyName=iothubowner;SharedAccessKey=***\t3\ttrue\t0"}, wantErrOut: `Linked IoT hub "hub-b.lab.example"`},
		{name: "link again updates", args: []string{"link", "HUB-B.lab.example", "--weight", "0", "--apply-allocation-policy=false"}, wantOut: []string{"hub-b.lab.example\t", "\t0\tfalse\t0"}, wantErrOut: `Updated IoT hub "hub-b.lab.example"`},
		{name: "update the weight only", args: []string{"update", "hub-b.lab.example", "--weight", "7"}, wantOut: []string{"hub-b.lab.example\t", "\t7\tfalse\t0"}, wantErrOut: `Updated IoT hub "hub-b.lab.example"`},
		{name: "update the flag only", args: []string{"update", "hub-b", "--apply-allocation-policy=true"}, wantOut: []string{"\t7\ttrue\t0"}},
		{name: "update back", args: []string{"update", "hub-b.lab.example", "--weight", "0", "--apply-allocation-policy=false"}, wantOut: []string{"\t0\tfalse\t0"}},
		{name: "update needs a change", args: []string{"update", "hub-b.lab.example"}, usageErr: true, wantErr: "--weight or --apply-allocation-policy"},
		{name: "update a hub not linked", args: []string{"update", "nowhere.example", "--weight", "2"}, wantErr: `IoT hub "nowhere.example" is not linked`},
		{name: "update a bad weight", args: []string{"update", "hub-b.lab.example", "--weight", "-1"}, usageErr: true, wantErr: "--weight"},
		{name: "link by connection string is for Azure", args: []string{"link", "hub-c.lab.example", "--connection-string", "HostName=hub-c.lab.example;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5"}, usageErr: true, wantErr: "Azure"},
		{name: "list json", args: []string{"list", "-o", "json"}, wantOut: []string{`"hostName": "hub-b.lab.example"`, `"allocationWeight": 0`, `"applyAllocationPolicy": false`, `SharedAccessKey=***`, `"devices": 1`}},
		{name: "list json with keys", args: []string{"list", "-o", "json", "--show-keys"}, notOut: []string{"***"}},
		{name: "bad weight", args: []string{"link", "x.example", "--weight", "1001"}, usageErr: true, wantErr: "--weight"},
		{name: "bad host name", args: []string{"link", "x.example:443"}, usageErr: true, wantErr: "without scheme, port or path"},
		{name: "device list", args: []string{"device", "list"}, wantOut: []string{"dev-1\tlocalhost\tenabled\tConnected\tSas\t2025-01-02T03:04:05Z\t0\n"}},
		{name: "device list tty", tty: true, args: []string{"device", "list"}, wantOut: []string{"DEVICE ID", "CONNECTION STATE", "AUTHENTICATION", "LAST ACTIVITY", "C2D MESSAGES", "dev-1"}},
		{name: "device list of an empty hub", args: []string{"device", "list", "--hub", "hub-b.lab.example", "-o", "json"}, wantOut: []string{"[]"}},
		{name: "device show", tty: true, args: []string{"device", "show", "DEV-1"}, wantOut: []string{"DEVICE ID", "dev-1", "PRIMARY KEY", "***", `{"site":"lab"}`, `{"rate":5}`, "D2C MESSAGES"}, notOut: []string{"cHJpbWFyeS1rZXk="}},
		{name: "device show json with keys", args: []string{"device", "show", "dev-1", "--hub", "localhost", "-o", "json", "--show-keys"}, wantOut: []string{`"primaryKey": "cHJpbWFyeS1rZXk="`, `"deviceToCloudMessageCount": 3`, `"connectionState": "Connected"`}},
		{name: "device show missing", args: []string{"device", "show", "nobody"}, wantErr: `there is no device "nobody" in any local IoT hub`},
		{name: "device show in the wrong hub", args: []string{"device", "show", "dev-1", "--hub", "hub-b.lab.example"}, wantErr: `in IoT hub hub-b.lab.example`},
		{name: "unlink needs --yes", args: []string{"unlink", "hub-b.lab.example"}, usageErr: true, wantErr: "--yes"},
		{name: "unlink", args: []string{"unlink", "hub-b.lab.example", "nowhere.example", "--yes"}, wantErrOut: `Unlinked IoT hub "hub-b.lab.example"`, wantErr: `IoT hub "nowhere.example" is not linked`},
		{name: "list after unlink", args: []string{"list"}, wantOut: []string{"localhost\t"}, notOut: []string{"hub-b"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, st.tty)
			err := cmdtest.Run(t, f, NewCmdHub(f), st.args...)
			f.Close()
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatal(err)
			case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
				t.Fatalf("err = %v, want %q", err, st.wantErr)
			}
			var fe *cmdutil.FlagError
			if st.usageErr != errors.As(err, &fe) {
				t.Fatalf("usage error %v, want %v: %v", !st.usageErr, st.usageErr, err)
			}
			for _, w := range st.wantOut {
				if !strings.Contains(s.Out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, s.Out)
				}
			}
			for _, w := range st.notOut {
				if strings.Contains(s.Out.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, s.Out)
				}
			}
			if !strings.Contains(s.ErrOut.String(), st.wantErrOut) {
				t.Errorf("stderr lacks %q:\n%s", st.wantErrOut, s.ErrOut)
			}
		})
	}
}

// With a connection string configured, the hub commands still manage the
// local service, and say so.
func TestHubCommandsSayTheyAreLocal(t *testing.T) {
	localData(t)
	t.Setenv("DPSCTL_CONNECTION_STRING", "HostName=dps.example.test;SharedAccessKeyName=o;SharedAccessKey=a2V5")
	f, s := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdHub(f), "list"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ErrOut.String(), "managing the hubs of the local provisioning service") || !strings.Contains(s.Out.String(), "localhost") {
		t.Fatalf("stderr %q stdout %q", s.ErrOut, s.Out)
	}
	f, s = cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdHub(f), "list", "--quiet"); err != nil || s.ErrOut.Len() != 0 {
		t.Fatalf("quiet: %v %q", err, s.ErrOut)
	}
}
