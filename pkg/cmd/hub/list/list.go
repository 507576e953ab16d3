// Package list is "dpsctl hub list".
package list

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of "hub list".
type ListOptions struct {
	Hubs    func(context.Context) (linkedhub.Service, error)
	Printer func() (*output.Printer, error)
}

// NewCmdList builds "dpsctl hub list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Hubs: f.Hubs, Printer: f.Printer}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the IoT hubs linked to the local service",
		Long: `List the IoT hubs linked to the local provisioning service, with their
allocation weight, whether the service's allocation policy may pick them for
enrollments that name no hubs, and how many devices their registries hold.
The connection strings show with -o json --show-keys.`,
		Example: `  dpsctl hub list
  dpsctl hub list -o json --show-keys`,
		Args: cmdutil.ExactArgs(0, "list takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	svc, err := opts.Hubs(ctx)
	if err != nil {
		return err
	}
	hubs, err := shared.Hubs(ctx, svc)
	if err != nil {
		return err
	}
	return output.PrintList(p, hubs, shared.Columns, "linked IoT hubs")
}
