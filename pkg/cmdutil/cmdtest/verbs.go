package cmdtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// NewCmd is the constructor of a verb: NewCmdX(f, runF).
type NewCmd[O any] func(f *cmdutil.Factory, runF func(*O) error) *cobra.Command

// Parse runs the verb newCmd builds with args on a Factory without a
// service, stopping where it would run, and returns the options it would
// run with (nil if it stopped before) and the error.
func Parse[O any](t testing.TB, newCmd NewCmd[O], args ...string) (*O, error) {
	t.Helper()
	f, _ := NewFactory(t, nil, false)
	return ParseWith(t, f, newCmd, args...)
}

// ParseWith is Parse on a Factory the test prepared (a terminal on stdin,
// say).
func ParseWith[O any](t testing.TB, f *cmdutil.Factory, newCmd NewCmd[O], args ...string) (*O, error) {
	t.Helper()
	var got *O
	err := Run(t, f, newCmd(f, func(o *O) error { got = o; return nil }), args...)
	return got, err
}

// WantUsageError fails t unless err is a usage error (a
// *cmdutil.FlagError) whose message contains want.
func WantUsageError(t testing.TB, err error, want string) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want usage error %q", err, want)
	}
}

// Exec runs the verb newCmd builds, for real, with args on a Factory
// reaching c (tty makes the streams terminals), and returns its streams.
func Exec[O any](t testing.TB, c *dps.Client, tty bool, newCmd NewCmd[O], args ...string) (Streams, error) {
	t.Helper()
	f, s := NewFactory(t, c, tty)
	return s, Run(t, f, newCmd(f, nil), args...)
}

// GoldenRun is one run of a verb whose stdout is compared with
// testdata/<test>/<name>.golden.
type GoldenRun struct {
	Name       string
	TTY        bool
	Args       []string
	Client     *dps.Client // the service, when not that of Goldens
	WantErrOut string      // all of stderr
}

// Goldens runs each of runs as a subtest against c (or the run's Client),
// checks stderr, and compares stdout, passed through scrub (nil for none),
// with its golden file after the replacements of Golden.
func Goldens[O any](t *testing.T, c *dps.Client, newCmd NewCmd[O], runs []GoldenRun, scrub func(string) string, replace ...string) {
	t.Helper()
	for _, r := range runs {
		t.Run(r.Name, func(t *testing.T) {
			client := c
			if r.Client != nil {
				client = r.Client
			}
			s, err := Exec(t, client, r.TTY, newCmd, r.Args...)
			if err != nil {
				t.Fatal(err)
			}
			if s.ErrOut.String() != r.WantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, r.WantErrOut)
			}
			out := s.Out.String()
			if scrub != nil {
				out = scrub(out)
			}
			Golden(t, out, replace...)
		})
	}
}

// DeleteRun is one run of a delete verb for Deletes.
type DeleteRun struct {
	Name       string
	TTY        bool
	Input      string // stdin
	Args       []string
	WantErr    string // in the error; "" for none
	Usage      bool   // the error is a usage error
	WantErrOut string // all of stderr
	Gone       []string
	Kept       []string
}

// Deletes runs each of runs as a subtest against a new service that seed
// opens and fills, and checks the error, stderr, that stdout stays empty,
// and which IDs are gone and which are kept after it.
func Deletes[O any](t *testing.T, newCmd NewCmd[O], seed func(t *testing.T) *dps.Client, exists func(t *testing.T, c *dps.Client, id string) bool, runs []DeleteRun) {
	t.Helper()
	for _, r := range runs {
		t.Run(r.Name, func(t *testing.T) {
			c := seed(t)
			f, s := NewFactory(t, c, r.TTY)
			s.In.WriteString(r.Input)
			err := Run(t, f, newCmd(f, nil), r.Args...)
			if r.WantErr == "" && err != nil {
				t.Fatal(err)
			}
			if r.WantErr != "" && (err == nil || !strings.Contains(err.Error(), r.WantErr)) {
				t.Fatalf("err = %v, want %q", err, r.WantErr)
			}
			var fe *cmdutil.FlagError
			if errors.As(err, &fe) != r.Usage {
				t.Errorf("usage error: %v", err)
			}
			if s.ErrOut.String() != r.WantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, r.WantErrOut)
			}
			if s.Out.Len() != 0 {
				t.Errorf("stdout %q", s.Out)
			}
			for _, id := range r.Gone {
				if exists(t, c, id) {
					t.Errorf("%s still exists", id)
				}
			}
			for _, id := range r.Kept {
				if !exists(t, c, id) {
					t.Errorf("%s was deleted", id)
				}
			}
		})
	}
}

