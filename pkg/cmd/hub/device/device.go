// Package device is "dpsctl hub device": the registries of the local IoT
// hubs.
package device

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/invokemethod"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/send"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/show"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device/twin"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdDevice builds "dpsctl hub device".
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "device <command>",
		Aliases: []string{"devices"},
		Short:   "Inspect and operate the devices of the IoT hubs",
		Long: `Inspect the device identities the local provisioning service created in its
IoT hubs' registries when it assigned devices, and what the hubs recorded
when the devices connected. Operate devices connected over MQTT: read and
update their twins, call direct methods, send cloud-to-device messages
(through the running "dpsctl serve", or an IoT hub's service API).`,
		Example: `  dpsctl hub device list
  dpsctl hub device show dev-1
  dpsctl hub device twin update dev-1 --desired '{"interval":60}'
  dpsctl hub device invoke-method dev-1 reboot --payload '{"delay":5}'
  dpsctl hub device send dev-1 'hello'`,
	}
	cmd.AddCommand(list.NewCmdList(f, nil), show.NewCmdShow(f, nil), twin.NewCmdTwin(f, nil),
		invokemethod.NewCmdInvokeMethod(f, nil), send.NewCmdSend(f, nil))
	return cmd
}
