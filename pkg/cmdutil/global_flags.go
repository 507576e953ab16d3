package cmdutil

import (
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// AddGlobalFlags defines the persistent flags of the root command on cmd,
// bound to f.Flags. The root calls it; tests of a noun call it on the noun's
// command to parse the same global flags.
func AddGlobalFlags(cmd *cobra.Command, f *Factory) {
	pf := cmd.PersistentFlags()
	g := f.Flags
	StringEnumFlagAliases(pf, cmd, &g.Output, "output", "o", "", output.Formats(), nil,
		"Output format (default table, or $DPSCTL_OUTPUT)")
	pf.StringVar(&g.Query, "query", "", "JMESPath query applied to the JSON form of the result")
	pf.BoolVar(&g.ShowKeys, "show-keys", false, "Print symmetric keys and connection strings instead of ***")
	pf.StringVar(&g.ConnectionString, "connection-string", "", "Service connection string (default $DPSCTL_CONNECTION_STRING, the profile, or the embedded service)")
	pf.StringVar(&g.CAFile, "ca-file", "", "Extra CA certificates to trust for the service (PEM or DER)")
	pf.StringVar(&g.Profile, "profile", "", "Configuration profile to use; its connection string and CA file beat $DPSCTL_CONNECTION_STRING and $DPSCTL_CA_FILE (default $DPSCTL_PROFILE or the current profile)")
	pf.StringVar(&g.DataDir, "data-dir", "", "Use the embedded service on this data directory, whatever connection string the environment or profile gives (default $DPSCTL_DATA_DIR or ~/.local/share/dpsctl)")
	pf.BoolVar(&g.Quiet, "quiet", false, "Do not print which service is in use")
	pf.StringVar(&g.APIVersion, "api-version", "", "Service api-version to send, YYYY-MM-DD[-preview], for preview features (default $DPSCTL_API_VERSION, the profile, or 2021-10-01)")
	_ = cmd.MarkPersistentFlagFilename("ca-file", "pem", "cer", "crt", "der")
	_ = cmd.MarkPersistentFlagDirname("data-dir")
	_ = cmd.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return profileNames(), cobra.ShellCompDirectiveNoFileComp
	})
}

// profileNames lists the configured profiles for completion.
func profileNames() []cobra.Completion {
	path, err := config.FilePath()
	if err != nil {
		return nil
	}
	file, err := config.ReadFile(path)
	if err != nil {
		return nil
	}
	var names []cobra.Completion
	for _, p := range file.List() {
		names = append(names, p.Name)
	}
	return names
}
