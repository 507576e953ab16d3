package shared

import (
	"slices"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

func testCompleteIDs(t *testing.T, c *dps.Client, _ *counting) {
	f, s := cmdtest.NewFactory(t, c, false)
	cmd := &cobra.Command{Use: "show"}
	got, d := CompleteIDs(f, false)(cmd, nil, "")
	if d != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("directive %v", d)
	}
	// Group registrations first, then individual enrollments, each once.
	want := []string{"a1", "a2", "b1"}
	for i := range 20 {
		want = append(want, "e-"+string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if got, _ := CompleteIDs(f, true)(cmd, []string{"a1"}, "A"); !slices.Equal(got, []string{"a2"}) {
		t.Errorf("prefix: %v", got)
	}
	if got, _ := CompleteGroupIDs(f)(cmd, []string{"x"}, "g"); !slices.Equal(got, []string{"g1", "g2", "g3"}) {
		t.Errorf("groups: %v", got)
	}
	if s.ErrOut.Len() != 0 {
		t.Errorf("stderr %q", s.ErrOut)
	}
	// Without a service completion offers nothing, quietly.
	f, s = cmdtest.NewFactory(t, nil, false)
	if got, _ := CompleteIDs(f, false)(cmd, nil, ""); got != nil || s.ErrOut.Len() != 0 {
		t.Errorf("no service: %v %q", got, s.ErrOut)
	}
}
