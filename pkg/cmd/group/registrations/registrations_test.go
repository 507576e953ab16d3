package registrations

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdRegistrations(t *testing.T) {
	tests := []struct {
		args    []string
		want    RegistrationsOptions
		wantErr string
	}{
		{args: []string{"g1"}, want: RegistrationsOptions{GroupID: "g1"}},
		{args: []string{"g1", "--top", "5", "--page-size", "2"}, want: RegistrationsOptions{GroupID: "g1", Top: 5, PageSize: 2}},
		{args: []string{}, wantErr: "give one group ID"},
		{args: []string{"a", "b"}, wantErr: "give one group ID"},
		{args: []string{"g1", "--top", "-2"}, wantErr: "--top must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdRegistrations, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil || got.GroupID != tt.want.GroupID || got.Top != tt.want.Top || got.PageSize != tt.want.PageSize {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestRegistrationsRun(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "fleet", nil)
	grouptest.SymmetricGroup(t, c, "empty", nil)
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Failed("dev-2", 401002, "Invalid certificate.", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-3", "hub2.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "", grouptest.Registered("solo", "hub1.azure-devices.net", cmdtest.Now))
	tests := []struct {
		name       string
		tty        bool
		args       []string
		wantErrOut string
	}{
		{name: "table tty", tty: true, args: []string{"fleet"}},
		{name: "table not tty", args: []string{"fleet"}},
		{name: "json", args: []string{"fleet", "-o", "json"}},
		{name: "yaml", args: []string{"FLEET", "-o", "yaml"}},
		{name: "top", args: []string{"fleet", "--top", "2", "--query", "[].registrationId"}},
		{name: "small pages", args: []string{"fleet", "--page-size", "1", "--query", "[].registrationId"}},
		{name: "empty group", tty: true, args: []string{"empty"}, wantErrOut: "no registrations found\n"},
		{name: "empty group json", args: []string{"empty", "-o", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			f.IOStreams.SetTerminalWidth(120)
			if err := cmdtest.Run(t, f, NewCmdRegistrations(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			if s.ErrOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, tt.wantErrOut)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}

	// A group that does not exist is an error, not an empty list.
	f, s := cmdtest.NewFactory(t, c, true)
	err := cmdtest.Run(t, f, NewCmdRegistrations(f, nil), "nope")
	if !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
		t.Fatalf("missing group: %v", err)
	}
	if s.Out.Len() != 0 || s.ErrOut.Len() != 0 {
		t.Errorf("output %q %q", s.Out, s.ErrOut)
	}
}
