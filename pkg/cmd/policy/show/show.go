// Package show is "dpsctl policy show".
package show

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/policy/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "policy show".
type ShowOptions struct {
	Policies func(context.Context) (*cmdutil.PolicySet, error)
	Printer  func() (*output.Printer, error)
	Name     string
}

// NewCmdShow builds "dpsctl policy show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Policies: f.Policies, Printer: f.Printer}
	return &cobra.Command{
		Use:   "show <key-name>",
		Short: "Show a shared access policy",
		Long: `Show a shared access policy of the provisioning service: its rights and keys,
masked unless --show-keys.`,
		Example: `  dpsctl policy show provisioningserviceowner
  dpsctl policy show enrollmentread -o json --show-keys`,
		Args:              cmdutil.ExactArgs(1, "name the policy"),
		ValidArgsFunction: shared.CompletePolicyNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	set, err := opts.Policies(ctx)
	if err != nil {
		return err
	}
	pol, err := set.Policy(opts.Name)
	if err != nil {
		return err
	}
	return output.Print(p, pol, shared.Columns)
}
