// Package list is "dpsctl enrollment list".
package list

import (
	"context"
	"iter"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "enrollment list".
type ListOptions struct {
	cmdutil.Service

	PageSize int // 0: service default
	Top      int // 0: all
}

// NewCmdList builds "dpsctl enrollment list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List individual enrollments",
		Long: `List individual enrollments, fetching them page by page as they are printed.
The service returns them without symmetric keys or registration state.`,
		Example: `  dpsctl enrollment list
  dpsctl enrollment list --top 10 -o json
  dpsctl enrollment list --query "[?provisioningStatus=='disabled'].registrationId" -o tsv`,
		Args: cmdutil.ExactArgs(0, "list takes no arguments; use --query to filter"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckPaging(opts.PageSize, opts.Top); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmdutil.PagingFlags(cmd, &opts.PageSize, &opts.Top, "Enrollments per request", "enrollments")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	q := dps.QueryOptions{PageSize: cmdutil.PageSize(opts.PageSize, opts.Top)}
	return cmdutil.ShowList(ctx, opts.Service, func(ctx context.Context, c *dps.Client) iter.Seq2[model.IndividualEnrollment, error] {
		return c.Enrollments(ctx, q)
	}, opts.Top, shared.Columns, "enrollments")
}
