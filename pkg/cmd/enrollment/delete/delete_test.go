package delete

import (
	"context"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func seed(t *testing.T, c *dps.Client, ids ...string) map[string]string {
	t.Helper()
	etags := map[string]string{}
	for _, id := range ids {
		e, err := c.PutEnrollment(context.Background(), &model.IndividualEnrollment{
			RegistrationID:   id,
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}}},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		etags[id] = e.ETag
	}
	return etags
}

var exists = cmdtest.Exists((*dps.Client).GetEnrollment)

func TestNewCmdDelete(t *testing.T) {
	cmdtest.DeleteLines(t, NewCmdDelete, func(o *DeleteOptions) ([]string, bool, string) { return o.RegistrationIDs, o.Yes, o.ETag },
		"--etag applies to one enrollment", "give at least one registration ID")
}

func TestDeleteRun(t *testing.T) {
	setup := func(t *testing.T) *dps.Client {
		_, c := cmdtest.NewServer(t)
		seed(t, c, "dev-1", "dev-2")
		return c
	}
	cmdtest.Deletes(t, NewCmdDelete, setup, exists, []cmdtest.DeleteRun{
		{Name: "not a terminal needs --yes", Args: []string{"dev-1"}, WantErr: "--yes is required", Usage: true, Kept: []string{"dev-1"}},
		{Name: "yes", Args: []string{"dev-1", "--yes"}, WantErrOut: "Deleted enrollment \"dev-1\"\n", Gone: []string{"dev-1"}, Kept: []string{"dev-2"}},
		{Name: "confirmed on a terminal", TTY: true, Input: "y\n", Args: []string{"dev-1", "dev-2"},
			WantErrOut: "Delete 2 enrollments (dev-1, dev-2)? [y/N]: Deleted enrollment \"dev-1\"\nDeleted enrollment \"dev-2\"\n", Gone: []string{"dev-1", "dev-2"}},
		{Name: "declined on a terminal", TTY: true, Input: "n\n", Args: []string{"dev-1"}, WantErr: "cancelled",
			WantErrOut: "Delete enrollment \"dev-1\"? [y/N]: ", Kept: []string{"dev-1"}},
		{Name: "one missing", Args: []string{"dev-1", "nope", "dev-2", "--yes"}, WantErr: `enrollment "nope" not found`,
			WantErrOut: "Deleted enrollment \"dev-1\"\nDeleted enrollment \"dev-2\"\n", Gone: []string{"dev-1", "dev-2"}},
		{Name: "stale etag", Args: []string{"dev-1", "--yes", "--etag", "IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCI="},
			WantErr: `enrollment "dev-1" was changed since it was read`, Kept: []string{"dev-1"}},
	})
}

func TestDeleteWithETag(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	etags := seed(t, c, "dev-1")
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdDelete(f, nil), "dev-1", "--yes", "--etag", etags["dev-1"]); err != nil {
		t.Fatal(err)
	}
	if exists(t, c, "dev-1") {
		t.Fatal("not deleted")
	}
}
