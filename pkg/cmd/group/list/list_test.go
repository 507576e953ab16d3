package list

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestNewCmdList(t *testing.T) {
	cmdtest.PagingLines(t, NewCmdList, func(o *ListOptions) (int, int) { return o.PageSize, o.Top })
	_, err := cmdtest.Parse(t, NewCmdList, "extra")
	cmdtest.WantUsageError(t, err, "")
}

func TestListRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	ca := grouptest.NewCA(t)
	grouptest.SymmetricGroup(t, c, "edge-fleet", func(g *model.EnrollmentGroup) {
		g.IoTHubs = []string{"hub1.azure-devices.net", "hub2.azure-devices.net"}
		g.AllocationPolicy = model.AllocationHashed
	})
	grouptest.SigningGroup(t, c, "factory-a", ca.Intermediate.Cert, func(g *model.EnrollmentGroup) {
		g.ProvisioningStatus = model.StatusDisabled
	})
	grouptest.Put(t, c, &model.EnrollmentGroup{
		EnrollmentGroupID: "factory-b",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{
			Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "contoso-root"}}}},
	}, nil)
	_, empty := cmdtest.NewServer(t)
	scrub := grouptest.CertScrubs(ca.Intermediate.Cert)
	cmdtest.Goldens(t, c, NewCmdList, []cmdtest.GoldenRun{
		{Name: "table tty", TTY: true},
		{Name: "table not tty"},
		{Name: "tsv on tty", TTY: true, Args: []string{"-o", "tsv"}},
		{Name: "json", Args: []string{"-o", "json"}},
		{Name: "yaml", Args: []string{"-o", "yaml"}},
		{Name: "top", Args: []string{"--top", "2", "-o", "json", "--query", "[].enrollmentGroupId"}},
		{Name: "small pages", Args: []string{"--page-size", "1", "--query", "[].enrollmentGroupId"}},
		{Name: "query filter", Args: []string{"--query", "[?attestation.type=='x509'].[enrollmentGroupId, provisioningStatus]"}},
		{Name: "empty table", Client: empty, TTY: true, WantErrOut: "no enrollment groups found\n"},
		{Name: "empty json", Client: empty, Args: []string{"-o", "json"}},
		{Name: "empty yaml", Client: empty, Args: []string{"-o", "yaml"}},
	}, cmdtest.ScrubETags, scrub...)
}

// List streams: more groups than one page arrive complete and in order.
func TestListPages(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	for i := range 12 {
		grouptest.SymmetricGroup(t, c, fmt.Sprintf("g-%02d", i), nil)
	}
	f, s := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdList(f, nil), "--page-size", "5", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []model.EnrollmentGroup
	if err := json.Unmarshal(s.Out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("%d groups, want 12", len(got))
	}
	for i, g := range got {
		if want := fmt.Sprintf("g-%02d", i); g.EnrollmentGroupID != want {
			t.Fatalf("item %d is %s, want %s", i, g.EnrollmentGroupID, want)
		}
	}
}
