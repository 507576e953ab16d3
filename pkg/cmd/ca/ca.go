// Package ca is the "dpsctl ca" noun: the CA certificates of the
// provisioning service and the proof of possession of their keys.
package ca

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/add"
	deletecmd "github.com/dpsctl/dpsctl/pkg/cmd/ca/delete"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/show"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/verify"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdCA builds "dpsctl ca".
func NewCmdCA(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ca <command>",
		Aliases: []string{"certificate-authority"},
		Short:   "Manage the CA certificates of the provisioning service",
		Long: `Manage the CA certificates of the provisioning service: what the
--ca-reference of an X.509 enrollment group names. A certificate is
unverified when uploaded, and a group naming it authenticates no device until
possession of the certificate's private key is proven; "ca add --ca-key"
uploads and proves in one step.

These commands work on the local service of the data directory (--data-dir),
whether or not "dpsctl serve" runs, and not on the service a connection
string names: in Azure, CA certificates are resources of the management
plane. A running "dpsctl serve" sees a change within two seconds.`,
		Example: `  dpsctl ca add root.pem --name lab-root --ca-key root.key
  dpsctl ca list
  dpsctl ca show lab-root
  dpsctl ca delete lab-root --yes`,
	}
	cmd.AddCommand(
		list.NewCmdList(f, nil),
		show.NewCmdShow(f, nil),
		add.NewCmdAdd(f, nil),
		verify.NewCmdVerify(f, nil),
		deletecmd.NewCmdDelete(f, nil),
	)
	return cmd
}
