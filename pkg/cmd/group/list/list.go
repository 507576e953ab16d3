// Package list is "dpsctl group list".
package list

import (
	"context"
	"iter"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "group list".
type ListOptions struct {
	cmdutil.Service

	PageSize int // 0: service default
	Top      int // 0: all
}

// NewCmdList builds "dpsctl group list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List enrollment groups",
		Long: `List enrollment groups, fetching them page by page as they are printed. The
service returns them without keys or certificates.`,
		Example: `  dpsctl group list
  dpsctl group list --top 10 -o json
  dpsctl group list --query "[?attestation.type=='symmetricKey'].enrollmentGroupId" -o tsv`,
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
	cmdutil.PagingFlags(cmd, &opts.PageSize, &opts.Top, "Groups per request", "groups")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	q := dps.QueryOptions{PageSize: cmdutil.PageSize(opts.PageSize, opts.Top)}
	return cmdutil.ShowList(ctx, opts.Service, func(ctx context.Context, c *dps.Client) iter.Seq2[model.EnrollmentGroup, error] {
		return c.Groups(ctx, q)
	}, opts.Top, shared.Columns, "enrollment groups")
}
