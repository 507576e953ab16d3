// Package link is "dpsctl hub link".
package link

import (
	"context"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// MaxWeight is the largest allocation weight (the service's limit).
const MaxWeight = 1000

// LinkOptions are the inputs of "hub link".
type LinkOptions struct {
	IO      *iostreams.IOStreams
	Hubs    func(context.Context) (linkedhub.Service, error)
	Printer func() (*output.Printer, error)
	Quiet   bool

	HostName              string
	ConnectionString      string
	Weight                int
	ApplyAllocationPolicy bool
}

// NewCmdLink builds "dpsctl hub link".
func NewCmdLink(f *cmdutil.Factory, runF func(*LinkOptions) error) *cobra.Command {
	opts := &LinkOptions{IO: f.IOStreams, Hubs: f.Hubs, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "link <host-name>",
		Short: "Link an IoT hub to the local service",
		Long: `Link an IoT hub to the local provisioning service by host name, or change the
allocation weight and policy flag of a linked one. The local service serves
every linked hub itself, on its own address: devices assigned to it connect
to the service's address with the hub's name in their SAS token. The
default hub is named after the service's host name, which already resolves
to it; a hub under another name needs that name to reach the service too
(an /etc/hosts line, say) for clients that dial the host they are given.

--weight weighs the hub in the hashed allocation policy; with
--apply-allocation-policy=false the service's policy only picks the hub for
enrollments that name it.

For a provisioning service in Azure (--dps-name/-g, or a profile made with
-n) the hub is linked through the resource manager: give its resource name
or host name, and its iothubowner key is read from the IoT hub in the same
subscription, or give the hub's connection string with --connection-string
(a hub of another subscription).`,
		Example: `  dpsctl hub link hub-east.lab.example
  dpsctl hub link hub-west.lab.example --weight 3
  dpsctl hub link spare.lab.example --apply-allocation-policy=false
  dpsctl hub link my-hub -n mydps -g my-resource-group
  dpsctl hub link other-hub.azure-devices.net --connection-string "HostName=other-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=…" -n mydps`,
		Args:              cmdutil.ExactArgs(1, "give the IoT hub's host name"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Weight < 0 || opts.Weight > MaxWeight {
				return cmdutil.FlagErrorf("--weight must be between 0 and %d", MaxWeight)
			}
			opts.HostName = args[0]
			opts.Quiet = f.Quiet()
			if runF != nil {
				return runF(opts)
			}
			return linkRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Weight, "weight", 1, "Allocation weight in the hashed policy (0 to 1000)")
	cmd.Flags().StringVar(&opts.ConnectionString, "connection-string", "", "The IoT hub's connection string with RegistryWrite and ServiceConnect (Azure only; default: its iothubowner key, read through the resource manager)")
	cmd.Flags().BoolVar(&opts.ApplyAllocationPolicy, "apply-allocation-policy", true, "Let the service's allocation policy pick this hub for enrollments that name no hubs")
	_ = cmd.RegisterFlagCompletionFunc("weight", cobra.NoFileCompletions)
	return cmd
}

func linkRun(ctx context.Context, opts *LinkOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	before, err := svc.LinkedHubs(ctx)
	if err != nil {
		return err
	}
	var h linkedhub.Hub
	if opts.ConnectionString != "" {
		linker, ok := svc.(linkedhub.ConnectionStringLinker)
		if !ok {
			return cmdutil.FlagErrorf("--connection-string links a hub to a provisioning service in Azure (--dps-name); the local service serves its hubs itself")
		}
		if h, err = linker.LinkHubConnectionString(ctx, opts.HostName, opts.ConnectionString, opts.Weight, opts.ApplyAllocationPolicy); err != nil {
			return err
		}
	} else if h, err = svc.LinkHub(ctx, opts.HostName, opts.Weight, opts.ApplyAllocationPolicy); err != nil {
		if _, azure := svc.(linkedhub.ConnectionStringLinker); azure {
			return err
		}
		return cmdutil.FlagErrorWrap(err)
	}
	verb := "Linked"
	for _, b := range before {
		if strings.EqualFold(b.HostName, h.HostName) {
			verb = "Updated"
		}
	}
	view, err := shared.View(ctx, svc, h)
	if err != nil {
		return err
	}
	if err := output.Print(p, view, shared.DetailColumns); err != nil {
		return err
	}
	if !opts.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "%s IoT hub %q\n", verb, h.HostName)
	}
	return nil
}
