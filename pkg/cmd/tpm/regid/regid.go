// Package regid is "dpsctl tpm regid".
package regid

import (
	"os"

	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// RegidOptions are the inputs of "tpm regid".
type RegidOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)

	Source shared.Source
	Hex    bool
}

// NewCmdRegid builds "dpsctl tpm regid".
func NewCmdRegid(f *cmdutil.Factory, runF func(*RegidOptions) error) *cobra.Command {
	opts := &RegidOptions{IO: f.IOStreams, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "regid [<endorsement-key>] [--ek-file <file> | --tpm <tpm>] [--hex]",
		Short: "Derive the registration ID from a TPM endorsement key",
		Long: `Print the registration ID the device SDKs derive from a TPM endorsement
key: lower-case base32 (RFC 4648, no padding) of SHA-256 over the EK's
TPM2B_PUBLIC, 52 characters. This is what the C, Node and Java SDKs and
tpm_device_provision use.

--hex prints the other common convention instead, from Linux and IoT Edge
scripts: the hex SHA-256 of the file "tpm2_readpublic -o" writes (the same
bytes), 64 characters. Both are valid registration IDs; the device and the
enrollment just have to agree.

The key is the base64 argument (as in an enrollment), --ek-file, or read
from a TPM (--tpm, by default $DPSCTL_TPM or /dev/tpmrm0).`,
		Example: `  dpsctl tpm regid "$(cat ek.b64)"
  dpsctl tpm regid --ek-file ek.pub --hex
  dpsctl tpm regid --tpm swtpm:127.0.0.1:2321`,
		Args:              cmdutil.MaximumArgs(1, "regid takes at most one base64 endorsement key"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Source.Capture(cmd, args, os.Getenv); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return regidRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Hex, "hex", false, "Print the hex SHA-256 convention instead of base32")
	opts.Source.Register(cmd)
	return cmd
}

func regidRun(opts *RegidOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ek, _, err := opts.Source.Load(opts.IO)
	if err != nil {
		return err
	}
	id := ek.RegistrationID()
	if opts.Hex {
		id = ek.RegistrationIDHex()
	}
	return p.PrintValue(id)
}
