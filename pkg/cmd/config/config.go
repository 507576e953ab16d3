// Package config is the "dpsctl config" noun: named connection profiles in
// the configuration file.
package config

import (
	deleteprofile "github.com/dpsctl/dpsctl/pkg/cmd/config/delete-profile"
	"github.com/dpsctl/dpsctl/pkg/cmd/config/list"
	"github.com/dpsctl/dpsctl/pkg/cmd/config/path"
	setprofile "github.com/dpsctl/dpsctl/pkg/cmd/config/set-profile"
	"github.com/dpsctl/dpsctl/pkg/cmd/config/show"
	useprofile "github.com/dpsctl/dpsctl/pkg/cmd/config/use-profile"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdConfig builds "dpsctl config".
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Manage connection profiles",
		Long: `Manage named connection profiles in the configuration file
($XDG_CONFIG_HOME/dpsctl/config.yaml, or ~/.config/dpsctl/config.yaml).

A profile holds a service connection string and optionally a CA file. The
current profile is used when neither --connection-string nor
DPSCTL_CONNECTION_STRING is given; --profile and DPSCTL_PROFILE pick another.
With no connection string at all dpsctl uses its embedded service.`,
		Example: `  dpsctl config set-profile prod --connection-string "HostName=mydps.azure-devices-provisioning.net;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=…"
  dpsctl config use-profile prod
  dpsctl config list`,
	}
	cmd.AddCommand(
		setprofile.NewCmdSetProfile(f, nil),
		useprofile.NewCmdUseProfile(f, nil),
		list.NewCmdList(f, nil),
		show.NewCmdShow(f, nil),
		deleteprofile.NewCmdDeleteProfile(f, nil),
		path.NewCmdPath(f, nil),
	)
	return cmd
}
