// Package show is "dpsctl ca show".
package show

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "ca show".
type ShowOptions struct {
	CAs     func(context.Context) (cacert.Service, error)
	Printer func() (*output.Printer, error)

	Name string
}

// NewCmdShow builds "dpsctl ca show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{CAs: f.CAs, Printer: f.Printer}
	return &cobra.Command{
		Use:   "show <name>",
		Short: "Show a CA certificate of the service",
		Long: `Show a CA certificate of the provisioning service: subject, SHA-1 and SHA-256
thumbprints, expiry, whether it is verified, and the etag that "ca verify"
and "ca delete" write under.`,
		Example: `  dpsctl ca show lab-root
  dpsctl ca show lab-root -o json`,
		Args:              cmdutil.ExactArgs(1, "give the name of one CA certificate"),
		ValidArgsFunction: shared.CompleteNames(f, false),
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
	svc, err := opts.CAs(ctx)
	if err != nil {
		return err
	}
	c, err := svc.Get(ctx, opts.Name)
	if err != nil {
		return shared.Explain(err, opts.Name)
	}
	return output.Print(p, *c, shared.DetailColumns)
}
