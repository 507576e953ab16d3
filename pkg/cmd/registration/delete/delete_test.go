package delete

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

var exists = cmdtest.Exists((*dps.Client).GetRegistration)

func TestNewCmdDelete(t *testing.T) {
	cmdtest.DeleteLines(t, NewCmdDelete, func(o *DeleteOptions) ([]string, bool, string) { return o.RegistrationIDs, o.Yes, o.ETag },
		"--etag applies to one registration", "give at least one registration ID")
}

func TestDeleteRun(t *testing.T) {
	setup := func(t *testing.T) *dps.Client {
		inst, c := cmdtest.NewServer(t)
		grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now))
		grouptest.PutRegistration(t, inst, "", grouptest.Registered("dev-2", "hub1.azure-devices.net", cmdtest.Now))
		return c
	}
	cmdtest.Deletes(t, NewCmdDelete, setup, exists, []cmdtest.DeleteRun{
		{Name: "not a terminal needs --yes", Args: []string{"dev-1"}, WantErr: "--yes is required", Usage: true, Kept: []string{"dev-1"}},
		{Name: "yes", Args: []string{"dev-1", "--yes"}, WantErrOut: "Deleted registration state \"dev-1\"\n", Gone: []string{"dev-1"}, Kept: []string{"dev-2"}},
		{Name: "confirmed on a terminal", TTY: true, Input: "yes\n", Args: []string{"dev-1", "dev-2"},
			WantErrOut: "Delete 2 registration states (dev-1, dev-2)? [y/N]: Deleted registration state \"dev-1\"\nDeleted registration state \"dev-2\"\n", Gone: []string{"dev-1", "dev-2"}},
		{Name: "declined on a terminal", TTY: true, Input: "\n", Args: []string{"dev-1"}, WantErr: "cancelled",
			WantErrOut: "Delete the registration state of \"dev-1\"? [y/N]: ", Kept: []string{"dev-1"}},
		{Name: "one missing", Args: []string{"dev-1", "nope", "--yes"}, WantErr: `no registration state for "nope"`,
			WantErrOut: "Deleted registration state \"dev-1\"\n", Gone: []string{"dev-1"}, Kept: []string{"dev-2"}},
		{Name: "stale etag", Args: []string{"dev-1", "--yes", "--etag", "etag-dev-2"},
			WantErr: `the registration state of "dev-1" was not deleted: it changed since --etag was read`, Kept: []string{"dev-1"}},
		{Name: "current etag", Args: []string{"dev-1", "--yes", "--etag", "etag-dev-1"}, WantErrOut: "Deleted registration state \"dev-1\"\n", Gone: []string{"dev-1"}},
	})
}
