// Package tpm is the "dpsctl tpm" noun: endorsement keys and the
// registration IDs derived from them.
package tpm

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/ek"
	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/regid"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdTPM builds "dpsctl tpm".
func NewCmdTPM(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tpm <command>",
		Short: "Read TPM endorsement keys and derive registration IDs",
		Long: `Work with TPM attestation material: read the endorsement key (EK) and
storage root key (SRK) from a TPM (a kernel device, swtpm over TCP, or the
simulator built into builds with the tpmsimulator tag), and derive the
registration ID from an EK given as base64 or as the file tpm2_readpublic
writes, checking that it is a well-formed endorsement key.`,
		Example: `  dpsctl tpm ek
  dpsctl tpm ek --simulator ./tpm-state
  dpsctl tpm regid "$(cat ek.b64)"
  dpsctl tpm regid ek.pub --format hex`,
	}
	cmd.AddCommand(
		ek.NewCmdEK(f, nil),
		regid.NewCmdRegid(f, nil),
	)
	return cmd
}