// Exists returns a check, for Deletes, of whether the service still has an
// item: get is a read of *dps.Client such as (*dps.Client).GetGroup.
func Exists[T any](get func(c *dps.Client, ctx context.Context, id string) (*T, error)) func(t *testing.T, c *dps.Client, id string) bool {
	return func(t *testing.T, c *dps.Client, id string) bool {
		t.Helper()
		_, err := get(c, context.Background(), id)
		if err != nil && !dps.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
}

// DeleteLines checks how a delete verb reads its command line: several
// IDs, -y/--yes, --etag with one ID only (tooMany is the usage error with
// two IDs) and at least one ID (none is the usage error without). read
// returns the IDs, --yes and --etag of the options.
func DeleteLines[O any](t *testing.T, newCmd NewCmd[O], read func(*O) (ids []string, yes bool, etag string), tooMany, none string) {
	t.Helper()
	tests := []struct {
		args    []string
		ids     []string
		yes     bool
		etag    string
		wantErr string
	}{
		{args: []string{"a"}, ids: []string{"a"}},
		{args: []string{"a", "b", "--yes"}, ids: []string{"a", "b"}, yes: true},
		{args: []string{"a", "-y", "--etag", "E"}, ids: []string{"a"}, yes: true, etag: "E"},
		{args: []string{"a", "b", "--etag", "E"}, wantErr: tooMany},
		{args: []string{}, wantErr: none},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := Parse(t, newCmd, tt.args...)
			if tt.wantErr != "" {
				WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ids, yes, etag := read(got); !slices.Equal(ids, tt.ids) || yes != tt.yes || etag != tt.etag {
				t.Fatalf("got %v, %v, %q; want %v, %v, %q", ids, yes, etag, tt.ids, tt.yes, tt.etag)
			}
		})
	}
}

// PagingLines checks how a list verb reads --page-size and --top given
// after args. read returns them from the options.
func PagingLines[O any](t *testing.T, newCmd NewCmd[O], read func(*O) (pageSize, top int), args ...string) {
	t.Helper()
	tests := []struct {
		flags         []string
		pageSize, top int
		wantErr       string
	}{
		{flags: nil},
		{flags: []string{"--page-size", "10", "--top", "3"}, pageSize: 10, top: 3},
		{flags: []string{"--top", "-1"}, wantErr: "--top must be positive"},
		{flags: []string{"--page-size", "-1"}, wantErr: "--page-size must be positive"},
		{flags: []string{"--page-size", "x"}, wantErr: `invalid argument "x"`},
	}
	for _, tt := range tests {
		line := append(slices.Clone(args), tt.flags...)
		t.Run(strings.Join(line, " "), func(t *testing.T) {
			got, err := Parse(t, newCmd, line...)
			if tt.wantErr != "" {
				WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pageSize, top := read(got); pageSize != tt.pageSize || top != tt.top {
				t.Fatalf("page size %d, top %d; want %d, %d", pageSize, top, tt.pageSize, tt.top)
			}
		})
	}
}

// IDLines checks a verb that takes exactly one ID: id alone is read (read
// returns it from the options); no ID and two IDs are usage errors.
func IDLines[O any](t *testing.T, newCmd NewCmd[O], read func(*O) string, id string) {
	t.Helper()
	for _, args := range [][]string{{id}, {}, {"a", "b"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got, err := Parse(t, newCmd, args...)
			if len(args) != 1 {
				WantUsageError(t, err, "")
				return
			}
			if err != nil || read(got) != id {
				t.Fatalf("got %+v, %v; want ID %q", got, err, id)
			}
		})
	}
}
