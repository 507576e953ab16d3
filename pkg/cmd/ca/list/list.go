// Package list is "dpsctl ca list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "ca list".
type ListOptions struct {
	CAs     func(context.Context) (cacert.Service, error)
	Printer func() (*output.Printer, error)
}

// NewCmdList builds "dpsctl ca list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{CAs: f.CAs, Printer: f.Printer}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the CA certificates of the service",
		Long: `List the CA certificates of the provisioning service: their subject, whether
possession of their key was proven (only verified certificates authenticate
devices), their expiry and SHA-1 thumbprint. -o json prints them as Azure
Resource Manager's certificates API does.`,
		Example: `  dpsctl ca list
  dpsctl ca list -o json --query '[?!properties.isVerified].name'`,
		Args: cmdutil.ExactArgs(0, "list takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.CAs(ctx)
	if err != nil {
		return err
	}
	list, err := svc.List(ctx)
	if err != nil {
		return err
	}
	return output.PrintList(p, list, shared.Columns, "CA certificates")
}
