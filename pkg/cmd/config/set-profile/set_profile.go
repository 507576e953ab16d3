// Package setprofile is "dpsctl config set-profile".
package setprofile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/azure"
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
	IO *iostreams.IOStreams
	// Azure finds the instance named by the global --dps-name,
	// --resource-group and --subscription.
	Azure            func(context.Context) (*azure.Target, error)
	Name             string
	ConnectionString string
	CAFile           string
	APIVersion       string
	Use              bool

	// From the global flags: the instance in Azure and how to reach it.
	DPSName       string
	ResourceGroup string
	Subscription  string
	AuthType      string
	Credential    string
	Cloud         string
	Policy        string
}

// NewCmdSetProfile builds "dpsctl config set-profile".
func NewCmdSetProfile(f *cmdutil.Factory, runF func(*SetProfileOptions) error) *cobra.Command {
	opts := &SetProfileOptions{IO: f.IOStreams, Azure: f.Azure}
	cmd := &cobra.Command{
		Use:   "set-profile <name> {--connection-string <string> | -n <dps> [-g <group>]} [--ca-file <file>]",
		Short: "Add or replace a connection profile",
		Long: `Add a named profile, or replace it if it exists. The first profile becomes the
current one; --use makes any profile current.

A profile names its service by connection string, checked before it is
saved, or, in Azure, by the instance's name (-n) and resource group (-g):
dpsctl signs in (the Azure CLI's account unless --credential says
otherwise), finds the instance through the resource manager in
--subscription (default: the Azure CLI's current one) and saves its host
name, ID scope, resource group and subscription. Commands then sign in to
the service API with Microsoft Entra ID (--auth-type login, the default);
the identity needs the "Device Provisioning Service Data Contributor" role
on the instance. With --auth-type key the key of a shared access policy
(--policy, default provisioningserviceowner) is read through the resource
manager and saved as a connection string instead.`,
		Example: `  dpsctl config set-profile prod -n mydps -g my-resource-group
  dpsctl config set-profile prod-keys -n mydps -g my-resource-group --auth-type key
  dpsctl config set-profile prod --connection-string "HostName=mydps.azure-devices-provisioning.net;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=…"
  dpsctl config set-profile local --connection-string "$(dpsctl serve info -o json --show-keys --query connectionString)" --ca-file ~/.local/share/dpsctl/ca.pem --use`,
		Args: cmdutil.ExactArgs(1, "name the profile"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := config.ValidateProfileName(opts.Name); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			g := f.Flags
			if g == nil {
				g = &cmdutil.GlobalFlags{}
			}
			opts.DPSName, opts.ResourceGroup, opts.Subscription = g.DPSName, g.ResourceGroup, g.Subscription
			opts.AuthType, opts.Credential, opts.Cloud = strings.ToLower(g.AuthType), g.Credential, g.Cloud
			cs := strings.TrimSpace(opts.ConnectionString)
			switch {
			case cs == "" && opts.DPSName == "":
				return cmdutil.FlagErrorf("--connection-string or --dps-name (-n) is required")
			case cs != "" && opts.DPSName != "":
				return cmdutil.FlagErrorf("give --connection-string or --dps-name, not both")
			case opts.AuthType != "" && opts.AuthType != config.AuthKey && opts.AuthType != config.AuthLogin:
				return cmdutil.FlagErrorf("--auth-type must be key or login")
			case opts.Policy != "" && (opts.DPSName == "" || opts.AuthType != config.AuthKey):
				return cmdutil.FlagErrorf("--policy goes with --dps-name and --auth-type key")
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
	cmd.Flags().StringVar(&opts.Policy, "policy", "", "Shared access policy whose key --auth-type key saves (default provisioningserviceowner)")
	_ = cmd.RegisterFlagCompletionFunc("policy", cobra.NoFileCompletions)
	cmdutil.FileFlag(cmd, "ca-file", "pem", "cer", "crt", "der")
	return cmd
}

func setProfileRun(ctx context.Context, opts *SetProfileOptions) error {
	prof := config.Profile{Name: opts.Name, AuthType: opts.AuthType, Credential: opts.Credential, Cloud: opts.Cloud}
	var host string
	if opts.DPSName != "" {
		t, err := opts.Azure(ctx)
		if err != nil {
			return err
		}
		in := t.Instance
		prof.DPSName, prof.ResourceGroup, prof.Subscription = in.Name, in.ResourceGroup, in.Subscription
		prof.Host, prof.IDScope, host = in.HostName, in.IDScope, in.HostName
		if opts.AuthType == config.AuthKey {
			keys, err := t.ARM.Keys(ctx, in)
			if err != nil {
				return err
			}
			p, err := azure.PickPolicy(keys, opts.Policy)
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			prof.ConnectionString = azure.ConnectionString(in.HostName, p)
			prof.Host = ""
		}
	} else {
		cs, err := sas.ParseConnectionString(opts.ConnectionString)
		if err != nil {
			return err
		}
		prof.ConnectionString, host = cs.String(), cs.HostName
	}
	caFile := opts.CAFile
	var err error
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
	prof.CAFile = caFile
	prof.APIVersion = opts.APIVersion
	if err := file.Set(prof); err != nil {
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
	fmt.Fprintf(opts.IO.ErrOut, "%s profile %q (%s) in %s\n", verb, opts.Name, host, file.Path)
	if prof.DPSName != "" {
		how := "Microsoft Entra ID sign-in"
		if prof.ConnectionString != "" {
			how = "the key of its shared access policy"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Provisioning service %s in resource group %s, subscription %s, ID scope %s; reached with %s\n", prof.DPSName, prof.ResourceGroup, prof.Subscription, prof.IDScope, how)
	}
	if file.CurrentProfile == opts.Name {
		fmt.Fprintf(opts.IO.ErrOut, "Profile %q is current\n", opts.Name)
	}
	return nil
}
