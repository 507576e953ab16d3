// Package delete is "dpsctl group delete".
package delete

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of "group delete".
type DeleteOptions struct {
	IO     *iostreams.IOStreams
	Client func(context.Context) (*dps.Client, error)
	Ctx    context.Context

	GroupIDs []string
	ETag     string // If-Match; "" deletes whatever the current version is
	Yes      bool
}

// NewCmdDelete builds "dpsctl group delete".
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, Client: f.Client}
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
			opts.Ctx = cmd.Context()
			if opts.ETag != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--etag applies to one group; give one group ID")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.ETag, "etag", "", "Delete only if the group still has this etag")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
	return cmd
}

func deleteRun(opts *DeleteOptions) error {
	ids := opts.GroupIDs
	question := fmt.Sprintf("Delete enrollment group %q?", ids[0])
	if len(ids) > 1 {
		question = fmt.Sprintf("Delete %d enrollment groups (%s)?", len(ids), strings.Join(ids, ", "))
	}
	if err := cmdutil.ConfirmDestructive(opts.IO, opts.Yes, question); err != nil {
		return err
	}
	c, err := opts.Client(opts.Ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := c.DeleteGroup(opts.Ctx, id, opts.ETag); err != nil {
			if opts.Ctx.Err() != nil {
				return err
			}
			errs = append(errs, shared.ExplainDelete(err, id))
			continue
		}
		fmt.Fprintf(opts.IO.ErrOut, "Deleted enrollment group %q\n", id)
	}
	return errors.Join(errs...)
}
