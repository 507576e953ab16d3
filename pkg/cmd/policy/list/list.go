// Package list is "dpsctl policy list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/policy/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "policy list".
type ListOptions struct {
	Policies func(context.Context) (*cmdutil.PolicySet, error)
	Printer  func() (*output.Printer, error)
}

// NewCmdList builds "dpsctl policy list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Policies: f.Policies, Printer: f.Printer}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the shared access policies",
		Long: `List the shared access policies of the provisioning service with their rights;
the keys are masked unless --show-keys.`,
		Example: `  dpsctl policy list
  dpsctl policy list -n mydps -g my-resource-group -o json --show-keys`,
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
	set, err := opts.Policies(ctx)
	if err != nil {
		return err
	}
	return output.PrintList(p, set.Policies, shared.Columns, "shared access policies")
}
