// Package path is "dpsctl config path".
package path

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// PathOptions are the inputs of "config path".
type PathOptions struct {
	Printer func() (*output.Printer, error)
}

// NewCmdPath builds "dpsctl config path".
func NewCmdPath(f *cmdutil.Factory, runF func(*PathOptions) error) *cobra.Command {
	opts := &PathOptions{Printer: f.Printer}
	return &cobra.Command{
		Use:     "path",
		Short:   "Print the configuration file path",
		Long:    "Print the path of the configuration file, whether or not it exists yet.",
		Example: `  dpsctl config path`,
		Args:    cmdutil.ExactArgs(0, "path takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return pathRun(cmd.Context(), opts)
		},
	}
}

func pathRun(ctx context.Context, opts *PathOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	path, err := config.FilePath()
	if err != nil {
		return err
	}
	return p.PrintValue(path)
}
