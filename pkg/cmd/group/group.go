// Package group is the "dpsctl group" noun: enrollment groups.
package group

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/group/attestation"
	computekey "github.com/dpsctl/dpsctl/pkg/cmd/group/compute-key"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/create"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/delete"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/export"
	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/group/import"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/registrations"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/show"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/update"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdGroup builds "dpsctl group".
func NewCmdGroup(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group <command>",
		Aliases: []string{"groups"},
		Short:   "Manage enrollment groups",
		Long: `Manage enrollment groups: one enrollment shared by many devices, attested
by an X.509 signing certificate (a root or intermediate CA that issued the
devices' certificates), a CA certificate verified in the service, or a group
key from which each device's key is derived.`,
		Example: `  dpsctl group create factory-a --certificate intermediate.pem
  dpsctl group create edge-fleet --attestation symmetric-key
  dpsctl group list
  dpsctl group compute-key --group edge-fleet dev-001
  dpsctl group registrations factory-a
  dpsctl group export --show-keys -o jsonl > groups.jsonl
  dpsctl group import groups.jsonl --mode upsert
  dpsctl group delete factory-a --yes`,
	}
	cmd.AddCommand(
		create.NewCmdCreate(f, nil),
		show.NewCmdShow(f, nil),
		list.NewCmdList(f, nil),
		update.NewCmdUpdate(f, nil),
		delete.NewCmdDelete(f, nil),
		attestation.NewCmdAttestation(f, nil),
		computekey.NewCmdComputeKey(f, nil),
		registrations.NewCmdRegistrations(f, nil),
		importcmd.NewCmdImport(f, nil),
		export.NewCmdExport(f, nil),
	)
	return cmd
}
