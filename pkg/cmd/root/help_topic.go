package root

import (
	"fmt"

	"github.com/spf13/cobra"
)

// HelpTopics are the pages of "dpsctl help <topic>".
var HelpTopics = []struct {
	Name, Short, Long string
}{
	{
		Name:  "exit-codes",
		Short: "Exit codes of dpsctl",
		Long: `dpsctl exits with one of these codes:

  0    success (also a list with no results)
  1    error: the service or the network failed, a file could not be read,
       a confirmation was declined
  2    usage error: an unknown command or flag, a bad flag value, a wrong
       number of arguments
  3    verification failed or denied: an invalid certificate chain, a device
       registration the service refused
  4    authentication failed: the service or Azure Resource Manager
       answered 401 or 403, the Entra ID sign-in failed (no az on PATH, an
       expired login), or the connection string or SAS token is malformed
  130  interrupted (Ctrl-C)

Errors are printed on stderr. Errors from the service add its HTTP status,
errorCode and trackingId, which Azure support asks for.
`,
	},
	{
		Name:  "environment",
		Short: "Environment variables dpsctl reads",
		Long: `Settings come from, in this order: a flag, an environment variable, the
profile in effect in the configuration file, the built-in default. A flag
always wins: --data-dir selects the embedded service on that directory even
when DPSCTL_CONNECTION_STRING or a profile names another service (giving
--connection-string or --profile with it is an error), and the profile
named by --profile supplies the connection string and CA file even when
DPSCTL_CONNECTION_STRING or DPSCTL_CA_FILE are set.

DPSCTL_CONNECTION_STRING  service connection string (--connection-string).
                          With none anywhere, dpsctl uses the embedded
                          provisioning service on the data directory.
DPSCTL_CA_FILE            extra CA certificates to trust (--ca-file)
DPSCTL_PROFILE            the profile to use (--profile); default is the
                          file's current-profile
DPSCTL_DATA_DIR           data directory of the embedded service and of
                          "dpsctl serve" (--data-dir); default
                          $XDG_DATA_HOME/dpsctl or ~/.local/share/dpsctl.
                          Unlike --data-dir it does not select the embedded
                          service over a connection string.
DPSCTL_DPS_NAME           Azure provisioning service by name (-n), found
                          through Azure Resource Manager
DPSCTL_RESOURCE_GROUP     its resource group (-g)
DPSCTL_SUBSCRIPTION       its subscription (--subscription); default: the
                          Azure CLI's current one (az account show)
DPSCTL_HOST               service API host reached with Entra ID tokens
DPSCTL_AUTH_TYPE          key (shared access policy) or login (Entra ID)
                          (--auth-type); default key with a connection
                          string, else login
DPSCTL_CREDENTIAL         azcli, env, workload-identity, managed-identity or
                          device-code (--credential); default azcli
DPSCTL_CLOUD              AzureCloud, AzureChinaCloud or AzureUSGovernment
                          (--cloud)
DPSCTL_ARM_ENDPOINT       base URL of Azure Resource Manager (a private
                          cloud, a test server)
DPSCTL_AUTHORITY_HOST     base URL of the Entra ID authority
SSL_CERT_FILE             system roots, trusted with DPSCTL_CA_FILE
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_FEDERATED_TOKEN_FILE
                          the identity of --credential env or
                          workload-identity
DPSCTL_OUTPUT             default output format: table, json, yaml or tsv
DPSCTL_QUIET              set to 1 to drop the line naming the service in use
DPSCTL_API_VERSION        service api-version to send, YYYY-MM-DD[-preview]
                          (--api-version, or api-version in the profile);
                          default 2021-10-01
DPSCTL_CONFIG             configuration file; default
                          $XDG_CONFIG_HOME/dpsctl/config.yaml or
                          ~/.config/dpsctl/config.yaml
DPSCTL_FORCE_TTY          treat stdout as a terminal (a number also sets the
                          width), for aligned tables in pipes
DPSCTL_PROMPT_DISABLED    never ask for confirmation (commands then need --yes)
`,
	},
	{
		Name:  "formatting",
		Short: "Output formats and --query",
		Long: `-o/--output selects the form of results:

  table  aligned columns with a header on a terminal; tab-separated values
         without header or truncation when stdout is not a terminal
  tsv    tab-separated values, always
  json   the service's JSON model, two-space indented; lists are arrays.
         What "-o json" prints can be given back to --from-file.
  yaml   the same document as YAML

--query applies a JMESPath expression (https://jmespath.org) to the JSON
form first, as az --query does:

  dpsctl enrollment list --query "[?provisioningStatus=='disabled'].registrationId" -o tsv
  dpsctl enrollment show dev-1 --query etag -o tsv

Symmetric keys and connection strings print as *** in every format unless
--show-keys is given.

Data goes to stdout; notes, prompts and the line naming the service in use
go to stderr.
`,
	},
}

func newHelpTopic(name, short, long string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Long:  long,
		// No Run: cobra lists the command under "Additional help topics".
	}
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprint(c.OutOrStdout(), c.Long)
	})
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		fmt.Fprint(c.OutOrStderr(), c.Long)
		return nil
	})
	return cmd
}
