// Package show is "dpsctl config show".
package show

import (
	"context"
	"errors"

	"github.com/dpsctl/dpsctl/pkg/cmd/config/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ShowOptions are the inputs of "config show".
type ShowOptions struct {
	Printer func() (*output.Printer, error)
	Name    string // "" for the current profile
}

// NewCmdShow builds "dpsctl config show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Printer: f.Printer}
	return &cobra.Command{
		Use:   "show [<name>]",
		Short: "Show a profile",
		Long:  "Show a profile, by default the current one. The connection string is masked unless --show-keys is given.",
		Example: `  dpsctl config show
  dpsctl config show prod --show-keys -o json`,
		Args:              cmdutil.MaximumArgs(1, "show takes at most one profile name"),
		ValidArgsFunction: shared.CompleteProfileNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
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
	file, err := shared.ReadFile()
	if err != nil {
		return err
	}
	name := opts.Name
	if name == "" {
		if name = file.CurrentProfile; name == "" {
			return errors.New(`no profile is current; name one or run "dpsctl config use-profile"`)
		}
	}
	prof, err := file.Get(name)
	if err != nil {
		return err
	}
	return output.Print(p, prof, shared.Columns)
}
