package delete

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

var exists = cmdtest.Exists((*dps.Client).GetRegistration)

func TestNewCmdDelete(t *testing.T) {
	tests := []struct {
		args    []string
		want    DeleteOptions
		wantErr string
	}{
		{args: []string{"a"}, want: DeleteOptions{RegistrationIDs: []string{"a"}}},
		{args: []string{"a", "b", "--yes"}, want: DeleteOptions{RegistrationIDs: []string{"a", "b"}, Yes: true}},
		{args: []string{"a", "-y", "--etag", "E"}, want: DeleteOptions{RegistrationIDs: []string{"a"}, Yes: true, ETag: "E"}},
		{args: []string{"a", "b", "--etag", "E"}, wantErr: "--etag applies to one registration"},
		{args: []string{}, wantErr: "give at least one registration ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdDelete, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.RegistrationIDs, ",") != strings.Join(tt.want.RegistrationIDs, ",") || got.Yes != tt.want.Yes || got.ETag != tt.want.ETag {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
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
