package registration

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
	noun := NewCmdRegistration(f)
	if noun.Example == "" || !slices.Contains(noun.Aliases, "registrations") {
		t.Errorf("noun: example %q, aliases %v", noun.Example, noun.Aliases)
	}
	want := []string{"delete", "list", "show"}
	var got []string
	for _, c := range noun.Commands() {
		got = append(got, c.Name())
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: short %q, long %d bytes, example %q", c.Name(), c.Short, len(c.Long), c.Example)
		}
		for _, line := range strings.Split(c.Example, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "dpsctl registration "+c.Name()) && !strings.HasPrefix(l, "seq ") && !strings.HasPrefix(l, "dpsctl registration show") {
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
			if err := cmdtest.Run(t, f, NewCmdRegistration(f), verb, "--help"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s.Out.String(), "Examples:") {
				t.Errorf("help of %s:\n%s", verb, s.Out)
			}
		})
	}
}
