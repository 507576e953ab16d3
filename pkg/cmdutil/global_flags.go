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
	pf.StringVar(&g.AuthType, "auth-type", "", "How to authenticate to the service API: key (shared access policy) or login (Microsoft Entra ID) (default $DPSCTL_AUTH_TYPE, the profile, key with a connection string, else login)")
	pf.StringVar(&g.Credential, "credential", "", "Entra ID identity for login and the resource manager: azcli, env, workload-identity, managed-identity or device-code (default $DPSCTL_CREDENTIAL, the profile, or azcli)")
	pf.StringVarP(&g.DPSName, "dps-name", "n", "", "Azure provisioning service by name, found through the resource manager (default $DPSCTL_DPS_NAME or the profile)")
	pf.StringVarP(&g.ResourceGroup, "resource-group", "g", "", "Resource group of --dps-name (default $DPSCTL_RESOURCE_GROUP, the profile, or a search of the subscription)")
	pf.StringVar(&g.Subscription, "subscription", "", "Azure subscription of --dps-name (default $DPSCTL_SUBSCRIPTION, the profile, or the Azure CLI's current one)")
	pf.StringVar(&g.Cloud, "cloud", "", "Azure cloud: AzureCloud, AzureChinaCloud or AzureUSGovernment (default $DPSCTL_CLOUD, the profile, or AzureCloud)")
	pf.StringVar(&g.ARMEndpoint, "arm-endpoint", "", "Resource manager base URL of a private cloud or a test server, instead of --cloud's (default $DPSCTL_ARM_ENDPOINT or the profile)")
	pf.StringVar(&g.AuthorityHost, "authority-host", "", "Microsoft Entra ID authority URL, instead of --cloud's (default $DPSCTL_AUTHORITY_HOST or the profile)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "Say more about errors: the request IDs of Azure answers, the full sign-in failure")
	_ = cmd.RegisterFlagCompletionFunc("auth-type", FixedCompletions("key", "login"))
	_ = cmd.RegisterFlagCompletionFunc("credential", FixedCompletions("azcli", "env", "workload-identity", "managed-identity", "device-code"))
	_ = cmd.RegisterFlagCompletionFunc("cloud", FixedCompletions("AzureCloud", "AzureChinaCloud", "AzureUSGovernment"))
	for _, name := range []string{"dps-name", "resource-group", "subscription"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	_ = cmd.MarkPersistentFlagFilename("ca-file", "pem", "cer", "crt", "der")
	_ = cmd.MarkPersistentFlagDirname("data-dir")
	_ = cmd.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return profileNames(), cobra.ShellCompDirectiveNoFileComp
	})
}

// FixedCompletions completes a flag with fixed values.
func FixedCompletions(values ...string) func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
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
