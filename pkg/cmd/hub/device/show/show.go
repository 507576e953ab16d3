// Package show is "dpsctl hub device show".
package show

import (
	"context"
	"errors"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "hub device show".
type ShowOptions struct {
	Hubs    func(context.Context) (linkedhub.Service, error)
	Printer func() (*output.Printer, error)

	DeviceID string
	Hub      string // "" to search every hub
}

// NewCmdShow builds "dpsctl hub device show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Hubs: f.Hubs, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "show <device-id>",
		Short: "Show a device of the local IoT hubs",
		Long: `Show a device identity of a local IoT hub's registry: status, connection
state, authentication (keys masked unless --show-keys, or certificate
thumbprints), last activity, message counts, and the twin's tags and
desired properties (the enrollment's initial twin) and reported properties.
--hub is needed only when several hubs hold a device of that ID.`,
		Example: `  dpsctl hub device show dev-1
  dpsctl hub device show dev-1 --hub localhost -o json --show-keys`,
		Args:              cmdutil.ExactArgs(1, "give one device ID"),
		ValidArgsFunction: shared.CompleteDevices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DeviceID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Hub, "hub", "", "The hub (host name) whose device to show")
	_ = cmd.RegisterFlagCompletionFunc("hub", shared.CompleteHubs(f, true))
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	d, err := svc.HubDevice(ctx, opts.Hub, opts.DeviceID)
	if errors.Is(err, linkedhub.ErrNotFound) {
		where := "any local IoT hub"
		if opts.Hub != "" {
			where = "IoT hub " + opts.Hub
		}
		return fmt.Errorf("there is no device %q in %s", opts.DeviceID, where)
	}
	if err != nil {
		return err
	}
	return output.Print(p, d, shared.DeviceDetailColumns)
}
