// Package attestation is "dpsctl group attestation".
package attestation

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// AttestationOptions are the inputs of "group attestation".
type AttestationOptions struct {
	cmdutil.Service

	GroupID string
}

// NewCmdAttestation builds "dpsctl group attestation".
func NewCmdAttestation(f *cmdutil.Factory, runF func(*AttestationOptions) error) *cobra.Command {
	opts := &AttestationOptions{Service: f.Service()}
	return &cobra.Command{
		Use:   "attestation <group-id>",
		Short: "Show the attestation mechanism of an enrollment group",
		Long: `Show the attestation mechanism of an enrollment group: the details of its
signing certificates, the names of the CA certificates it references, or its
group keys. Keys are masked unless --show-keys is given.`,
		Example: `  dpsctl group attestation edge-fleet --show-keys
  dpsctl group attestation edge-fleet --show-keys --query symmetricKey.primaryKey -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one group ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.GroupID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return attestationRun(cmd.Context(), opts)
		},
	}
}

func attestationRun(ctx context.Context, opts *AttestationOptions) error {
	return cmdutil.ShowOne(ctx, opts.Service, func(ctx context.Context, c *dps.Client) (*model.AttestationMechanism, error) {
		return shared.Kind.ReadAttestation(ctx, c, opts.GroupID)
	}, shared.AttestationColumns)
}
