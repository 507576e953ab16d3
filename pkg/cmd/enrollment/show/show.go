// Package show is "dpsctl enrollment show".
package show

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "enrollment show".
type ShowOptions struct {
	cmdutil.Service

	RegistrationID string
	ShowKeys       bool // also fetch the attestation mechanism
}

// NewCmdShow builds "dpsctl enrollment show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:   "show <registration-id>",
		Short: "Show an individual enrollment",
		Long: `Show an individual enrollment, with its registration state if the device has
registered. The service does not return symmetric keys with an enrollment;
--show-keys fetches them from its attestation mechanism as well.`,
		Example: `  dpsctl enrollment show dev-1
  dpsctl enrollment show dev-1 --show-keys -o json
  dpsctl enrollment show dev-1 --query etag -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationID = args[0]
			opts.ShowKeys = f.Flags.ShowKeys
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return cmdutil.ShowOne(ctx, opts.Service, func(ctx context.Context, c *dps.Client) (*model.IndividualEnrollment, error) {
		return shared.Kind.Read(ctx, c, opts.RegistrationID, opts.ShowKeys)
	}, shared.DetailColumns)
}
