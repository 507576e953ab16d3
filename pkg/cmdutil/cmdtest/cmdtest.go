// Package cmdtest helps test commands: a local provisioning service on a
// temporary data directory reached in process, a Factory on test streams,
// running a command with the global flags, and golden files.
package cmdtest

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/factory"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Now is the fixed clock of NewServer, so timestamps in goldens are stable.
var Now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// NewServer opens a local provisioning service on a temporary data
// directory and returns it with a client that reaches it in process, with
// its owner connection string. Both are closed when the test ends.
func NewServer(t testing.TB) (*server.Instance, *dps.Client) {
	t.Helper()
	inst, err := server.Open(server.Options{DataDir: t.TempDir(), Now: func() time.Time { return Now }})
	if err != nil {
		t.Fatalf("open local service: %v", err)
	}
	t.Cleanup(func() { inst.Close() })
	c, err := dps.New(dps.Options{
		ConnectionString: inst.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(inst.Handler())},
		MaxRetries:       -1,
		Now:              func() time.Time { return Now },
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return inst, c
}

// Streams are the buffers behind a test Factory.
type Streams struct {
	In, Out, ErrOut *bytes.Buffer
}

// NewFactory returns a Factory on test streams whose Client is c (nil
// makes Client fail), whose Hubs are the real ones (the local service of
// the configured data directory) and whose Config reads flags, environment
// and files as the real one does (point XDG_CONFIG_HOME or DPSCTL_* at
// temporary directories). With tty set, stdin, stdout and stderr are
// terminals.
func NewFactory(t testing.TB, c *dps.Client, tty bool) (*cmdutil.Factory, Streams) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetTTY(tty)
	f := &cmdutil.Factory{IOStreams: ios, ExecutableName: "dpsctl", Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (*output.Printer, error) { return cmdutil.NewPrinter(f) }
	f.Config = func() (*config.Config, error) { return config.Load(f.Flags.Overrides) }
	f.Client = func(context.Context) (*dps.Client, error) {
		if c == nil {
			return nil, errNoClient
		}
		return c, nil
	}
	f.Hubs = factory.LocalHubs(f)
	f.CAs = factory.LocalCAs(f)
	f.Policies = factory.PoliciesFunc(f)
	t.Cleanup(func() { f.Close() })
	return f, Streams{In: in, Out: out, ErrOut: errOut}
}

type noClientError struct{}

func (noClientError) Error() string { return "cmdtest: no client" }

var errNoClient error = noClientError{}

// Run executes cmd (typically a verb from NewCmdX(f, nil)) with args
// and the global flags the root defines, as the root would: errors are
// returned, not printed.
func Run(t testing.TB, f *cmdutil.Factory, cmd *cobra.Command, args ...string) error {
	t.Helper()
	t.Setenv("DPSCTL_OUTPUT", "")
	cmdutil.AddGlobalFlags(cmd, f)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	cmd.SetArgs(args)
	cmd.SetIn(f.IOStreams.In)
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	return cmd.ExecuteContext(context.Background())
}

// Golden compares got with testdata/<test name>.golden (subtest names
// become directories), after replacing each old string in replace pairs
// (old1, new1, old2, new2 …) to hide volatile values. Run the tests with
// -update to rewrite the files.
func Golden(t testing.TB, got string, replace ...string) {
	t.Helper()
	if len(replace) > 0 {
		got = strings.NewReplacer(replace...).Replace(got)
	}
	path := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// etagPattern matches the etags the local service makes (base64 of a quoted
// UUID).
var etagPattern = regexp.MustCompile(`\bI[jm][A-Za-z0-9+/]{38,}=*`)

// ScrubETags replaces the local service's etags with <etag>.
func ScrubETags(s string) string { return etagPattern.ReplaceAllString(s, "<etag>") }
