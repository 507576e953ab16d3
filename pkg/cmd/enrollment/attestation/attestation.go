// Package attestation is "dpsctl enrollment attestation".
package attestation

import (
	"context"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// AttestationOptions are the inputs of "enrollment attestation".
type AttestationOptions struct {
	cmdutil.Service

	RegistrationID string
}

// NewCmdAttestation builds "dpsctl enrollment attestation".
func NewCmdAttestation(f *cmdutil.Factory, runF func(*AttestationOptions) error) *cobra.Command {
	opts := &AttestationOptions{Service: f.Service()}
	return &cobra.Command{
		Use:   "attestation <registration-id>",
		Short: "Show the attestation mechanism of an enrollment",
		Long: `Show the attestation mechanism of an individual enrollment: the TPM
endorsement key, the X.509 certificate details or the symmetric keys. Keys
are masked unless --show-keys is given.`,
		Example: `  dpsctl enrollment attestation dev-1 --show-keys
  dpsctl enrollment attestation dev-1 --show-keys --query symmetricKey.primaryKey -o tsv`,
		Args:              cmdutil.ExactArgs(1, "give one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return attestationRun(cmd.Context(), opts)
		},
	}
}

func attestationRun(ctx context.Context, opts *AttestationOptions) error {
	return cmdutil.ShowOne(ctx, opts.Service, func(ctx context.Context, c *dps.Client) (*model.AttestationMechanism, error) {
		return shared.Kind.ReadAttestation(ctx, c, opts.RegistrationID)
	}, shared.AttestationColumns)
}
