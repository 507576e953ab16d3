package root

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

// Every command a user can run documents itself: a one-line summary, a
// longer description and examples; flags are kebab-case.
func TestEveryCommandHasHelpAndExamples(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := NewCmdRoot(&cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || c.Name() == "help" || !c.Runnable() {
			return
		}
		n++
		if c.Short == "" {
			t.Errorf("%s: no short description", c.CommandPath())
		}
		if c.Long == "" && !isHelpTopic(c) {
			t.Errorf("%s: no long description", c.CommandPath())
		}
		if c.Example == "" && !isHelpTopic(c) {
			t.Errorf("%s: no examples", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			for _, r := range f.Name {
				if r >= 'A' && r <= 'Z' || r == '_' {
					t.Errorf("%s: flag --%s is not kebab-case", c.CommandPath(), f.Name)
					break
				}
			}
		})
	}
	walk(root)
	if n < 40 {
		t.Fatalf("only %d commands found", n)
	}
}

// Every command's examples run the command itself, and "--help" works
// without a configured service.
func TestEveryCommandsHelpRunsWithoutService(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := NewCmdRoot(&cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}})
	var paths []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || c.Name() == "help" || !c.Runnable() || isHelpTopic(c) {
			return
		}
		if !strings.Contains(c.Example, c.CommandPath()) {
			t.Errorf("%s: no example runs it:\n%s", c.CommandPath(), c.Example)
		}
		paths = append(paths, c.CommandPath())
	}
	walk(root)
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
			root := NewCmdRoot(f)
			root.SetArgs(append(strings.Fields(path)[1:], "--help"))
			root.SetOut(out)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Examples:") {
				t.Errorf("help:\n%s", out)
			}
		})
	}
}

func isHelpTopic(c *cobra.Command) bool {
	for _, t := range HelpTopics {
		if t.Name == c.Name() && c.Parent() != nil && c.Parent().Parent() == nil {
			return true
		}
	}
	return false
}
