// Package update is "dpsctl enrollment update".
package update

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of "enrollment update".
type UpdateOptions struct {
	cmdutil.Service

	RegistrationID string
	Flags          shared.Flags
	ETag           string // If-Match instead of the etag read
	Force          bool   // If-Match: *
}

// NewCmdUpdate builds "dpsctl enrollment update".
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:   "update <registration-id> [flags]",
		Short: "Change fields of an individual enrollment",
		Long: `Change the fields of an individual enrollment that flags name, and keep
everything else: IoT hubs, initial twin, keys, certificates.

dpsctl reads the enrollment (and its attestation mechanism, so symmetric keys
are kept), applies the flags and writes it back only if nobody changed it in
between: the write carries the etag it read. --etag writes only if the
enrollment is at that version; --force overwrites whatever is there.

--from-file takes an enrollment as "-o json" prints it; its top-level fields
replace the current ones, and flags given as well override both.`,
		Example: `  dpsctl enrollment update dev-1 --provisioning-status disabled
  dpsctl enrollment update dev-1 --add-iot-hub hub2.azure-devices.net --remove-iot-hub hub1.azure-devices.net
  dpsctl enrollment update dev-1 --initial-twin-tags '{"site":"lab"}' --edge
  dpsctl enrollment update dev-1 --primary-key "$(head -c 32 /dev/urandom | base64)"`,
		Args:              cmdutil.ExactArgs(1, "give one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flags.Capture(cmd)
			opts.RegistrationID = args[0]
			if err := enroll.CheckUpdate(opts.ETag, opts.Force, opts.Flags.Validate, opts.Flags.Changed); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	opts.Flags.Register(cmd, true)
	shared.Kind.UpdateFlags(cmd, &opts.ETag, &opts.Force)
	return cmd
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	return shared.Kind.Update(ctx, enroll.UpdateInput[model.IndividualEnrollment]{
		Service: opts.Service,
		ID:      opts.RegistrationID, FromFile: opts.Flags.FromFile, ETag: opts.ETag, Force: opts.Force,
		Apply: func(e *model.IndividualEnrollment) error { return opts.Flags.Apply(e, true) },
	})
}
