package list

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestNewCmdList(t *testing.T) {
	tests := []struct {
		args     []string
		pageSize int
		top      int
		wantErr  bool
	}{
		{args: nil},
		{args: []string{"--page-size", "10", "--top", "3"}, pageSize: 10, top: 3},
		{args: []string{"--top", "-1"}, wantErr: true},
		{args: []string{"--page-size", "-1"}, wantErr: true},
		{args: []string{"--page-size", "x"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *ListOptions
			err := cmdtest.Run(t, f, NewCmdList(f, func(o *ListOptions) error { got = o; return nil }), tt.args...)
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
			if got.PageSize != tt.pageSize || got.Top != tt.top {
				t.Fatalf("got %+v", got)
			}
		})
	}
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
	grouptest.Put(t, c, &model.EnrollmentGroup{EnrollmentGroupID: "factory-b", Attestation: &model.AttestationMechanism{
		Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "contoso-root"}}}}, nil)
	_, empty := cmdtest.NewServer(t)
	scrub := grouptest.CertScrubs(ca.Intermediate.Cert)
	tests := []struct {
		name       string
		client     *dps.Client
		tty        bool
		args       []string
		wantErrOut string
	}{
		{name: "table tty", client: c, tty: true},
		{name: "table not tty", client: c},
		{name: "tsv on tty", client: c, tty: true, args: []string{"-o", "tsv"}},
		{name: "json", client: c, args: []string{"-o", "json"}},
		{name: "yaml", client: c, args: []string{"-o", "yaml"}},
		{name: "top", client: c, args: []string{"--top", "2", "-o", "json", "--query", "[].enrollmentGroupId"}},
		{name: "small pages", client: c, args: []string{"--page-size", "1", "--query", "[].enrollmentGroupId"}},
		{name: "query filter", client: c, args: []string{"--query", "[?attestation.type=='x509'].[enrollmentGroupId, provisioningStatus]"}},
		{name: "empty table", client: empty, tty: true, wantErrOut: "no enrollment groups found\n"},
		{name: "empty json", client: empty, args: []string{"-o", "json"}},
		{name: "empty yaml", client: empty, args: []string{"-o", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, tt.client, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdList(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			if s.ErrOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, tt.wantErrOut)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(s.Out.String()), scrub...)
		})
	}
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
