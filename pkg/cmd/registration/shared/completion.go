package shared

import (
	"context"
	"strings"

	groupshared "github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// maxCompletions bounds how many IDs completion fetches.
const maxCompletions = 1000

// CompleteIDs completes registration IDs from the configured service: the
// registrations of every enrollment group, then the registration IDs of the
// individual enrollments (which may not have registered yet; listing their
// states would cost one call each). With multi set every argument position
// completes (for delete).
func CompleteIDs(f *cmdutil.Factory, multi bool) cobra.CompletionFunc {
	return cmdutil.CompleteIDs(f, multi, listIDs)
}

func listIDs(ctx context.Context, c *dps.Client) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	add := func(id string) bool {
		if k := strings.ToLower(id); !seen[k] {
			seen[k] = true
			ids = append(ids, id)
		}
		return len(ids) < maxCompletions
	}
	groups, err := groupshared.Kind.ListIDs(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		for r, err := range c.Registrations(ctx, g, dps.QueryOptions{}) {
			if err != nil {
				return ids, err
			}
			if !add(r.RegistrationID) {
				return ids, nil
			}
		}
	}
	for e, err := range c.Enrollments(ctx, dps.QueryOptions{}) {
		if err != nil {
			return ids, err
		}
		if !add(e.RegistrationID) {
			return ids, nil
		}
	}
	return ids, nil
}

// CompleteGroupIDs completes the enrollment group of --group.
func CompleteGroupIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return groupshared.CompleteIDs(f, true)
}
