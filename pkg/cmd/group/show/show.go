// Package show is "dpsctl group show".
package show

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "group show".
type ShowOptions struct {
	cmdutil.Service

	GroupID  string
	ShowKeys bool // also fetch the attestation mechanism
}

// NewCmdShow builds "dpsctl group show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Service: f.Service()}
	return &cobra.Command{
		Use:   "show <group-id>",
		Short: "Show an enrollment group",
		Long: `Show an enrollment group. For X.509 groups the table form shows the subject,
SHA-256 thumbprint and expiry of each signing certificate, or the names of
the CA certificates referenced.

The service does not return group keys with the group; --show-keys fetches
them from its attestation mechanism as well.`,
		Example: `  dpsctl group show factory-a
  dpsctl group show edge-fleet --show-keys -o json
  dpsctl group show factory-a --query etag -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one group ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.GroupID = args[0]
			opts.ShowKeys = f.Flags != nil && f.Flags.ShowKeys
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return cmdutil.ShowOne(ctx, opts.Service, func(ctx context.Context, c *dps.Client) (*model.EnrollmentGroup, error) {
		return shared.Kind.Read(ctx, c, opts.GroupID, opts.ShowKeys)
	}, shared.DetailColumns)
}
