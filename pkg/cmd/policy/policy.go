// Package policy is the "dpsctl policy" noun: the shared access policies of
// the provisioning service.
package policy

import (
	connectionstring "github.com/dpsctl/dpsctl/pkg/cmd/policy/connection-string"
	"github.com/dpsctl/dpsctl/pkg/cmd/policy/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/policy/show"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdPolicy builds "dpsctl policy".
func NewCmdPolicy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policy <command>",
		Aliases: []string{"policies"},
		Short:   "Show the shared access policies of the provisioning service",
		Long: `Show the shared access policies of the provisioning service: named key pairs
and the rights they grant (ServiceConfig, EnrollmentRead, EnrollmentWrite,
RegistrationStatusRead, RegistrationStatusWrite, DeviceConnect), and the
connection string of one.

For an Azure instance (--dps-name/-g, or a profile made with -n) they are
read through the resource manager, which needs a role that may list keys
(Contributor); without a configured service, from the local service of the
data directory. Keys are masked unless --show-keys.`,
		Example: `  dpsctl policy list -n mydps -g my-resource-group
  dpsctl policy show provisioningserviceowner --show-keys
  dpsctl policy connection-string enrollmentread --show-keys -o tsv`,
	}
	cmd.AddCommand(
		list.NewCmdList(f, nil),
		show.NewCmdShow(f, nil),
		connectionstring.NewCmdConnectionString(f, nil),
	)
	return cmd
}
