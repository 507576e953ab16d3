// Package root builds the dpsctl command tree: the root command with its
// global flags, the nouns, and the help topics.
//
// Adding a noun: write pkg/cmd/<noun>/<noun>.go with
// NewCmd<Noun>(f *cmdutil.Factory) *cobra.Command that only calls
// AddCommand on its verbs, then add it to topCommands with its name, aliases
// and Short, in group groupService (talks to the service) or groupLocal.
package root

import (
	"slices"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/ca"
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

// NewCmdRoot builds the root command with every command in it. It does no
// I/O.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command { return newCmdRoot(f, nil) }

// NewCmdRootFor builds the root command for one run with args, paying only
// for the commands the run can reach: when args name a top-level command
// first, only that one is built in full, and root help alone ("dpsctl",
// "dpsctl --help") needs none. The others are stand-ins that root help
// shows exactly as the real commands. Any other args get the whole tree,
// so errors, suggestions, "help <command>" and completion see every
// command.
func NewCmdRootFor(f *cmdutil.Factory, args []string) *cobra.Command {
	switch {
	case len(args) == 0 || len(args) == 1 && (args[0] == "--help" || args[0] == "-h"):
		return newCmdRoot(f, func(string) bool { return false })
	case topCommandNamed(args[0]) != "":
		name := topCommandNamed(args[0])
		return newCmdRoot(f, func(n string) bool { return n == name })
	}
	return NewCmdRoot(f)
}

// newCmdRoot builds the root; build says which top-level commands are built
// in full (nil: all).
func newCmdRoot(f *cmdutil.Factory, build func(name string) bool) *cobra.Command {
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
	for _, t := range topCommands {
		var c *cobra.Command
		if build == nil || build(t.name) {
			c = t.build(f)
		} else {
			c = t.standIn()
		}
		c.GroupID = t.group
		cmd.AddCommand(c)
	}
	cmd.SetHelpCommandGroupID(groupLocal)
	for _, t := range HelpTopics {
		cmd.AddCommand(newHelpTopic(t.Name, t.Short, t.Long))
	}

	finish(cmd)
	return cmd
}

// topCommand is a top-level command: how to build it, and what root help
// shows of it, for its stand-in. TestStandInsMatchTheCommands holds the two
// together.
type topCommand struct {
	group   string
	name    string
	aliases []string
	short   string
	build   func(*cmdutil.Factory) *cobra.Command
}

// topCommands in the order root help lists them.
var topCommands = []topCommand{
	{groupService, "enrollment", []string{"enrollments"}, "Manage individual enrollments", enrollment.NewCmdEnrollment},
	{groupService, "group", []string{"groups"}, "Manage enrollment groups", group.NewCmdGroup},
	{groupService, "registration", []string{"registrations"}, "Inspect and delete device registration states", registration.NewCmdRegistration},
	{groupService, "device", []string{"devices"}, "Act as a device: provision it and connect it to its hub", device.NewCmdDevice},
	{groupService, "hub", []string{"hubs"}, "Manage the IoT hubs linked to the provisioning service", hub.NewCmdHub},
	{groupService, "ca", []string{"certificate-authority"}, "Manage the CA certificates of the provisioning service", ca.NewCmdCA},
	{groupService, "instance", nil, "Describe the provisioning service in Azure", instance.NewCmdInstance},
	{groupService, "policy", []string{"policies"}, "Show the shared access policies of the provisioning service", policy.NewCmdPolicy},
	{groupLocal, "quickstart", nil, "Provision three simulated devices on the local service, end to end", func(f *cmdutil.Factory) *cobra.Command { return quickstart.NewCmdQuickstart(f, nil) }},
	{groupLocal, "serve", nil, "Run the local provisioning service", func(f *cmdutil.Factory) *cobra.Command { return serve.NewCmdServe(f, nil) }},
	{groupLocal, "cert", []string{"certificate"}, "Inspect, verify and create X.509 certificates", cert.NewCmdCert},
	{groupLocal, "tpm", nil, "Read TPM endorsement keys and derive registration IDs", tpm.NewCmdTPM},
	{groupLocal, "config", nil, "Manage connection profiles", configcmd.NewCmdConfig},
	{groupLocal, "version", nil, "Print the version of dpsctl", func(f *cmdutil.Factory) *cobra.Command { return version.NewCmdVersion(f, nil) }},
	{groupLocal, "completion", nil, "Generate a shell completion script", completion.NewCmdCompletion},
}

// topCommandNamed returns the name of the top-level command called arg by
// its name or an alias, or "".
func topCommandNamed(arg string) string {
	for _, t := range topCommands {
		if t.name == arg || slices.Contains(t.aliases, arg) {
			return t.name
		}
	}
	return ""
}

// standIn is what root help needs of the command: its name, aliases and
// summary. It is never run: a run that names it builds the real command.
func (t topCommand) standIn() *cobra.Command {
	return &cobra.Command{
		Use:     t.name,
		Aliases: t.aliases,
		Short:   t.short,
		RunE:    func(*cobra.Command, []string) error { return nil },
	}
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
