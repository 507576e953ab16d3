package list

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdList(t *testing.T) {
	tests := []struct {
		args    []string
		want    ListOptions
		wantErr string
	}{
		{args: nil, want: ListOptions{}},
		{args: []string{"--group", "g1", "--page-size", "10", "--top", "3"}, want: ListOptions{GroupID: "g1", PageSize: 10, Top: 3}},
		{args: []string{"--group", ""}, wantErr: `--group ""`},
		{args: []string{"--group", "a b"}, wantErr: `--group "a b"`},
		{args: []string{"--top", "-1"}, wantErr: "--top must be positive"},
		{args: []string{"--page-size", "-1"}, wantErr: "--page-size must be positive"},
		{args: []string{"g1"}, wantErr: "use --group"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdList, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil || got.GroupID != tt.want.GroupID || got.PageSize != tt.want.PageSize || got.Top != tt.want.Top {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestListRun(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "fleet", nil)
	grouptest.SymmetricGroup(t, c, "lab", nil)
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Failed("dev-2", 401002, "Invalid certificate.", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "lab", grouptest.Registered("lab-1", "hub2.azure-devices.net", cmdtest.Now))
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("solo-%d", i)
		grouptest.Enrollment(t, c, id)
		if i%2 == 1 {
			grouptest.PutRegistration(t, inst, "", grouptest.Registered(id, "hub3.azure-devices.net", cmdtest.Now))
		}
	}
	_, empty := cmdtest.NewServer(t)
	tests := []struct {
		name       string
		client     *dps.Client
		tty        bool
		args       []string
		wantErrOut string
	}{
		{name: "all table tty", client: c, tty: true},
		{name: "all table not tty", client: c},
		{name: "all json", client: c, args: []string{"-o", "json"}},
		{name: "all yaml", client: c, args: []string{"-o", "yaml"}},
		{name: "all top", client: c, args: []string{"--top", "4", "--query", "[].registrationId"}},
		{name: "group table tty", client: c, tty: true, args: []string{"--group", "fleet"}},
		{name: "group json", client: c, args: []string{"--group", "lab", "-o", "json"}},
		{name: "failed only", client: c, args: []string{"--query", "[?status=='failed'].[registrationId, errorCode, errorMessage]"}},
		{name: "empty table", client: empty, tty: true, wantErrOut: "no registrations found\n"},
		{name: "empty json", client: empty, args: []string{"-o", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, tt.client, tt.tty)
			f.IOStreams.SetTerminalWidth(120)
			if err := cmdtest.Run(t, f, NewCmdList(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			if s.ErrOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, tt.wantErrOut)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}

	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdList(f, nil), "--group", "nope"); !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
		t.Fatalf("missing group: %v", err)
	}
}
