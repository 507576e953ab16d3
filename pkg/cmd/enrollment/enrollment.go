// Package enrollment is the "dpsctl enrollment" noun: individual
// enrollments.
package enrollment

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/attestation"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/create"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/delete"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/export"
	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/enrollment/import"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/show"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/update"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdEnrollment builds "dpsctl enrollment".
func NewCmdEnrollment(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "enrollment <command>",
		Aliases: []string{"enrollments"},
		Short:   "Manage individual enrollments",
		Long: `Manage individual enrollments: one device each, identified by its
registration ID, attested by a TPM endorsement key, an X.509 certificate or
symmetric keys.`,
		Example: `  dpsctl enrollment create dev-1 --attestation symmetric-key
  dpsctl enrollment list
  dpsctl enrollment show dev-1 --show-keys
  dpsctl enrollment update dev-1 --provisioning-status disabled
  dpsctl enrollment delete dev-1 --yes`,
	}
	cmd.AddCommand(
		create.NewCmdCreate(f, nil),
		show.NewCmdShow(f, nil),
		list.NewCmdList(f, nil),
		update.NewCmdUpdate(f, nil),
		delete.NewCmdDelete(f, nil),
		attestation.NewCmdAttestation(f, nil),
		importcmd.NewCmdImport(f, nil),
		export.NewCmdExport(f, nil),
	)
	return cmd
}
