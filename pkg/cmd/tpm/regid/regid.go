// Package regid is "dpsctl tpm regid".
package regid

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/spf13/cobra"
)

// Formats of the registration ID.
const (
	FormatBase32 = "base32"
	FormatHex    = "hex"
)

// RegidOptions are the inputs of "tpm regid".
type RegidOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)

	Keys   []string // base64 keys, files, "-"
	Format string
	// TPM reads the key from a TPM instead (hidden flags).
	TPM shared.TPMFlags
}

// NewCmdRegid builds "dpsctl tpm regid".
func NewCmdRegid(f *cmdutil.Factory, runF func(*RegidOptions) error) *cobra.Command {
	opts := &RegidOptions{IO: f.IOStreams, Printer: f.Printer}
	var hex bool
	cmd := &cobra.Command{
		Use:   "regid [<endorsement-key> | <file>]... [--format {base32|hex}]",
		Short: "Derive registration IDs from TPM endorsement keys",
		Long: `Print the registration ID that the device SDKs derive from a TPM
endorsement key: lower-case base32 (RFC 4648, padding removed) of SHA-256
over the EK's TPM2B_PUBLIC, size prefix included, 52 characters. This is the
rule of the C, Node and Java SDKs and of tpm_device_provision.

--format hex prints the tpm2-tools convention instead, used by Linux and
IoT Edge scripts: the lower-case hex SHA-256 of the file
"tpm2_readpublic -c 0x81010001 -o ek.pub" writes (the same bytes), 64
characters. Both are valid registration IDs; the device and the enrollment
have to agree.

Each argument is a base64 TPM2B_PUBLIC (the enrollment's endorsementKey) or
a file: binary TPM2B_PUBLIC or TPMT_PUBLIC as tpm2_readpublic writes it, or
base64. "-", or no argument when standard input is not a terminal, reads
standard input. A file or standard input may hold several base64 keys, one
per line (blank lines and lines starting with '#' are skipped).

Every key is checked: RSA 2048 or ECC NIST P-256, a restricted decryption
key, well-formed. For a bad key the message says what is wrong with it.

One key prints its ID alone. Several print one line each: the ID and where
the key came from (a list of {registrationId, source} with -o json). If any
key is invalid, the valid ones are still printed and the command fails.`,
		Example: `  dpsctl tpm regid "$(base64 -w0 ek.pub)"
  dpsctl tpm regid ek.pub --format hex
  tpm2_readpublic -c 0x81010001 -o ek.pub && dpsctl tpm regid ek.pub
  dpsctl tpm regid < eks.txt          # one base64 key per line
  dpsctl tpm regid ek1.pub ek2.pub -o json`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			if hex {
				if cmd.Flags().Changed("format") && opts.Format != FormatHex {
					return cmdutil.FlagErrorf("--hex and --format %s contradict each other", opts.Format)
				}
				opts.Format = FormatHex
			}
			if err := opts.TPM.Capture(cmd, nil); err != nil {
				return err
			}
			if opts.TPM.Given() && len(args) > 0 {
				return cmdutil.FlagErrorf("give endorsement keys or a TPM, not both")
			}
			if runF != nil {
				return runF(opts)
			}
			return regidRun(cmd.Context(), opts)
		},
	}
	cmdutil.StringEnumFlag(cmd, &opts.Format, "format", "", FormatBase32, []string{FormatBase32, FormatHex}, "Registration ID convention")
	cmd.Flags().BoolVar(&hex, "hex", false, "Same as --format hex")
	_ = cmd.Flags().MarkHidden("hex")
	// Keys read from a TPM: "dpsctl tpm ek" is the documented way.
	opts.TPM.Register(cmd, true)
	opts.TPM.Create = false
	return cmd
}

// Result is one derived registration ID.
type Result struct {
	RegistrationID string `json:"registrationId"`
	Source         string `json:"source"`
}

// Columns are the columns of several results.
var Columns = []output.Column[Result]{
	{Header: "REGISTRATION ID", Value: func(r Result) string { return r.RegistrationID }},
	{Header: "SOURCE", Value: func(r Result) string { return r.Source }},
}

func (opts *RegidOptions) id(ek *tpm.EK) string {
	if opts.Format == FormatHex {
		return ek.RegistrationIDHex()
	}
	return ek.RegistrationID()
}

func regidRun(ctx context.Context, opts *RegidOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	var inputs []shared.EKInput
	if opts.TPM.Given() {
		id, _, err := opts.TPM.ReadIdentity()
		if err != nil {
			return err
		}
		inputs = []shared.EKInput{{Source: opts.TPM.Describe(), EK: id.EK}}
	} else if inputs, err = shared.ReadEKs(opts.IO, opts.Keys); err != nil {
		return err
	}
	var (
		results []Result
		failed  []string
	)
	for _, in := range inputs {
		if in.Err != nil {
			failed = append(failed, in.Source+": "+in.Err.Error())
			continue
		}
		results = append(results, Result{RegistrationID: opts.id(in.EK), Source: in.Source})
	}
	if len(inputs) == 1 {
		if len(failed) == 1 {
			return errors.New(failed[0])
		}
		return p.PrintValue(results[0].RegistrationID)
	}
	if len(results) > 0 {
		if err := output.PrintList(p, results, Columns, "endorsement keys"); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d endorsement keys are invalid:\n  %s", len(failed), len(inputs), strings.Join(failed, "\n  "))
	}
	return nil
}
