package attestation

import (
	"context"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

func TestNewCmdAttestation(t *testing.T) {
	cmdtest.IDLines(t, NewCmdAttestation, func(o *AttestationOptions) string { return o.RegistrationID }, "dev-1")
}

func TestAttestationRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	_, err := c.PutEnrollment(context.Background(), &model.IndividualEnrollment{
		RegistrationID: "dev-1",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
			SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	cmdtest.Goldens(t, c, NewCmdAttestation, []cmdtest.GoldenRun{
		{Name: "table tty masked", TTY: true, Args: []string{"dev-1"}},
		{Name: "table not tty masked", Args: []string{"dev-1"}},
		{Name: "json masked", Args: []string{"dev-1", "-o", "json"}},
		{Name: "json show keys", Args: []string{"dev-1", "-o", "json", "--show-keys"}},
		{Name: "yaml show keys", Args: []string{"dev-1", "-o", "yaml", "--show-keys"}},
		{Name: "query primary key", Args: []string{"dev-1", "--show-keys", "--query", "symmetricKey.primaryKey", "-o", "tsv"}},
	}, nil)
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), "nope"); !dps.IsNotFound(err) || err.Error() != `enrollment "nope" not found` {
		t.Fatalf("not found: %v", err)
	}
}
