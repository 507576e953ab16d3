package show

import (
	"encoding/json"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestNewCmdShow(t *testing.T) {
	cmdtest.IDLines(t, NewCmdShow, func(o *ShowOptions) string { return o.GroupID }, "g1")
	for _, keys := range []bool{false, true} {
		args := []string{"g1"}
		if keys {
			args = append(args, "--show-keys")
		}
		if got, err := cmdtest.Parse(t, NewCmdShow, args...); err != nil || got.GroupID != "g1" || got.ShowKeys != keys {
			t.Fatalf("%v: got %+v, %v", args, got, err)
		}
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
