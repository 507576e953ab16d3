package delete

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func exists(t *testing.T, c *dps.Client, id string) bool {
	t.Helper()
	_, err := c.GetRegistration(context.Background(), id)
	if err != nil && !dps.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

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
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *DeleteOptions
			err := cmdtest.Run(t, f, NewCmdDelete(f, func(o *DeleteOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
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
	tests := []struct {
		name       string
		tty        bool
		input      string
		args       []string
		wantErr    string
		usage      bool
		wantErrOut string
		gone       []string
		kept       []string
	}{
		{name: "not a terminal needs --yes", args: []string{"dev-1"}, wantErr: "--yes is required", usage: true, kept: []string{"dev-1"}},
		{name: "yes", args: []string{"dev-1", "--yes"}, wantErrOut: "Deleted registration state \"dev-1\"\n", gone: []string{"dev-1"}, kept: []string{"dev-2"}},
		{name: "confirmed on a terminal", tty: true, input: "yes\n", args: []string{"dev-1", "dev-2"},
			wantErrOut: "Delete 2 registration states (dev-1, dev-2)? [y/N]: Deleted registration state \"dev-1\"\nDeleted registration state \"dev-2\"\n", gone: []string{"dev-1", "dev-2"}},
		{name: "declined on a terminal", tty: true, input: "\n", args: []string{"dev-1"}, wantErr: "cancelled",
			wantErrOut: "Delete the registration state of \"dev-1\"? [y/N]: ", kept: []string{"dev-1"}},
		{name: "one missing", args: []string{"dev-1", "nope", "--yes"}, wantErr: `no registration state for "nope"`,
			wantErrOut: "Deleted registration state \"dev-1\"\n", gone: []string{"dev-1"}, kept: []string{"dev-2"}},
		{name: "stale etag", args: []string{"dev-1", "--yes", "--etag", "etag-dev-2"},
			wantErr: `the registration state of "dev-1" was not deleted: it changed since --etag was read`, kept: []string{"dev-1"}},
		{name: "current etag", args: []string{"dev-1", "--yes", "--etag", "etag-dev-1"}, wantErrOut: "Deleted registration state \"dev-1\"\n", gone: []string{"dev-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, c := cmdtest.NewServer(t)
			grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now))
			grouptest.PutRegistration(t, inst, "", grouptest.Registered("dev-2", "hub1.azure-devices.net", cmdtest.Now))
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			s.In.WriteString(tt.input)
			err := cmdtest.Run(t, f, NewCmdDelete(f, nil), tt.args...)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var fe *cmdutil.FlagError
			if errors.As(err, &fe) != tt.usage {
				t.Errorf("usage error: %v", err)
			}
			if s.ErrOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, tt.wantErrOut)
			}
			if s.Out.Len() != 0 {
				t.Errorf("stdout %q", s.Out)
			}
			for _, id := range tt.gone {
				if exists(t, c, id) {
					t.Errorf("%s still exists", id)
				}
			}
			for _, id := range tt.kept {
				if !exists(t, c, id) {
					t.Errorf("%s was deleted", id)
				}
			}
		})
	}
}
