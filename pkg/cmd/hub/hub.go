// Package hub is the "dpsctl hub" noun: the IoT hubs of the local
// provisioning service and their device registries.
package hub

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/device"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/link"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/monitorevents"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/unlink"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub/update"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdHub builds "dpsctl hub".
func NewCmdHub(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hub <command>",
		Aliases: []string{"hubs"},
		Short:   "Manage the IoT hubs linked to the provisioning service",
		Long: `Manage the IoT hubs linked to the local provisioning service, and inspect the
devices it assigned to them. The local service serves these hubs itself: a
device it assigns gets an identity in the hub's registry with the credential
it registered with, and can then send messages to the hub on the service's
address.

These commands work on the local service of the data directory (--data-dir),
whether or not "dpsctl serve" runs, and not on the service a connection
string names. In Azure, linked hubs are resources of the management plane:
with --dps-name/-g (or a profile made with -n) the commands link, update and
unlink them through the resource manager, and read the devices of the hubs'
registries with the hubs' iothubowner keys.

What the local hubs hold in memory (twins, direct methods, cloud-to-device
queues, telemetry) is reached through the running "dpsctl serve": "hub device
twin", "hub device invoke-method", "hub device send" and "hub
monitor-events". Twins and direct methods also work against an IoT hub in
Azure with --hub-connection-string.`,
		Example: `  dpsctl hub list
  dpsctl hub link hub-west.lab.example --weight 2
  dpsctl hub device list
  dpsctl hub device show dev-1
  dpsctl hub update hub-west.lab.example --weight 3
  dpsctl hub monitor-events --since 10m
  dpsctl hub unlink hub-west.lab.example --yes
  dpsctl hub list -n mydps -g my-resource-group`,
	}
	cmd.AddCommand(
		list.NewCmdList(f, nil),
		link.NewCmdLink(f, nil),
		unlink.NewCmdUnlink(f, nil),
		update.NewCmdUpdate(f, nil),
		device.NewCmdDevice(f),
		monitorevents.NewCmdMonitorEvents(f, nil),
	)
	return cmd
}
