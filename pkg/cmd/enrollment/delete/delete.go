// Package delete is "dpsctl enrollment delete".
package delete

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of "enrollment delete".
type DeleteOptions struct {
	cmdutil.Service

	RegistrationIDs []string
	ETag            string // If-Match; "" deletes whatever the current version is
	Yes             bool
}

// NewCmdDelete builds "dpsctl enrollment delete".
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "delete <registration-id>...",
		Aliases: []string{"rm"},
		Short:   "Delete individual enrollments",
		Long: `Delete one or more individual enrollments. On a terminal dpsctl asks first
unless --yes is given; when it cannot ask, --yes is required.

--etag deletes only if the enrollment is still at that version (one ID only).
The device's registration state is deleted with the enrollment.`,
		Example: `  dpsctl enrollment delete dev-1
  dpsctl enrollment delete dev-1 dev-2 dev-3 --yes
  dpsctl enrollment delete dev-1 --etag "$(dpsctl enrollment show dev-1 --query etag -o tsv)" --yes`,
		Args:              cmdutil.MinimumArgs(1, "give at least one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationIDs = args
			if opts.ETag != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--etag applies to one enrollment; give one registration ID")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmdutil.DeleteFlags(cmd, &opts.ETag, &opts.Yes, "Delete only if the enrollment still has this etag")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return cmdutil.DeleteEach(ctx, opts.Service, opts.RegistrationIDs, opts.Yes, cmdutil.Deletion{
		Ask: "Delete enrollment %q?", Plural: "enrollments", Done: "Deleted enrollment %q",
		Delete: func(ctx context.Context, c *dps.Client, id string) error {
			return c.DeleteEnrollment(ctx, id, opts.ETag)
		},
		Explain: shared.Kind.Explain,
	})
}
