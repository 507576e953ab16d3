// Package setprofile is "dpsctl config set-profile".
package setprofile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/config/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// SetProfileOptions are the inputs of "config set-profile".
type SetProfileOptions struct {
	IO               *iostreams.IOStreams
	Name             string
	ConnectionString string
	CAFile           string
	APIVersion       string
	Use              bool
}

// NewCmdSetProfile builds "dpsctl config set-profile".
func NewCmdSetProfile(f *cmdutil.Factory, runF func(*SetProfileOptions) error) *cobra.Command {
	opts := &SetProfileOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "set-profile <name> --connection-string <string> [--ca-file <file>]",
		Short: "Add or replace a connection profile",
		Long: `Add a named profile, or replace it if it exists. The connection string is
checked before it is saved. The first profile becomes the current one; --use
makes any profile current.`,
		Example: `  dpsctl config set-profile prod --connection-string "HostName=mydps.azure-devices-provisioning.net;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=…"
  dpsctl config set-profile local --connection-string "$(dpsctl serve info -o json --show-keys --query connectionString)" --ca-file ~/.local/share/dpsctl/ca.pem --use`,
		Args: cmdutil.ExactArgs(1, "name the profile"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := config.ValidateProfileName(opts.Name); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if strings.TrimSpace(opts.ConnectionString) == "" {
				return cmdutil.FlagErrorf("--connection-string is required")
			}
			if opts.APIVersion != "" {
				if err := config.ValidateAPIVersion(opts.APIVersion); err != nil {
					return cmdutil.FlagErrorf("--api-version: %v", err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return setProfileRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ConnectionString, "connection-string", "", "Service connection string (HostName=…;SharedAccessKeyName=…;SharedAccessKey=…)")
	cmd.Flags().StringVar(&opts.CAFile, "ca-file", "", "Extra CA certificates to trust for this service")
	cmd.Flags().StringVar(&opts.APIVersion, "api-version", "", "Service api-version to send for this service, YYYY-MM-DD[-preview] (default 2021-10-01)")
	cmd.Flags().BoolVar(&opts.Use, "use", false, "Make the profile current")
	cmdutil.FileFlag(cmd, "ca-file", "pem", "cer", "crt", "der")
	return cmd
}

func setProfileRun(ctx context.Context, opts *SetProfileOptions) error {
	cs, err := sas.ParseConnectionString(opts.ConnectionString)
	if err != nil {
		return err
	}
	caFile := opts.CAFile
	if caFile != "" {
		if caFile, err = filepath.Abs(caFile); err != nil {
			return err
		}
		if _, err := certs.ReadFile(caFile); err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
	}
	file, err := shared.ReadFile()
	if err != nil {
		return err
	}
	_, existed := file.Profiles[opts.Name]
	if err := file.Set(config.Profile{Name: opts.Name, ConnectionString: cs.String(), CAFile: caFile, APIVersion: opts.APIVersion}); err != nil {
		return err
	}
	if opts.Use || file.CurrentProfile == "" {
		file.CurrentProfile = opts.Name
	}
	if err := file.Save(); err != nil {
		return err
	}
	verb := "Added"
	if existed {
		verb = "Updated"
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s profile %q (%s) in %s\n", verb, opts.Name, cs.HostName, file.Path)
	if file.CurrentProfile == opts.Name {
		fmt.Fprintf(opts.IO.ErrOut, "Profile %q is current\n", opts.Name)
	}
	return nil
}
