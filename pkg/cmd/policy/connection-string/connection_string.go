// Package connectionstring is "dpsctl policy connection-string".
package connectionstring

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/policy/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// DefaultPolicy is the policy every provisioning service has.
const DefaultPolicy = "provisioningserviceowner"

// ConnectionString is what the command prints.
type ConnectionString struct {
	KeyName          string `json:"keyName"`
	ConnectionString string `json:"connectionString"`
}

// Columns are the fields printed.
var Columns = []output.Column[ConnectionString]{
	{Header: "CONNECTION STRING", Value: func(c ConnectionString) string { return c.ConnectionString }, Secret: true, Full: true},
}

// ConnectionStringOptions are the inputs of "policy connection-string".
type ConnectionStringOptions struct {
	Policies func(context.Context) (*cmdutil.PolicySet, error)
	Printer  func() (*output.Printer, error)
	Name     string
}

// NewCmdConnectionString builds "dpsctl policy connection-string".
func NewCmdConnectionString(f *cmdutil.Factory, runF func(*ConnectionStringOptions) error) *cobra.Command {
	opts := &ConnectionStringOptions{Policies: f.Policies, Printer: f.Printer}
	return &cobra.Command{
		Use:     "connection-string [<key-name>]",
		Aliases: []string{"cs"},
		Short:   "Print the service connection string of a policy",
		Long: `Print the service connection string of a shared access policy (default
provisioningserviceowner), made of the service's host name, the policy's
name and its primary key: what "az iot dps connection-string show" prints.
The key is masked unless --show-keys.`,
		Example: `  dpsctl policy connection-string --show-keys
  export DPSCTL_CONNECTION_STRING="$(dpsctl policy connection-string enrollmentread --show-keys -o tsv)"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.FlagErrorf("name at most one policy")
			}
			return nil
		},
		ValidArgsFunction: shared.CompletePolicyNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = DefaultPolicy
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return connectionStringRun(cmd.Context(), opts)
		},
	}
}

func connectionStringRun(ctx context.Context, opts *ConnectionStringOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	set, err := opts.Policies(ctx)
	if err != nil {
		return err
	}
	pol, err := set.Policy(opts.Name)
	if err != nil {
		return err
	}
	return output.Print(p, ConnectionString{KeyName: pol.KeyName, ConnectionString: pol.ConnectionString(set.Host)}, Columns)
}
