package show

import (
	"encoding/json"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdShow(t *testing.T) {
	cmdtest.IDLines(t, NewCmdShow, func(o *ShowOptions) string { return o.RegistrationID }, "dev-1")
}

func TestShowRun(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	ok := grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now)
	ok.DeviceID = "device-one"
	ok.Payload = json.RawMessage(`{"firmware":"2.1"}`)
	grouptest.PutRegistration(t, inst, "fleet", ok)
	grouptest.PutRegistration(t, inst, "", grouptest.Failed("dev-2", 401002, "Invalid certificate.", cmdtest.Now))
	cmdtest.Goldens(t, c, NewCmdShow, []cmdtest.GoldenRun{
		{Name: "table tty", TTY: true, Args: []string{"dev-1"}},
		{Name: "table not tty", Args: []string{"dev-1"}},
		{Name: "json", Args: []string{"DEV-1", "-o", "json"}},
		{Name: "yaml", Args: []string{"dev-1", "-o", "yaml"}},
		{Name: "failed table tty", TTY: true, Args: []string{"dev-2"}},
		{Name: "failed json", Args: []string{"dev-2", "-o", "json"}},
		{Name: "query", Args: []string{"dev-1", "--query", "[assignedHub, deviceId]", "-o", "tsv"}},
	}, nil)
	f, s := cmdtest.NewFactory(t, c, false)
	err := cmdtest.Run(t, f, NewCmdShow(f, nil), "nope")
	if !dps.IsNotFound(err) || err.Error() != `no registration state for "nope" (the device has not registered, or its state was deleted)` {
		t.Fatalf("not found: %v", err)
	}
	if s.Out.Len() != 0 {
		t.Errorf("stdout %q", s.Out)
	}
}
