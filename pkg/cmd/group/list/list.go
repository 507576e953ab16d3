// Package list is "dpsctl group list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "group list".
type ListOptions struct {
	Client  func(context.Context) (*dps.Client, error)
	Printer func() (*output.Printer, error)
	Ctx     context.Context

	PageSize int // 0: service default
	Top      int // 0: all
}

// NewCmdList builds "dpsctl group list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Client: f.Client, Printer: f.Printer}
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
			if opts.PageSize < 0 {
				return cmdutil.FlagErrorf("--page-size must be positive")
			}
			if opts.Top < 0 {
				return cmdutil.FlagErrorf("--top must be positive")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	cmd.Flags().IntVar(&opts.PageSize, "page-size", 0, "Groups per request (default: the service's, 100)")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "Stop after this many groups (default: all)")
	return cmd
}

func listRun(opts *ListOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, err := opts.Client(opts.Ctx)
	if err != nil {
		return err
	}
	pageSize := opts.PageSize
	if opts.Top > 0 && (pageSize == 0 || pageSize > opts.Top) {
		pageSize = opts.Top
	}
	seq := c.Groups(opts.Ctx, dps.QueryOptions{PageSize: pageSize})
	return output.PrintSeq(p, cmdutil.Limit(seq, opts.Top), shared.Columns, "enrollment groups")
}
