// Package info is "dpsctl serve info".
package info

import (
	"context"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/spf13/cobra"
)

// Columns are the table fields of the local service's description.
var Columns = []output.Column[server.Info]{
	{Header: "CONNECTION STRING", Secret: true, Value: func(i server.Info) string { return i.ConnectionString }},
	{Header: "ID SCOPE", Value: func(i server.Info) string { return i.IDScope }},
	{Header: "HOST NAME", Value: func(i server.Info) string { return i.HostName }},
	{Header: "ADDRESS", Value: func(i server.Info) string { return i.Address }},
	{Header: "CA FILE", Value: func(i server.Info) string { return i.CAFile }},
	{Header: "MQTT ADDRESS", Value: func(i server.Info) string { return i.MQTTAddress }},
}

// InfoOptions are the inputs of "serve info".
type InfoOptions struct {
	Config  func() (*config.Config, error)
	Printer func() (*output.Printer, error)
}

// NewCmdInfo builds "dpsctl serve info".
func NewCmdInfo(f *cmdutil.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{Config: f.Config, Printer: f.Printer}
	return &cobra.Command{
		Use:   "info",
		Short: "Describe the local provisioning service",
		Long: `Print how to reach the local provisioning service of the data directory:
its connection string (masked unless --show-keys), ID scope, host name, the
address it listens (or last listened) on, the CA certificate clients must
trust, and the address of MQTT over TLS (empty when the last serve did not
serve MQTT; MQTT over WebSockets is on the address, at /$iothub/websocket). The data directory is set up on first use.`,
		Example: `  dpsctl serve info
  dpsctl serve info -o json --show-keys
  export DPSCTL_CONNECTION_STRING="$(dpsctl serve info --show-keys --query connectionString -o tsv)"`,
		Args: cmdutil.ExactArgs(0, "info takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return infoRun(cmd.Context(), opts)
		},
	}
}

func infoRun(ctx context.Context, opts *InfoOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	inst, err := server.Open(server.Options{DataDir: cfg.DataDir})
	if err != nil {
		return fmt.Errorf("open the local provisioning service in %s: %w", cfg.DataDir, err)
	}
	info := inst.Info()
	if err := inst.Close(); err != nil {
		return err
	}
	return output.Print(p, info, Columns)
}
