// Package device is "dpsctl hub device": the registries of the local IoT
// hubs.
package device

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/show"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdDevice builds "dpsctl hub device".
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "device <command>",
		Aliases: []string{"devices"},
		Short:   "Inspect the devices of the local IoT hubs",
		Long: `Inspect the device identities the local provisioning service created in its
IoT hubs' registries when it assigned devices, and what the hubs recorded
when the devices connected.`,
		Example: `  dpsctl hub device list
  dpsctl hub device show dev-1`,
	}
	cmd.AddCommand(list.NewCmdList(f, nil), show.NewCmdShow(f, nil))
	return cmd
}
