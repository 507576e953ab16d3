// Package ek is "dpsctl tpm ek".
package ek

import (
	"fmt"
	"os"

	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/spf13/cobra"
)

// EKOptions are the inputs of "tpm ek".
type EKOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Quiet   func() bool

	Source shared.Source
}

// NewCmdEK builds "dpsctl tpm ek".
func NewCmdEK(f *cmdutil.Factory, runF func(*EKOptions) error) *cobra.Command {
	opts := &EKOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet}
	cmd := &cobra.Command{
		Use:   "ek [<endorsement-key>] [--ek-file <file> | --tpm <tpm> [--create]]",
		Short: "Show a TPM's endorsement key and registration IDs",
		Long: fmt.Sprintf(`Show what a TPM enrollment needs: the endorsement key as base64
TPM2B_PUBLIC (the enrollment's endorsementKey), the registration IDs in both
conventions, and, when read from a TPM, the storage root key.

By default the keys are read from the TPM (--tpm, else $DPSCTL_TPM, else
%s): the EK at persistent handle 0x81010001 and the SRK at 0x81000001.
If they are missing, --create makes them from the TCG templates and
persists them there, as the device SDKs do; without --create nothing on the
TPM is changed.

Given an endorsement key (base64 argument or --ek-file) instead, the key is
validated (RSA 2048 or ECC P-256, a restricted decryption key) and
normalised to the TPM2B_PUBLIC form.`, tpm.DefaultDevice),
		Example: `  dpsctl tpm ek
  dpsctl tpm ek --tpm swtpm:127.0.0.1:2321 --create -o json
  dpsctl tpm ek --ek-file ek.pub --query endorsementKey -o tsv
  dpsctl enrollment create --attestation tpm --endorsement-key "$(dpsctl tpm ek --query endorsementKey -o tsv)"`,
		Args:              cmdutil.MaximumArgs(1, "ek takes at most one base64 endorsement key"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Source.Capture(cmd, args, os.Getenv); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return ekRun(opts)
		},
	}
	opts.Source.Register(cmd)
	return cmd
}

func ekRun(opts *EKOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ek, id, err := opts.Source.Load(opts.IO)
	if err != nil {
		return err
	}
	if id != nil && (id.EKCreated || id.SRKCreated) && (opts.Quiet == nil || !opts.Quiet()) {
		switch {
		case id.EKCreated && id.SRKCreated:
			fmt.Fprintf(opts.IO.ErrOut, "Created and persisted the EK (0x%08x) and SRK (0x%08x) on %s\n", uint32(tpm.EKHandle), uint32(tpm.SRKHandle), opts.Source.Describe())
		case id.EKCreated:
			fmt.Fprintf(opts.IO.ErrOut, "Created and persisted the EK (0x%08x) on %s\n", uint32(tpm.EKHandle), opts.Source.Describe())
		default:
			fmt.Fprintf(opts.IO.ErrOut, "Created and persisted the SRK (0x%08x) on %s\n", uint32(tpm.SRKHandle), opts.Source.Describe())
		}
	}
	return output.Print(p, shared.NewEKInfo(ek, id), shared.EKColumns)
}
