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
	_, err := c.GetGroup(context.Background(), id)
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
		{args: []string{"a"}, want: DeleteOptions{GroupIDs: []string{"a"}}},
		{args: []string{"a", "b", "--yes"}, want: DeleteOptions{GroupIDs: []string{"a", "b"}, Yes: true}},
		{args: []string{"a", "-y", "--etag", "E"}, want: DeleteOptions{GroupIDs: []string{"a"}, Yes: true, ETag: "E"}},
		{args: []string{"a", "b", "--etag", "E"}, wantErr: "--etag applies to one group"},
		{args: []string{}, wantErr: "give at least one group ID"},
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
			if strings.Join(got.GroupIDs, ",") != strings.Join(tt.want.GroupIDs, ",") || got.Yes != tt.want.Yes || got.ETag != tt.want.ETag {
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
		{name: "not a terminal needs --yes", args: []string{"g1"}, wantErr: "--yes is required", usage: true, kept: []string{"g1"}},
		{name: "yes", args: []string{"g1", "--yes"}, wantErrOut: "Deleted enrollment group \"g1\"\n", gone: []string{"g1"}, kept: []string{"g2"}},
		{name: "confirmed on a terminal", tty: true, input: "y\n", args: []string{"g1", "g2"},
			wantErrOut: "Delete 2 enrollment groups (g1, g2)? [y/N]: Deleted enrollment group \"g1\"\nDeleted enrollment group \"g2\"\n", gone: []string{"g1", "g2"}},
		{name: "declined on a terminal", tty: true, input: "n\n", args: []string{"g1"}, wantErr: "cancelled",
			wantErrOut: "Delete enrollment group \"g1\"? [y/N]: ", kept: []string{"g1"}},
		{name: "yes on a terminal", tty: true, args: []string{"g1", "-y"}, wantErrOut: "Deleted enrollment group \"g1\"\n", gone: []string{"g1"}},
		{name: "one missing", args: []string{"g1", "nope", "g2", "--yes"}, wantErr: `enrollment group "nope" not found`,
			wantErrOut: "Deleted enrollment group \"g1\"\nDeleted enrollment group \"g2\"\n", gone: []string{"g1", "g2"}},
		{name: "stale etag", args: []string{"g1", "--yes", "--etag", "IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCI="},
			wantErr: `enrollment group "g1" was not deleted: it changed since --etag was read`, kept: []string{"g1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			grouptest.SymmetricGroup(t, c, "g1", nil)
			grouptest.SymmetricGroup(t, c, "g2", nil)
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
