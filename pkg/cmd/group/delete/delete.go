// Package delete is "dpsctl group delete".
package delete

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of "group delete".
type DeleteOptions struct {
	cmdutil.Service

	GroupIDs []string
	ETag     string // If-Match; "" deletes whatever the current version is
	Yes      bool
}

// NewCmdDelete builds "dpsctl group delete".
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "delete <group-id>...",
		Aliases: []string{"rm"},
		Short:   "Delete enrollment groups",
		Long: `Delete one or more enrollment groups. On a terminal dpsctl asks first unless
--yes is given; when it cannot ask, --yes is required.

--etag deletes only if the group is still at that version (one ID only).
Devices of the group can no longer register; devices already provisioned
stay in their IoT hub.`,
		Example: `  dpsctl group delete factory-a
  dpsctl group delete factory-a factory-b --yes
  dpsctl group delete factory-a --etag "$(dpsctl group show factory-a --query etag -o tsv)" --yes`,
		Args:              cmdutil.MinimumArgs(1, "give at least one group ID"),
		ValidArgsFunction: shared.CompleteIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.GroupIDs = args
			if opts.ETag != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--etag applies to one group; give one group ID")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmdutil.DeleteFlags(cmd, &opts.ETag, &opts.Yes, "Delete only if the group still has this etag")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return cmdutil.DeleteEach(ctx, opts.Service, opts.GroupIDs, opts.Yes, cmdutil.Deletion{
		Ask: "Delete enrollment group %q?", Plural: "enrollment groups", Done: "Deleted enrollment group %q",
		Delete:  func(ctx context.Context, c *dps.Client, id string) error { return c.DeleteGroup(ctx, id, opts.ETag) },
		Explain: shared.ExplainDelete,
	})
}
