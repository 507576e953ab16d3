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
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestNewCmdShow(t *testing.T) {
	tests := []struct {
		args     []string
		wantID   string
		wantKeys bool
		wantErr  bool
	}{
		{args: []string{"g1"}, wantID: "g1"},
		{args: []string{"g1", "--show-keys"}, wantID: "g1", wantKeys: true},
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
			if err != nil {
				t.Fatal(err)
			}
			if got.GroupID != tt.wantID || got.ShowKeys != tt.wantKeys {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestShowRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	ca := grouptest.NewCA(t)
	grouptest.SymmetricGroup(t, c, "keys", func(g *model.EnrollmentGroup) {
		g.IoTHubs = []string{"hub1.azure-devices.net", "hub2.azure-devices.net"}
		g.AllocationPolicy = model.AllocationHashed
		g.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`),
			Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}}
		g.Capabilities = &model.DeviceCapabilities{IoTEdge: true}
	})
	grouptest.SigningGroup(t, c, "x509", ca.Intermediate.Cert, func(g *model.EnrollmentGroup) {
		g.AllocationPolicy = model.AllocationCustom
		g.CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: "https://example.net/alloc", APIVersion: "2021-10-01"}
		g.ProvisioningStatus = model.StatusDisabled
	})
	scrub := grouptest.CertScrubs(ca.Intermediate.Cert)
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"table tty", true, []string{"keys"}},
		{"table not tty", false, []string{"keys"}},
		{"json", false, []string{"keys", "-o", "json"}},
		{"yaml", false, []string{"keys", "-o", "yaml"}},
		{"json show keys", false, []string{"keys", "-o", "json", "--show-keys"}},
		{"table tty show keys", true, []string{"KEYS", "--show-keys"}},
		{"x509 table tty", true, []string{"x509"}},
		{"x509 table not tty", false, []string{"x509"}},
		{"x509 json", false, []string{"x509", "-o", "json"}},
		{"x509 yaml", false, []string{"x509", "-o", "yaml"}},
		{"query tsv", false, []string{"keys", "--query", "iotHubs", "-o", "tsv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdShow(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(s.Out.String()), scrub...)
		})
	}
}

func TestShowNotFound(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	f, s := cmdtest.NewFactory(t, c, false)
	err := cmdtest.Run(t, f, NewCmdShow(f, nil), "nope")
	if err == nil || err.Error() != `enrollment group "nope" not found` || !dps.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	if s.Out.Len() != 0 {
		t.Fatalf("stdout %q", s.Out)
	}
}
