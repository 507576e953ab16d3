package root

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("DPSCTL_OUTPUT", "")
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (p *output.Printer, err error) { return cmdutil.NewPrinter(f) }
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	_, err := cmd.ExecuteC()
	return out.String(), errOut.String(), err
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "dpsctl"`},
		{[]string{"versoin"}, `did you mean version?`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"version", "extra"}, "version takes no arguments"},
		{[]string{"-o", "xml", "version"}, `invalid argument "xml"`},
		{[]string{"--query", "[?", "version"}, "invalid --query"},
		{[]string{"completion"}, "name a shell"},
		{[]string{"completion", "tcsh"}, "unsupported shell"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want FlagError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHelpTopics(t *testing.T) {
	out, _, err := run(t, "help", "exit-codes")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0    success", "2    usage error", "3    verification failed", "4    authentication", "130  interrupted"} {
		if !strings.Contains(out, want) {
			t.Errorf("exit-codes topic lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = run(t, "--help")
	for _, want := range []string{"Additional help topics:", "exit-codes", "environment", "--output", "--query", "--show-keys", "--connection-string"} {
		if !strings.Contains(out, want) {
			t.Errorf("root help lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "dpsctl version ") {
		t.Fatalf("version: %q %v", out, err)
	}
	out, _, err = run(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	if err := json.Unmarshal([]byte(out), &info); err != nil || info["version"] == "" || info["goVersion"] == "" {
		t.Fatalf("version json %q: %v", out, err)
	}
	out, _, _ = run(t, "version", "--query", "version")
	if strings.TrimSpace(out) != info["version"] {
		t.Fatalf("query: %q", out)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _, err := run(t, "completion", sh)
		if err != nil || !strings.Contains(out, "dpsctl") {
			t.Errorf("%s: %v (%d bytes)", sh, err, len(out))
		}
	}
}

func TestOutputFlagCompletes(t *testing.T) {
	out, _, err := run(t, "__complete", "version", "-o", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"table", "json", "yaml", "tsv"} {
		if !strings.Contains(out, f+"\n") {
			t.Errorf("-o completion lacks %s:\n%s", f, out)
		}
	}
}
