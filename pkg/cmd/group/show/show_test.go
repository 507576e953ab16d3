package show

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
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
			got, err := cmdtest.Parse(t, NewCmdShow, tt.args...)
			if tt.wantErr {
				cmdtest.WantUsageError(t, err, "")
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
	cmdtest.Goldens(t, c, NewCmdShow, []cmdtest.GoldenRun{
		{Name: "table tty", TTY: true, Args: []string{"keys"}},
		{Name: "table not tty", Args: []string{"keys"}},
		{Name: "json", Args: []string{"keys", "-o", "json"}},
		{Name: "yaml", Args: []string{"keys", "-o", "yaml"}},
		{Name: "json show keys", Args: []string{"keys", "-o", "json", "--show-keys"}},
		{Name: "table tty show keys", TTY: true, Args: []string{"KEYS", "--show-keys"}},
		{Name: "x509 table tty", TTY: true, Args: []string{"x509"}},
		{Name: "x509 table not tty", Args: []string{"x509"}},
		{Name: "x509 json", Args: []string{"x509", "-o", "json"}},
		{Name: "x509 yaml", Args: []string{"x509", "-o", "yaml"}},
		{Name: "query tsv", Args: []string{"keys", "--query", "iotHubs", "-o", "tsv"}},
	}, cmdtest.ScrubETags, scrub...)
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
