// Package show is "dpsctl instance show".
package show

import (
	"context"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// Columns are the fields of an instance.
var Columns = []output.Column[azure.Instance]{
	{Header: "NAME", Value: func(i azure.Instance) string { return i.Name }},
	{Header: "RESOURCE GROUP", Value: func(i azure.Instance) string { return i.ResourceGroup }},
	{Header: "SUBSCRIPTION", Value: func(i azure.Instance) string { return i.Subscription }},
	{Header: "LOCATION", Value: func(i azure.Instance) string { return i.Location }},
	{Header: "HOST NAME", Value: func(i azure.Instance) string { return i.HostName }},
	{Header: "ID SCOPE", Value: func(i azure.Instance) string { return i.IDScope }},
	{Header: "DEVICE ENDPOINT", Value: func(i azure.Instance) string { return i.DeviceEndpoint }},
	{Header: "ALLOCATION POLICY", Value: func(i azure.Instance) string { return i.AllocationPolicy }},
	{Header: "LINKED HUBS", Value: func(i azure.Instance) string {
		hubs := make([]string, len(i.LinkedHubs))
		for n, h := range i.LinkedHubs {
			hubs[n] = h.Name + " (weight " + strconv.Itoa(h.AllocationWeight) + ")"
		}
		return strings.Join(hubs, ", ")
	}},
}

// ShowOptions are the inputs of "instance show".
type ShowOptions struct {
	Azure   func(context.Context) (*azure.Target, error)
	Printer func() (*output.Printer, error)
}

// NewCmdShow builds "dpsctl instance show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Azure: f.Azure, Printer: f.Printer}
	return &cobra.Command{
		Use:   "show",
		Short: "Show the provisioning service's host name, ID scope and linked hubs",
		Long: `Show the Azure provisioning service named by -n/-g (or the profile) as Azure
Resource Manager describes it: the host name of its service API, its ID
scope, the device endpoint devices register with, the allocation policy and
the linked IoT hubs with their weights. -o json prints every field, the
linked hubs' connection strings masked unless --show-keys (ARM itself hides
their keys).

The subscription is --subscription, else the profile's, else the Azure
CLI's current one (az account show); without -g the subscription is
searched for the name.`,
		Example: `  dpsctl instance show -n mydps -g my-resource-group
  dpsctl instance show -o json --query idScope
  dpsctl instance show --profile prod`,
		Args: cmdutil.ExactArgs(0, "instance show takes no arguments: name the instance with -n"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	t, err := opts.Azure(ctx)
	if err != nil {
		return err
	}
	return output.Print(p, *t.Instance, Columns)
}
