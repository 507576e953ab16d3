// Package list is "dpsctl config list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/config/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "config list".
type ListOptions struct {
	Printer func() (*output.Printer, error)
}

// NewCmdList builds "dpsctl config list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Printer: f.Printer}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the profiles",
		Long:    "List the profiles; * marks the current one. Connection strings are masked unless --show-keys is given.",
		Example: `  dpsctl config list
  dpsctl config list -o json --show-keys`,
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
	file, err := shared.ReadFile()
	if err != nil {
		return err
	}
	return output.PrintList(p, file.List(), shared.Columns, "profiles")
}
