// Package verificationcert is "dpsctl cert verification-cert".
package verificationcert

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// VerificationCertOptions are the inputs of "cert verification-cert".
type VerificationCertOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Quiet   func() bool

	Code      string
	CAFile    string
	CAKeyFile string
	CertFile  string // "-" writes the PEM to standard output
	KeyFile   string // "" discards the key
	Force     bool
}

// NewCmdVerificationCert builds "dpsctl cert verification-cert".
func NewCmdVerificationCert(f *cmdutil.Factory, runF func(*VerificationCertOptions) error) *cobra.Command {
	opts := &VerificationCertOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet}
	cmd := &cobra.Command{
		Use:   "verification-cert --ca <file> --ca-key <file> --code <verification-code> [flags]",
		Short: "Create the proof-of-possession certificate for a CA",
		Long: `Create the certificate that proves possession of a CA's private key: a
new key pair whose certificate has the verification code as its subject CN
and is signed by the CA key. Upload it to the service's verify step for the
CA certificate that issued the code; no openssl is needed.

The certificate is written to --cert-file (default verification.pem; "-"
prints the PEM on standard output). The service never needs the new private
key, so it is discarded unless --key-file is given. Existing files are not
overwritten unless --force.`,
		Example: `  dpsctl cert verification-cert --ca root.pem --ca-key root.key \
    --code 3B8D1C2F0A6E4C5D9E7F1A2B3C4D5E6F7A8B9C0D1E2F3A4B
  dpsctl cert verification-cert --ca root.pem --ca-key root.key --code "$code" --cert-file - > pop.pem`,
		Args:              cmdutil.MaximumArgs(1, "verification-cert takes no arguments; give the code with --code"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				// Hidden fallback: the code as the argument.
				if cmd.Flags().Changed("code") && strings.TrimSpace(opts.Code) != strings.TrimSpace(args[0]) {
					return cmdutil.FlagErrorf("the verification code is given twice: %q and --code %q", args[0], opts.Code)
				}
				opts.Code = args[0]
			}
			opts.Code = strings.TrimSpace(opts.Code)
			if opts.CAFile == "" || opts.CAKeyFile == "" {
				return cmdutil.FlagErrorf("--ca and --ca-key are required: the CA the code was generated for and its private key")
			}
			if opts.Code == "" {
				return cmdutil.FlagErrorf("--code is required: the verification code the service generated for the CA")
			}
			if opts.KeyFile == "-" {
				return cmdutil.FlagErrorf("--key-file must name a file")
			}
			if runF != nil {
				return runF(opts)
			}
			return verificationCertRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Code, "code", "", "Verification code the service generated (becomes the subject CN)")
	fl.StringVar(&opts.CAFile, "ca", "", "CA certificate file the code was generated for")
	fl.StringVar(&opts.CAKeyFile, "ca-key", "", "Private key file of the CA")
	fl.StringVar(&opts.CertFile, "cert-file", "verification.pem", "Certificate file to write (\"-\" for standard output)")
	fl.StringVar(&opts.KeyFile, "key-file", "", "Also write the verification certificate's private key here")
	fl.BoolVar(&opts.Force, "force", false, "Overwrite existing files")
	cmdutil.FileFlag(cmd, "ca", shared.CertExts...)
	cmdutil.FileFlag(cmd, "ca-key", shared.KeyExts...)
	_ = cmd.RegisterFlagCompletionFunc("code", cobra.NoFileCompletions)
	return cmd
}

func verificationCertRun(ctx context.Context, opts *VerificationCertOptions) error {
	if !opts.Force {
		for _, path := range []string{opts.CertFile, opts.KeyFile} {
			if path == "" || path == "-" {
				continue
			}
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("%s already exists; --force overwrites it", path)
			}
		}
	}
	ca, _, err := shared.ReadCA(opts.IO, opts.CAFile, opts.CAKeyFile)
	if err != nil {
		return err
	}
	if ps := certs.CheckSigningCertificate(ca.Cert, time.Time{}); len(ps) > 0 {
		return fmt.Errorf("--ca %s: %w", opts.CAFile, certs.Error(ps))
	}
	v, err := certs.NewVerificationCertificate(ca.Cert, ca.Key, opts.Code)
	if err != nil {
		return err
	}
	if opts.CertFile == "-" {
		if opts.KeyFile != "" {
			if err := certs.WritePrivateKey(opts.KeyFile, v.Key, opts.Force); err != nil {
				return err
			}
		}
		_, err := fmt.Fprint(opts.IO.Out, certs.EncodePEM(v.Cert))
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if opts.KeyFile != "" {
		err = certs.WritePair(v, nil, opts.CertFile, opts.KeyFile, opts.Force)
	} else {
		err = certs.WriteCertificates(opts.CertFile, []*x509.Certificate{v.Cert}, opts.Force)
	}
	if err != nil {
		return err
	}
	if opts.Quiet == nil || !opts.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Created verification certificate CN=%s signed by %s in %s\n", opts.Code, certs.Info(ca.Cert).SubjectName, opts.CertFile)
	}
	return output.Print(p, shared.NewCreated("verification", v.Cert, opts.CertFile, opts.KeyFile), shared.CreatedColumns)
}
