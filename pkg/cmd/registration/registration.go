// Package registration is the "dpsctl registration" noun: the registration
// states devices leave when they register.
package registration

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/delete"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/export"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/show"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdRegistration builds "dpsctl registration".
func NewCmdRegistration(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "registration <command>",
		Aliases: []string{"registrations"},
		Short:   "Inspect and delete device registration states",
		Long: `Inspect and delete device registration states: what the service recorded
when a device registered (assigned hub, device ID, status, error), keyed by
registration ID, whether the device came through an individual enrollment
or an enrollment group.`,
		Example: `  dpsctl registration show dev-1
  dpsctl registration list --group factory-a
  dpsctl registration list -o json
  dpsctl registration export --group factory-a > registrations.csv
  dpsctl registration delete dev-1 --yes`,
	}
	cmd.AddCommand(
		show.NewCmdShow(f, nil),
		list.NewCmdList(f, nil),
		delete.NewCmdDelete(f, nil),
		export.NewCmdExport(f, nil),
	)
	return cmd
}
