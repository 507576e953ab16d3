// Package show is "dpsctl registration show".
package show

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "registration show".
type ShowOptions struct {
	cmdutil.Service

	RegistrationID string
}

// NewCmdShow builds "dpsctl registration show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Service: f.Service()}
	return &cobra.Command{
		Use:   "show <registration-id>",
		Short: "Show the registration state of a device",
		Long: `Show the registration state of a device: its status, the IoT hub and device
ID it was assigned, and the error of a failed registration. The service does
not say which enrollment group a state came through; "dpsctl registration
list" does.`,
		Example: `  dpsctl registration show dev-1
  dpsctl registration show dev-1 -o json
  dpsctl registration show dev-1 --query assignedHub -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return cmdutil.ShowOne(ctx, opts.Service, func(ctx context.Context, c *dps.Client) (*model.DeviceRegistrationState, error) {
		s, err := c.GetRegistration(ctx, opts.RegistrationID)
		return s, shared.Explain(err, opts.RegistrationID)
	}, shared.DetailColumns)
}
