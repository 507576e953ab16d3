// Package delete is "dpsctl registration delete".
package delete

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of "registration delete".
type DeleteOptions struct {
	cmdutil.Service

	RegistrationIDs []string
	ETag            string // If-Match; "" deletes whatever the current version is
	Yes             bool
}

// NewCmdDelete builds "dpsctl registration delete".
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "delete <registration-id>...",
		Aliases: []string{"rm"},
		Short:   "Delete device registration states",
		Long: `Delete the registration states of one or more devices. On a terminal dpsctl
asks first unless --yes is given; when it cannot ask, --yes is required.

Only the service's record goes: the enrollment stays, and the device stays
in its IoT hub. The next time the device registers it is assigned afresh.
--etag deletes only if the state is still at that version (one ID only).`,
		Example: `  dpsctl registration delete dev-1
  dpsctl registration delete dev-1 dev-2 --yes
  dpsctl registration delete dev-1 --etag "$(dpsctl registration show dev-1 --query etag -o tsv)" --yes`,
		Args:              cmdutil.MinimumArgs(1, "give at least one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationIDs = args
			if opts.ETag != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--etag applies to one registration; give one registration ID")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmdutil.DeleteFlags(cmd, &opts.ETag, &opts.Yes, "Delete only if the registration state still has this etag")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return cmdutil.DeleteEach(ctx, opts.Service, opts.RegistrationIDs, opts.Yes, cmdutil.Deletion{
		Ask: "Delete the registration state of %q?", Plural: "registration states", Done: "Deleted registration state %q",
		Delete: func(ctx context.Context, c *dps.Client, id string) error {
			return c.DeleteRegistration(ctx, id, opts.ETag)
		},
		Explain: shared.Explain,
	})
}
