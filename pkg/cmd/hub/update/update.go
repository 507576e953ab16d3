// Package update is "dpsctl hub update".
package update

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

// UpdateOptions are the inputs of "hub update".
type UpdateOptions struct {
	IO      *iostreams.IOStreams
	Hubs    func(context.Context) (linkedhub.Service, error)
	Printer func() (*output.Printer, error)
	Quiet   bool

	HostName string
	// Weight and ApplyAllocationPolicy are nil when not given: the hub
	// keeps its value.
	Weight                *int
	ApplyAllocationPolicy *bool
}

// NewCmdUpdate builds "dpsctl hub update".
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Hubs: f.Hubs, Printer: f.Printer}
	var weight int
	var apply bool
	cmd := &cobra.Command{
		Use:   "update <host-name> [--weight N] [--apply-allocation-policy=BOOL]",
		Short: "Change the allocation weight or policy flag of a linked IoT hub",
		Long: `Change the allocation weight of a linked IoT hub in the hashed allocation
policy, or whether the service's allocation policy may pick it for
enrollments that name no hubs; what is not given stays as it is. The hub must
be linked ("hub link" links one). Works on the local service and, through the
resource manager, on a provisioning service in Azure (--dps-name/-g).`,
		Example: `  dpsctl hub update hub-west.lab.example --weight 5
  dpsctl hub update my-hub.azure-devices.net --apply-allocation-policy=false -n mydps -g my-resource-group`,
		Args:              cmdutil.ExactArgs(1, "give the IoT hub's host name"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.HostName = args[0]
			if cmd.Flags().Changed("weight") {
				if weight < 0 || weight > MaxWeight {
					return cmdutil.FlagErrorf("--weight must be between 0 and %d", MaxWeight)
				}
				opts.Weight = &weight
			}
			if cmd.Flags().Changed("apply-allocation-policy") {
				opts.ApplyAllocationPolicy = &apply
			}
			if opts.Weight == nil && opts.ApplyAllocationPolicy == nil {
				return cmdutil.FlagErrorf("give --weight or --apply-allocation-policy")
			}
			opts.Quiet = f.Quiet()
			if runF != nil {
				return runF(opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&weight, "weight", 1, "Allocation weight in the hashed policy (0 to 1000)")
	cmd.Flags().BoolVar(&apply, "apply-allocation-policy", true, "Let the service's allocation policy pick this hub for enrollments that name no hubs")
	_ = cmd.RegisterFlagCompletionFunc("weight", cobra.NoFileCompletions)
	return cmd
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	linked, err := svc.LinkedHubs(ctx)
	if err != nil {
		return err
	}
	var cur *linkedhub.Hub
	for i, h := range linked {
		short, _, _ := strings.Cut(h.HostName, ".")
		if strings.EqualFold(h.HostName, opts.HostName) || strings.EqualFold(short, opts.HostName) {
			cur = &linked[i]
		}
	}
	if cur == nil {
		return fmt.Errorf("IoT hub %q is not linked (see \"dpsctl hub list\"; \"dpsctl hub link\" links one): %w", opts.HostName, linkedhub.ErrNotFound)
	}
	weight, apply := cur.AllocationWeight, cur.ApplyAllocationPolicy
	if opts.Weight != nil {
		weight = *opts.Weight
	}
	if opts.ApplyAllocationPolicy != nil {
		apply = *opts.ApplyAllocationPolicy
	}
	h, err := svc.LinkHub(ctx, cur.HostName, weight, apply)
	if err != nil {
		return err
	}
	view, err := shared.View(ctx, svc, h)
	if err != nil {
		return err
	}
	if err := output.Print(p, view, shared.DetailColumns); err != nil {
		return err
	}
	if !opts.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Updated IoT hub %q\n", h.HostName)
	}
	return nil
}
