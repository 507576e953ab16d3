package delete

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

var exists = cmdtest.Exists((*dps.Client).GetGroup)

func TestNewCmdDelete(t *testing.T) {
	cmdtest.DeleteLines(t, NewCmdDelete, func(o *DeleteOptions) ([]string, bool, string) { return o.GroupIDs, o.Yes, o.ETag },
		"--etag applies to one group", "give at least one group ID")
}

func TestDeleteRun(t *testing.T) {
	setup := func(t *testing.T) *dps.Client {
		_, c := cmdtest.NewServer(t)
		grouptest.SymmetricGroup(t, c, "g1", nil)
		grouptest.SymmetricGroup(t, c, "g2", nil)
		return c
	}
	cmdtest.Deletes(t, NewCmdDelete, setup, exists, []cmdtest.DeleteRun{
		{Name: "not a terminal needs --yes", Args: []string{"g1"}, WantErr: "--yes is required", Usage: true, Kept: []string{"g1"}},
		{Name: "yes", Args: []string{"g1", "--yes"}, WantErrOut: "Deleted enrollment group \"g1\"\n", Gone: []string{"g1"}, Kept: []string{"g2"}},
		{Name: "confirmed on a terminal", TTY: true, Input: "y\n", Args: []string{"g1", "g2"},
			WantErrOut: "Delete 2 enrollment groups (g1, g2)? [y/N]: Deleted enrollment group \"g1\"\nDeleted enrollment group \"g2\"\n", Gone: []string{"g1", "g2"}},
		{Name: "declined on a terminal", TTY: true, Input: "n\n", Args: []string{"g1"}, WantErr: "cancelled",
			WantErrOut: "Delete enrollment group \"g1\"? [y/N]: ", Kept: []string{"g1"}},
		{Name: "yes on a terminal", TTY: true, Args: []string{"g1", "-y"}, WantErrOut: "Deleted enrollment group \"g1\"\n", Gone: []string{"g1"}},
		{Name: "one missing", Args: []string{"g1", "nope", "g2", "--yes"}, WantErr: `enrollment group "nope" not found`,
			WantErrOut: "Deleted enrollment group \"g1\"\nDeleted enrollment group \"g2\"\n", Gone: []string{"g1", "g2"}},
		{Name: "stale etag", Args: []string{"g1", "--yes", "--etag", "IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCI="},
			WantErr: `enrollment group "g1" was not deleted: it changed since --etag was read`, Kept: []string{"g1"}},
	})
}

func TestDeleteWithETag(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	g := grouptest.SymmetricGroup(t, c, "g1", nil)
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdDelete(f, nil), "g1", "--yes", "--etag", g.ETag); err != nil {
		t.Fatal(err)
	}
	if exists(t, c, "g1") {
		t.Fatal("not deleted")
	}
}
