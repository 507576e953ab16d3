// Package instance is the "dpsctl instance" noun: the provisioning service
// itself, as Azure Resource Manager describes it.
package instance

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/instance/show"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdInstance builds "dpsctl instance".
func NewCmdInstance(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "instance <command>",
		Short: "Describe the provisioning service in Azure",
		Long: `Describe the Azure provisioning service named by --dps-name (-n), --resource-group
(-g) and --subscription, or by the profile, as Azure Resource Manager knows
it: host name, ID scope, device endpoint, allocation policy and linked hubs.`,
		Example: `  dpsctl instance show -n mydps -g my-resource-group
  dpsctl instance show -o json`,
	}
	cmd.AddCommand(show.NewCmdShow(f, nil))
	return cmd
}
