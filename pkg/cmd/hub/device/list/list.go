// Package list is "dpsctl hub device list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "hub device list".
type ListOptions struct {
	Hubs    func(context.Context) (linkedhub.Service, error)
	Printer func() (*output.Printer, error)

	Hub string // "" for every hub
	Top int    // 0: all
}

// NewCmdList builds "dpsctl hub device list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Hubs: f.Hubs, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the devices of the local IoT hubs",
		Long: `List the device identities in the registries of the local IoT hubs, as the
portal's IoT devices explorer shows them: device ID, hub, status, connection
state, authentication type, last activity and cloud-to-device message count
(always 0: the local hubs hold no cloud-to-device messages). The provisioning
service creates these identities when it assigns devices; connection state
and last activity change when a device talks to its hub.`,
		Example: `  dpsctl hub device list
  dpsctl hub device list --hub localhost -o json`,
		Args: cmdutil.ExactArgs(0, "list takes no arguments; use --hub to pick a hub"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Top < 0 {
				return cmdutil.FlagErrorf("--top must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Hub, "hub", "", "Only the devices of this hub (host name)")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "Stop after this many devices (default: all)")
	_ = cmd.RegisterFlagCompletionFunc("hub", shared.CompleteHubs(f, true))
	_ = cmd.RegisterFlagCompletionFunc("top", cobra.NoFileCompletions)
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	noun := "devices"
	if opts.Hub != "" {
		noun = "devices in IoT hub " + opts.Hub
	}
	return output.PrintSeq(p, cmdutil.Limit(svc.HubDevices(ctx, opts.Hub), opts.Top), shared.DeviceColumns, noun)
}
