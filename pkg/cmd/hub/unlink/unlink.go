// Package unlink is "dpsctl hub unlink".
package unlink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/spf13/cobra"
)

// UnlinkOptions are the inputs of "hub unlink".
type UnlinkOptions struct {
	IO    *iostreams.IOStreams
	Hubs  func(context.Context) (linkedhub.Service, error)
	Quiet bool

	HostNames []string
	Yes       bool
}

// NewCmdUnlink builds "dpsctl hub unlink".
func NewCmdUnlink(f *cmdutil.Factory, runF func(*UnlinkOptions) error) *cobra.Command {
	opts := &UnlinkOptions{IO: f.IOStreams, Hubs: f.Hubs}
	cmd := &cobra.Command{
		Use:   "unlink <host-name>...",
		Short: "Unlink IoT hubs from the local service",
		Long: `Unlink IoT hubs from the local provisioning service. Devices are no longer
assigned to them; the devices already in their registries stay there and can
still connect. With no hub linked, registrations fail with error 400208.`,
		Example:           `  dpsctl hub unlink hub-west.lab.example --yes`,
		Args:              cmdutil.MinimumArgs(1, "give the host name of at least one linked IoT hub"),
		ValidArgsFunction: shared.CompleteHubs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.HostNames = args
			opts.Quiet = f.Quiet()
			if runF != nil {
				return runF(opts)
			}
			return unlinkRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func unlinkRun(ctx context.Context, opts *UnlinkOptions) error {
	question := fmt.Sprintf("Unlink IoT hub %q?", opts.HostNames[0])
	if len(opts.HostNames) > 1 {
		question = fmt.Sprintf("Unlink %d IoT hubs (%s)?", len(opts.HostNames), strings.Join(opts.HostNames, ", "))
	}
	if err := cmdutil.ConfirmDestructive(opts.IO, opts.Yes, question); err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range opts.HostNames {
		err := svc.UnlinkHub(ctx, name)
		switch {
		case errors.Is(err, linkedhub.ErrNotFound):
			errs = append(errs, fmt.Errorf("IoT hub %q is not linked", name))
		case err != nil:
			errs = append(errs, err)
		case !opts.Quiet:
			fmt.Fprintf(opts.IO.ErrOut, "Unlinked IoT hub %q\n", name)
		}
	}
	return errors.Join(errs...)
}
