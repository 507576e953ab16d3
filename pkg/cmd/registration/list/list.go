// Package list is "dpsctl registration list".
package list

import (
	"context"
	"iter"

	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "registration list".
type ListOptions struct {
	cmdutil.Service

	GroupID  string // "" lists every registration
	PageSize int    // 0: service default
	Top      int    // 0: all
	Workers  int    // concurrent state reads without --group; 0: shared.DefaultWorkers
}

// NewCmdList builds "dpsctl registration list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "list [--group <group-id>]",
		Aliases: []string{"ls"},
		Short:   "List device registration states",
		Long: `List device registration states, printed as they are fetched.

With --group, the registrations of that enrollment group: one query, page by
page.

Without --group, every registration. The service has no call for that, so
dpsctl lists the registrations of each enrollment group, then reads the
registration state of each individual enrollment, one call per enrollment
(enrollments whose device has not registered are skipped). On Azure that is
one billed service operation per individual enrollment and counts against
the operations quota; dpsctl runs 8 of those reads at a time and prints in
enrollment order. Group registrations come first, then individual ones.

The GROUP column (and "enrollmentGroupId" in JSON) names the group a
registration was listed through; it is empty for individual enrollments.`,
		Example: `  dpsctl registration list --group factory-a
  dpsctl registration list --query "[?status=='failed'].[registrationId, errorMessage]" -o tsv
  dpsctl registration list --top 20 -o json`,
		Args: cmdutil.ExactArgs(0, "list takes no arguments; use --group to pick a group"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckPaging(opts.PageSize, opts.Top); err != nil {
				return err
			}
			if cmd.Flags().Changed("group") {
				if err := model.ValidateID(opts.GroupID); err != nil {
					return cmdutil.FlagErrorf("--group %q: %v", opts.GroupID, err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.GroupID, "group", "", "List the registrations of this enrollment group only")
	cmdutil.PagingFlags(cmd, &opts.PageSize, &opts.Top, "Items per query request", "registrations")
	_ = cmd.RegisterFlagCompletionFunc("group", shared.CompleteGroupIDs(f))
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.ShowList(ctx, opts.Service, func(ctx context.Context, c *dps.Client) iter.Seq2[shared.Registration, error] {
		if opts.GroupID == "" {
			return shared.AllRegistrations(ctx, c, dps.QueryOptions{PageSize: opts.PageSize}, opts.Workers)
		}
		q := dps.QueryOptions{PageSize: cmdutil.PageSize(opts.PageSize, opts.Top)}
		return shared.GroupRegistrations(ctx, c, opts.GroupID, q)
	}, opts.Top, shared.Columns, "registrations")
}
