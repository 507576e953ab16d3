// Package ek is "dpsctl tpm ek".
package ek

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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

	TPM shared.TPMFlags
	// Key is an endorsement key given instead of a TPM (hidden forms: a
	// base64 argument or --ek-file), to validate and normalise it.
	Key     string
	KeyFile string
}

// NewCmdEK builds "dpsctl tpm ek".
func NewCmdEK(f *cmdutil.Factory, runF func(*EKOptions) error) *cobra.Command {
	opts := &EKOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet}
	cmd := &cobra.Command{
		Use:   "ek [--device <path> | --simulator <state-dir> | --tcp <host:port>]",
		Short: "Read a TPM's endorsement key and registration ID",
		Long: fmt.Sprintf(`Read what a TPM enrollment needs from a TPM, as Microsoft's
tpm_device_provision does: the endorsement key (EK) at persistent handle
0x81010001 and the storage root key (SRK) at 0x81000001. Missing keys are
created from the TCG templates and persisted at those handles, as the device
SDKs do; --create=false changes nothing on the TPM and fails instead.

Printed: the registration ID (lower-case base32 of SHA-256 over the EK's
TPM2B_PUBLIC, the rule of the SDKs), the same digest in hex (the tpm2-tools
convention), the endorsement key in enrollment form (base64 TPM2B_PUBLIC,
for "dpsctl enrollment create --endorsement-key") and the SRK.

The TPM is one of:
  --device PATH       a TPM character device (default %s; TBS on Windows)
  --simulator DIR     the Microsoft reference TPM simulator built into this
                      binary (builds with -tags tpmsimulator only). DIR keeps
                      the simulator's state: a seed created on first use in
                      DIR/%s, from which the simulator derives its primary
                      seeds, so the same DIR always gives the same EK and
                      registration ID. A new DIR is a new TPM. Insecure: for
                      tests and labs only.
  --tcp HOST:PORT     swtpm's raw TPM command port, as started with
                      swtpm socket --tpm2 --server type=tcp,port=2321
                      --ctrl type=tcp,port=2322 --flags not-need-init
Without one of them $%s is used if set (device[:PATH], swtpm:HOST:PORT or
simulator[:SEED]), else the default device.`, tpm.DefaultDevice, shared.SeedFile, shared.EnvTPM),
		Example: `  dpsctl tpm ek
  dpsctl tpm ek --device /dev/tpm0 -o json
  dpsctl tpm ek --simulator ~/.local/state/dpsctl-tpm
  dpsctl tpm ek --tcp 127.0.0.1:2321 --query registrationId -o tsv
  dpsctl enrollment create --attestation tpm \
    --endorsement-key "$(dpsctl tpm ek --simulator ./tpm --query endorsementKey -o tsv)"`,
		Args:              cmdutil.MaximumArgs(1, "ek takes no arguments; name the TPM with --device, --simulator or --tcp"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Key = args[0]
			}
			if err := opts.TPM.Capture(cmd, os.Getenv); err != nil {
				return err
			}
			if err := cmdutil.MutuallyExclusive("give the endorsement key once: from a TPM, as an argument or with --ek-file",
				opts.Key != "", opts.KeyFile != "", opts.TPM.Given()); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return ekRun(cmd.Context(), opts)
		},
	}
	opts.TPM.Register(cmd, false)
	cmd.Flags().StringVar(&opts.KeyFile, "ek-file", "", "Read the endorsement key from a file instead of a TPM")
	_ = cmd.Flags().MarkHidden("ek-file")
	return cmd
}

func ekRun(ctx context.Context, opts *EKOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	switch {
	case opts.Key != "":
		ek, err := tpm.DecodeEK(opts.Key)
		if err != nil {
			return err
		}
		return output.Print(p, shared.NewEKInfo(ek, nil), shared.EKColumns)
	case opts.KeyFile != "":
		data, err := cmdutil.ReadFile(opts.IO, opts.KeyFile)
		if err != nil {
			return err
		}
		ek, err := tpm.ParseEKData(data)
		if err != nil {
			return fmt.Errorf("%s: %w", opts.KeyFile, err)
		}
		return output.Print(p, shared.NewEKInfo(ek, nil), shared.EKColumns)
	}
	id, seedCreated, err := opts.TPM.ReadIdentity()
	if err != nil {
		return err
	}
	if opts.Quiet == nil || !opts.Quiet() {
		status(opts, id, seedCreated)
	}
	info := shared.NewEKInfo(id.EK, id)
	if opts.TPM.IsSimulator() {
		// Same state, same output: the simulator derives its keys anew on
		// every run.
		info.Created = false
	}
	return output.Print(p, info, shared.EKColumns)
}

func status(opts *EKOptions, id *tpm.Identity, seedCreated bool) {
	w := opts.IO.ErrOut
	if opts.TPM.Simulator != "" {
		// The simulator keeps no keys between runs; they are derived anew
		// from the seed each time.
		if seedCreated {
			fmt.Fprintf(w, "Started a new simulated TPM; its seed is in %s\n", filepath.Join(opts.TPM.Simulator, shared.SeedFile))
		}
		return
	}
	switch {
	case id.EKCreated && id.SRKCreated:
		fmt.Fprintf(w, "Created and persisted the EK (0x%08x) and SRK (0x%08x) on %s\n", uint32(tpm.EKHandle), uint32(tpm.SRKHandle), opts.TPM.Describe())
	case id.EKCreated:
		fmt.Fprintf(w, "Created and persisted the EK (0x%08x) on %s\n", uint32(tpm.EKHandle), opts.TPM.Describe())
	case id.SRKCreated:
		fmt.Fprintf(w, "Created and persisted the SRK (0x%08x) on %s\n", uint32(tpm.SRKHandle), opts.TPM.Describe())
	}
}
