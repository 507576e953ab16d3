// Package useprofile is "dpsctl config use-profile".
package useprofile

import (
	"context"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/cmd/config/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/spf13/cobra"
)

// UseProfileOptions are the inputs of "config use-profile".
type UseProfileOptions struct {
	IO   *iostreams.IOStreams
	Name string
}

// NewCmdUseProfile builds "dpsctl config use-profile".
func NewCmdUseProfile(f *cmdutil.Factory, runF func(*UseProfileOptions) error) *cobra.Command {
	opts := &UseProfileOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "use-profile <name>",
		Short: "Make a profile the current one",
		Long: `Make a profile the current one: commands then use its connection string
and CA file unless a flag or DPSCTL_CONNECTION_STRING / DPSCTL_PROFILE
says otherwise. "dpsctl config list" shows which profile is current.`,
		Example:           `  dpsctl config use-profile prod`,
		Args:              cmdutil.ExactArgs(1, "name the profile"),
		ValidArgsFunction: shared.CompleteProfileNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return useProfileRun(cmd.Context(), opts)
		},
	}
}

func useProfileRun(ctx context.Context, opts *UseProfileOptions) error {
	file, err := shared.ReadFile()
	if err != nil {
		return err
	}
	if err := file.Use(opts.Name); err != nil {
		return err
	}
	if err := file.Save(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Profile %q is current\n", opts.Name)
	return nil
}
