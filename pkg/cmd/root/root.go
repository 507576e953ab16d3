// Package root builds the dpsctl command tree: the root command with its
// global flags, the nouns, and the help topics.
//
// Adding a noun: write pkg/cmd/<noun>/<noun>.go with
// NewCmd<Noun>(f *cmdutil.Factory) *cobra.Command that only calls
// AddCommand on its verbs, then add it to the AddCommand list in NewCmdRoot
// with GroupID groupService (talks to the service) or groupLocal.
package root

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/cert"
	"github.com/dpsctl/dpsctl/pkg/cmd/completion"
	configcmd "github.com/dpsctl/dpsctl/pkg/cmd/config"
	"github.com/dpsctl/dpsctl/pkg/cmd/device"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment"
	"github.com/dpsctl/dpsctl/pkg/cmd/group"
	"github.com/dpsctl/dpsctl/pkg/cmd/hub"
	"github.com/dpsctl/dpsctl/pkg/cmd/instance"
	"github.com/dpsctl/dpsctl/pkg/cmd/policy"
	"github.com/dpsctl/dpsctl/pkg/cmd/quickstart"
	"github.com/dpsctl/dpsctl/pkg/cmd/registration"
	"github.com/dpsctl/dpsctl/pkg/cmd/serve"
	"github.com/dpsctl/dpsctl/pkg/cmd/tpm"
	"github.com/dpsctl/dpsctl/pkg/cmd/version"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// Command groups shown in help.
const (
	groupService = "service"
	groupLocal   = "local"
)

// NewCmdRoot builds the root command. It does no I/O.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dpsctl <command> <subcommand> [flags]",
		Short: "Manage Azure IoT Hub Device Provisioning Service enrollments",
		Long: `dpsctl manages the enrollments, enrollment groups and registrations of an
Azure IoT Hub Device Provisioning Service, or of the DPS-compatible service
built into dpsctl.

With a connection string (--connection-string, DPSCTL_CONNECTION_STRING or a
profile, see "dpsctl config") dpsctl talks to that service. Without one it
uses the embedded provisioning service on the local data directory, which
"dpsctl serve" also exposes over HTTPS.`,
		Example: `  dpsctl enrollment create dev-1 --attestation symmetric-key
  dpsctl enrollment list -o json
  dpsctl config set-profile prod --connection-string "HostName=…;SharedAccessKeyName=…;SharedAccessKey=…"
  dpsctl serve`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.Get().String(), // "dpsctl --version"
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return validateGlobalFlags(f)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.FlagErrorWrap(err)
	})
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetVersionTemplate("{{.Version}}\n")

	cmdutil.AddGlobalFlags(cmd, f)

	cmd.AddGroup(
		&cobra.Group{ID: groupService, Title: "Provisioning service commands:"},
		&cobra.Group{ID: groupLocal, Title: "Local commands:"},
	)
	for _, c := range []*cobra.Command{
		enrollment.NewCmdEnrollment(f),
		group.NewCmdGroup(f),
		registration.NewCmdRegistration(f),
		device.NewCmdDevice(f),
		hub.NewCmdHub(f),
		instance.NewCmdInstance(f),
		policy.NewCmdPolicy(f),
	} {
		c.GroupID = groupService
		cmd.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		quickstart.NewCmdQuickstart(f, nil),
		serve.NewCmdServe(f, nil),
		cert.NewCmdCert(f),
		tpm.NewCmdTPM(f),
		configcmd.NewCmdConfig(f),
		version.NewCmdVersion(f, nil),
		completion.NewCmdCompletion(f),
	} {
		c.GroupID = groupLocal
		cmd.AddCommand(c)
	}
	cmd.SetHelpCommandGroupID(groupLocal)
	for _, t := range HelpTopics {
		cmd.AddCommand(newHelpTopic(t.Name, t.Short, t.Long))
	}

	finish(cmd)
	return cmd
}

// validateGlobalFlags rejects a bad -o, $DPSCTL_OUTPUT or --query before any
// work is done.
func validateGlobalFlags(f *cmdutil.Factory) error {
	_, err := f.Printer()
	return err
}

// finish makes usage errors uniform across the tree: argument validators
// return FlagError, and a noun given an unknown verb fails with a usage
// error instead of printing help with exit code 0.
func finish(root *cobra.Command) {
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		return nil
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.HasSubCommands() && sub.Run == nil && sub.RunE == nil {
				sub.Args = func(cmd *cobra.Command, args []string) error {
					if len(args) > 0 {
						return unknownCommand(cmd, args[0])
					}
					return nil
				}
				sub.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
			} else if sub.Args != nil {
				orig := sub.Args
				sub.Args = func(cmd *cobra.Command, args []string) error {
					return cmdutil.FlagErrorWrap(orig(cmd, args))
				}
			}
			walk(sub)
		}
	}
	walk(root)
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := "unknown command " + quote(name) + " for " + quote(cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return cmdutil.FlagErrorf("%s", msg)
}

func quote(s string) string { return `"` + s + `"` }
