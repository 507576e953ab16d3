// Package delete is "dpsctl ca delete".
package delete

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/spf13/cobra"
)

// DeleteOptions are the inputs of "ca delete".
type DeleteOptions struct {
	IO    *iostreams.IOStreams
	CAs   func(context.Context) (cacert.Service, error)
	Quiet bool

	Names []string
	ETag  string // --etag: delete only at this etag
	Yes   bool
}

// NewCmdDelete builds "dpsctl ca delete".
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, CAs: f.CAs}
	cmd := &cobra.Command{
		Use:   "delete <name>...",
		Short: "Delete CA certificates of the service",
		Long: `Delete CA certificates of the provisioning service. Enrollment groups whose
--ca-reference names a deleted certificate authenticate no device until a
certificate of that name is added and verified again.

Each certificate is deleted at the etag read just before (or at --etag, for
one certificate), so one changed in between is kept.`,
		Example: `  dpsctl ca delete lab-root --yes
  dpsctl ca delete lab-root --etag "$(dpsctl ca show lab-root -o tsv --query etag)" --yes`,
		Args:              cmdutil.MinimumArgs(1, "give the name of at least one CA certificate"),
		ValidArgsFunction: shared.CompleteNames(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			opts.Quiet = f.Quiet()
			if opts.ETag != "" && len(args) > 1 {
				return cmdutil.FlagErrorf("--etag names the version of one certificate; give one name")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ETag, "etag", "", "Delete only if the certificate still has this etag")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	question := fmt.Sprintf("Delete CA certificate %q?", opts.Names[0])
	if len(opts.Names) > 1 {
		question = fmt.Sprintf("Delete %d CA certificates (%s)?", len(opts.Names), strings.Join(opts.Names, ", "))
	}
	if err := cmdutil.ConfirmDestructive(opts.IO, opts.Yes, question); err != nil {
		return err
	}
	svc, err := opts.CAs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range opts.Names {
		etag := opts.ETag
		if etag == "" {
			cur, err := svc.Get(ctx, name)
			if err != nil {
				errs = append(errs, shared.Explain(err, name))
				continue
			}
			etag = cur.ETag
		}
		if err := svc.Delete(ctx, name, etag); err != nil {
			errs = append(errs, shared.Explain(err, name))
			continue
		}
		if !opts.Quiet {
			fmt.Fprintf(opts.IO.ErrOut, "Deleted CA certificate %q\n", name)
		}
	}
	return errors.Join(errs...)
}
