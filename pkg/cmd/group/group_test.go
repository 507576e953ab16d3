package group

import (
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

// Every verb documents itself: a usage line, a description, examples, and
// --help works without a service.
func TestHelp(t *testing.T) {
	f, _ := cmdtest.NewFactory(t, nil, false)
	noun := NewCmdGroup(f)
	if noun.Example == "" || !slices.Contains(noun.Aliases, "groups") {
		t.Errorf("noun: example %q, aliases %v", noun.Example, noun.Aliases)
	}
	want := []string{"attestation", "compute-key", "create", "delete", "list", "registrations", "show", "update"}
	var got []string
	for _, c := range noun.Commands() {
		got = append(got, c.Name())
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: short %q, long %d bytes, example %q", c.Name(), c.Short, len(c.Long), c.Example)
		}
		for _, line := range strings.Split(c.Example, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "dpsctl group "+c.Name()) && !strings.HasPrefix(l, "seq ") && !strings.HasPrefix(l, "dpsctl group show") {
				t.Errorf("%s: example line %q does not run the command", c.Name(), l)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("verbs %v, want %v", got, want)
	}
	for _, verb := range want {
		t.Run(verb, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, false)
			if err := cmdtest.Run(t, f, NewCmdGroup(f), verb, "--help"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s.Out.String(), "Examples:") {
				t.Errorf("help of %s:\n%s", verb, s.Out)
			}
		})
	}
}
