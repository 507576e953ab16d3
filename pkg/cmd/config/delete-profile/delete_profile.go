// Package deleteprofile is "dpsctl config delete-profile".
package deleteprofile

import (
	"context"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/cmd/config/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/spf13/cobra"
)

// DeleteProfileOptions are the inputs of "config delete-profile".
type DeleteProfileOptions struct {
	IO   *iostreams.IOStreams
	Name string
}

// NewCmdDeleteProfile builds "dpsctl config delete-profile".
func NewCmdDeleteProfile(f *cmdutil.Factory, runF func(*DeleteProfileOptions) error) *cobra.Command {
	opts := &DeleteProfileOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "delete-profile <name>",
		Short: "Remove a profile",
		Long: `Remove a profile from the configuration file. Deleting the current profile
leaves no profile current, so dpsctl falls back to the embedded service.`,
		Example:           `  dpsctl config delete-profile staging`,
		Args:              cmdutil.ExactArgs(1, "name the profile"),
		ValidArgsFunction: shared.CompleteProfileNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return deleteProfileRun(cmd.Context(), opts)
		},
	}
}

func deleteProfileRun(ctx context.Context, opts *DeleteProfileOptions) error {
	file, err := shared.ReadFile()
	if err != nil {
		return err
	}
	wasCurrent := file.CurrentProfile == opts.Name
	if err := file.Delete(opts.Name); err != nil {
		return err
	}
	if err := file.Save(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted profile %q\n", opts.Name)
	if wasCurrent {
		fmt.Fprintln(opts.IO.ErrOut, "No profile is current now")
	}
	return nil
}
