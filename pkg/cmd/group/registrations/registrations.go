// Package registrations is "dpsctl group registrations".
package registrations

import (
	"context"
	"iter"

	groupshared "github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// RegistrationsOptions are the inputs of "group registrations".
type RegistrationsOptions struct {
	cmdutil.Service

	GroupID  string
	PageSize int // 0: service default
	Top      int // 0: all
}

// NewCmdRegistrations builds "dpsctl group registrations".
func NewCmdRegistrations(f *cmdutil.Factory, runF func(*RegistrationsOptions) error) *cobra.Command {
	opts := &RegistrationsOptions{Service: f.Service()}
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
			if err := cmdutil.CheckPaging(opts.PageSize, opts.Top); err != nil {
				return err
			}
			opts.GroupID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return registrationsRun(cmd.Context(), opts)
		},
	}
	cmdutil.PagingFlags(cmd, &opts.PageSize, &opts.Top, "Registrations per request", "registrations")
	return cmd
}

func registrationsRun(ctx context.Context, opts *RegistrationsOptions) error {
	q := dps.QueryOptions{PageSize: cmdutil.PageSize(opts.PageSize, opts.Top)}
	return cmdutil.ShowList(ctx, opts.Service, func(ctx context.Context, c *dps.Client) iter.Seq2[shared.Registration, error] {
		return shared.GroupRegistrations(ctx, c, opts.GroupID, q)
	}, opts.Top, shared.Columns, "registrations")
}
