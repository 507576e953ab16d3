// Package registrations is "dpsctl group registrations".
package registrations

import (
	"context"

	groupshared "github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// RegistrationsOptions are the inputs of "group registrations".
type RegistrationsOptions struct {
	Client  func(context.Context) (*dps.Client, error)
	Printer func() (*output.Printer, error)
	Ctx     context.Context

	GroupID  string
	PageSize int // 0: service default
	Top      int // 0: all
}

// NewCmdRegistrations builds "dpsctl group registrations".
func NewCmdRegistrations(f *cmdutil.Factory, runF func(*RegistrationsOptions) error) *cobra.Command {
	opts := &RegistrationsOptions{Client: f.Client, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "registrations <group-id>",
		Short: "List the registration states of an enrollment group's devices",
		Long: `List the registration states of the devices that registered through an
enrollment group, page by page as they are printed. It is the same as
"dpsctl registration list --group <group-id>".`,
		Example: `  dpsctl group registrations factory-a
  dpsctl group registrations factory-a --query "[?status=='failed'].registrationId" -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one group ID"),
		ValidArgsFunction: groupshared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.PageSize < 0 {
				return cmdutil.FlagErrorf("--page-size must be positive")
			}
			if opts.Top < 0 {
				return cmdutil.FlagErrorf("--top must be positive")
			}
			opts.GroupID = args[0]
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return registrationsRun(opts)
		},
	}
	cmd.Flags().IntVar(&opts.PageSize, "page-size", 0, "Registrations per request (default: the service's, 100)")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "Stop after this many registrations (default: all)")
	return cmd
}

func registrationsRun(opts *RegistrationsOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, err := opts.Client(opts.Ctx)
	if err != nil {
		return err
	}
	q := dps.QueryOptions{PageSize: opts.PageSize}
	if opts.Top > 0 && (q.PageSize == 0 || q.PageSize > opts.Top) {
		q.PageSize = opts.Top
	}
	seq := shared.GroupRegistrations(opts.Ctx, c, opts.GroupID, q)
	return output.PrintSeq(p, cmdutil.Limit(seq, opts.Top), shared.Columns, "registrations")
}
