// Package device is the "dpsctl device" noun: simulated devices that
// provision themselves.
package device

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/device/register"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdDevice builds "dpsctl device".
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "device <command>",
		Aliases: []string{"devices"},
		Short:   "Act as a device: provision it and connect it to its hub",
		Long: `Simulate a device in front of a provisioning service: boot, prove the
device's identity with a symmetric key, an X.509 certificate or a TPM, get
assigned to an IoT hub, and connect to that hub. It talks to Azure DPS
unchanged, or to the local provisioning service.`,
		Example: `  dpsctl device register --registration-id dev-1 --symmetric-key "$KEY"
  dpsctl device register --certificate device.pem --key device.key --connect
  dpsctl device register --tpm-simulator ./tpm --connect`,
	}
	cmd.AddCommand(register.NewCmdRegister(f, nil))
	return cmd
}
