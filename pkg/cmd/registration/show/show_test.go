package show

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdShow(t *testing.T) {
	tests := []struct {
		args    []string
		wantID  string
		wantErr bool
	}{
		{args: []string{"dev-1"}, wantID: "dev-1"},
		{args: []string{}, wantErr: true},
		{args: []string{"a", "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *ShowOptions
			err := cmdtest.Run(t, f, NewCmdShow(f, func(o *ShowOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error", err)
				}
				return
			}
			if err != nil || got.RegistrationID != tt.wantID {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestShowRun(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	ok := grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now)
	ok.DeviceID = "device-one"
	ok.Payload = json.RawMessage(`{"firmware":"2.1"}`)
	grouptest.PutRegistration(t, inst, "fleet", ok)
	grouptest.PutRegistration(t, inst, "", grouptest.Failed("dev-2", 401002, "Invalid certificate.", cmdtest.Now))
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"table tty", true, []string{"dev-1"}},
		{"table not tty", false, []string{"dev-1"}},
		{"json", false, []string{"DEV-1", "-o", "json"}},
		{"yaml", false, []string{"dev-1", "-o", "yaml"}},
		{"failed table tty", true, []string{"dev-2"}},
		{"failed json", false, []string{"dev-2", "-o", "json"}},
		{"query", false, []string{"dev-1", "--query", "[assignedHub, deviceId]", "-o", "tsv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdShow(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
	f, s := cmdtest.NewFactory(t, c, false)
	err := cmdtest.Run(t, f, NewCmdShow(f, nil), "nope")
	if !dps.IsNotFound(err) || err.Error() != `no registration state for "nope" (the device has not registered, or its state was deleted)` {
		t.Fatalf("not found: %v", err)
	}
	if s.Out.Len() != 0 {
		t.Errorf("stdout %q", s.Out)
	}
}
