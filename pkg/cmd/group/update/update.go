// Package update is "dpsctl group update".
package update

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of "group update".
type UpdateOptions struct {
	cmdutil.Service

	GroupID string
	Flags   shared.Flags
	ETag    string // If-Match instead of the etag read
	Force   bool   // If-Match: *
}

// NewCmdUpdate builds "dpsctl group update".
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:   "update <group-id> [flags]",
		Short: "Change fields of an enrollment group",
		Long: `Change the fields of an enrollment group that flags name, and keep
everything else: IoT hubs, initial twin, keys, signing certificates.

dpsctl reads the group (and its attestation mechanism, so group keys are
kept), applies the flags and writes it back only if nobody changed it in
between: the write carries the etag it read. --etag writes only if the group
is at that version; --force overwrites whatever is there.

The attestation type cannot change, but an X.509 group may move between
signing certificates (--certificate) and CA references (--ca-reference).
New signing certificates are checked as "group create" does.

--from-file takes a group as "-o json" prints it; its top-level fields
replace the current ones, and flags given as well override both.`,
		Example: `  dpsctl group update factory-a --provisioning-status disabled
  dpsctl group update factory-a --add-iot-hub hub2.azure-devices.net --remove-iot-hub hub1.azure-devices.net
  dpsctl group update factory-a --secondary-certificate new-intermediate.pem
  dpsctl group update edge-fleet --initial-twin-tags '{"site":"lab"}' --reprovision-policy never`,
		Args:              cmdutil.ExactArgs(1, "give one group ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flags.Capture(cmd)
			opts.GroupID = args[0]
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
	return shared.Kind.Update(ctx, enroll.UpdateInput[model.EnrollmentGroup]{
		Service: opts.Service,
		ID:      opts.GroupID, FromFile: opts.Flags.FromFile, ETag: opts.ETag, Force: opts.Force,
		Apply: func(g *model.EnrollmentGroup) error {
			if err := opts.Flags.Apply(g, true); err != nil {
				return err
			}
			return opts.Flags.CheckCertificates(g)
		},
		Explain: func(err error, id string) error { return shared.ExplainUpdate(err, id, opts.ETag) },
	})
}
