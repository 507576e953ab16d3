package attestation

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdAttestation(t *testing.T) {
	cmdtest.IDLines(t, NewCmdAttestation, func(o *AttestationOptions) string { return o.GroupID }, "g1")
}

func TestAttestationRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	ca := grouptest.NewCA(t)
	grouptest.SymmetricGroup(t, c, "keys", nil)
	grouptest.SigningGroup(t, c, "x509", ca.Root.Cert, nil)
	scrub := grouptest.CertScrubs(ca.Root.Cert)
	cmdtest.Goldens(t, c, NewCmdAttestation, []cmdtest.GoldenRun{
		{Name: "keys table tty", TTY: true, Args: []string{"keys"}},
		{Name: "keys table tty show keys", TTY: true, Args: []string{"keys", "--show-keys"}},
		{Name: "keys json", Args: []string{"keys", "-o", "json"}},
		{Name: "keys query show keys", Args: []string{"keys", "--show-keys", "--query", "symmetricKey.primaryKey", "-o", "tsv"}},
		{Name: "x509 table tty", TTY: true, Args: []string{"x509"}},
		{Name: "x509 table not tty", Args: []string{"x509"}},
		{Name: "x509 yaml", Args: []string{"x509", "-o", "yaml"}},
	}, nil, scrub...)
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), "nope"); !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
		t.Fatalf("not found: %v", err)
	}
}
