package shared

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// maxCompletions bounds how many IDs completion fetches.
const maxCompletions = 1000

// CompleteIDs completes registration IDs from the configured service. With
// multi set every argument position completes (for delete).
func CompleteIDs(f *cmdutil.Factory, multi bool) cobra.CompletionFunc {
	return cmdutil.CompleteIDs(f, multi, func(ctx context.Context, c *dps.Client) ([]string, error) {
		return cmdutil.CollectIDs(c.Enrollments(ctx, dps.QueryOptions{}), func(e model.IndividualEnrollment) string { return e.RegistrationID }, maxCompletions)
	})
}
