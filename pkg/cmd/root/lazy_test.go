package root

import (
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// TestStandInsMatchTheCommands: each entry of topCommands says what its
// command says of itself, so root help from stand-ins is the real help.
func TestStandInsMatchTheCommands(t *testing.T) {
	full := NewCmdRoot(&cmdutil.Factory{IOStreams: iostreamsForTest(), Flags: &cmdutil.GlobalFlags{}})
	var names []string
	for _, c := range full.Commands() {
		if c.GroupID != "" {
			names = append(names, c.Name())
		}
	}
	var want []string
	for _, tc := range topCommands {
		want = append(want, tc.name)
		real := tc.build(&cmdutil.Factory{IOStreams: iostreamsForTest(), Flags: &cmdutil.GlobalFlags{}})
		stand := tc.standIn()
		if real.Name() != stand.Name() || real.Short != stand.Short || !slices.Equal(real.Aliases, stand.Aliases) {
			t.Errorf("topCommands entry %q: name %q, short %q, aliases %q; the command has %q, %q, %q",
				tc.name, stand.Name(), stand.Short, stand.Aliases, real.Name(), real.Short, real.Aliases)
		}
		if real.Hidden || real.Deprecated != "" {
			t.Errorf("%s is hidden or deprecated; its stand-in would show in help", tc.name)
		}
	}
	slices.Sort(want) // Commands() is sorted by name
	if !slices.Equal(names, want) {
		t.Errorf("root has top-level commands %q, topCommands lists %q", names, want)
	}
}

func iostreamsForTest() *iostreams.IOStreams {
	ios, _, _, _ := iostreams.Test()
	return ios
}

// TestRootForMatchesFullRoot runs the same arguments through the root built
// for them and through the whole tree: the same output, errors and exit.
func TestRootForMatchesFullRoot(t *testing.T) {
	argSets := [][]string{
		nil,
		{"--help"},
		{"-h"},
		{"version"},
		{"version", "--help"},
		{"version", "-o", "json"},
		{"version", "extra"},
		{"help"},
		{"help", "enrollment"},
		{"--help", "enrollment"},
		{"bogus"},
		{"versoin"},
		{"enrollments", "--help"},
		{"enrollment", "bogus"},
		{"enrollment", "show", "--help"},
		{"enrollment", "show"},
		{"certificate", "--help"},
		{"-o", "json", "version"},
		{"--version"},
		{"completion"},
		{"completion", "bash"},
		{"completion", "zsh"},
		{"completion", "fish"},
		{"completion", "powershell"},
		{"__complete", "enrollment", "sh"},
		{"__complete", ""},
	}
	for _, tc := range topCommands {
		argSets = append(argSets, []string{tc.name, "--help"}, []string{tc.name, "-h"})
	}
	for _, args := range argSets {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			fullOut, fullErr, fullE := runRoot(t, NewCmdRoot, args)
			forOut, forErr, forE := runRoot(t, func(f *cmdutil.Factory) *cobra.Command { return NewCmdRootFor(f, args) }, args)
			if forOut != fullOut {
				t.Errorf("stdout differs\nfor args:\n%s\nwhole tree:\n%s", forOut, fullOut)
			}
			if forErr != fullErr {
				t.Errorf("stderr differs\nfor args:\n%s\nwhole tree:\n%s", forErr, fullErr)
			}
			if errText(forE) != errText(fullE) {
				t.Errorf("error %v, whole tree %v", forE, fullE)
			}
		})
	}
}

func runRoot(t *testing.T, newRoot func(*cmdutil.Factory) *cobra.Command, args []string) (string, string, error) {
	t.Helper()
	t.Setenv("DPSCTL_OUTPUT", "")
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (p *output.Printer, err error) { return cmdutil.NewPrinter(f) }
	cmd := newRoot(f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	_, err := cmd.ExecuteC()
	return out.String(), errOut.String(), err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
