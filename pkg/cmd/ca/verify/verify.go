// Package verify is "dpsctl ca verify".
package verify

import (
	"context"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// VerifyOptions are the inputs of "ca verify".
type VerifyOptions struct {
	IO      *iostreams.IOStreams
	CAs     func(context.Context) (cacert.Service, error)
	Printer func() (*output.Printer, error)
	Quiet   bool

	Name         string
	CAKey        string // --ca-key: the whole proof here
	Certificate  string // --certificate: a verification certificate made elsewhere
	GenerateCode bool   // --generate-code: only ask for a code
	ETag         string // --etag: instead of the etag read
}

// NewCmdVerify builds "dpsctl ca verify".
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, CAs: f.CAs, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "verify <name> (--ca-key FILE | --generate-code | --certificate FILE)",
		Short: "Prove possession of a CA certificate's key",
		Long: `Prove possession of the private key of an uploaded CA certificate, so that
enrollment groups naming it in --ca-reference authenticate devices.

With --ca-key the proof happens in one step: dpsctl asks the service for a
verification code, makes a certificate whose CN is that code signed by the
CA's key, and has the service verify it.

The classic flow takes three steps, for a key kept elsewhere (an HSM, another
machine): --generate-code prints a verification code and the etag it
belongs to; a certificate with CN = code is signed by the CA's key (for
example with "dpsctl cert verification-cert"); --certificate sends it. Only
the code issued last counts, and it is used once.`,
		Example: `  dpsctl ca verify lab-root --ca-key root.key

  # a key kept elsewhere
  dpsctl ca verify lab-root --generate-code
  dpsctl cert verification-cert --ca root.pem --ca-key root.key --code CODE --cert-file verification.pem
  dpsctl ca verify lab-root --certificate verification.pem`,
		Args:              cmdutil.ExactArgs(1, "give the name of one CA certificate"),
		ValidArgsFunction: shared.CompleteNames(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.Quiet = f.Quiet()
			n := 0
			for _, given := range []bool{opts.CAKey != "", opts.Certificate != "", opts.GenerateCode} {
				if given {
					n++
				}
			}
			if n != 1 {
				return cmdutil.FlagErrorf("give one of --ca-key, --generate-code and --certificate")
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.CAKey, "ca-key", "", "Private key of the CA (PEM): prove possession in one step")
	fl.BoolVar(&opts.GenerateCode, "generate-code", false, "Only get a verification code, for a verification certificate made elsewhere")
	fl.StringVar(&opts.Certificate, "certificate", "", "Verification certificate (PEM or DER) whose CN is the code, signed by the CA's key")
	fl.StringVar(&opts.ETag, "etag", "", "Act only if the certificate still has this etag (default the etag read)")
	_ = cmd.MarkFlagFilename("ca-key", "pem", "key")
	_ = cmd.MarkFlagFilename("certificate", "pem", "cer", "crt", "der")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
	return cmd
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	var verification []byte
	if opts.Certificate != "" {
		if verification, err = cmdutil.ReadFile(opts.IO, opts.Certificate); err != nil {
			return err
		}
	}
	svc, err := opts.CAs(ctx)
	if err != nil {
		return err
	}
	cur, err := svc.Get(ctx, opts.Name)
	if err != nil {
		return shared.Explain(err, opts.Name)
	}
	etag := cur.ETag
	if opts.ETag != "" {
		etag = opts.ETag
	}
	switch {
	case opts.GenerateCode:
		code, err := svc.VerificationCode(ctx, opts.Name, etag)
		if err != nil {
			return shared.Explain(err, opts.Name)
		}
		if !opts.Quiet {
			fmt.Fprintf(opts.IO.ErrOut, "Sign a certificate with CN %s by the key of %q, then: dpsctl ca verify %s --certificate FILE\n",
				code.Properties.VerificationCode, opts.Name, opts.Name)
		}
		return output.Print(p, *code, codeColumns)
	case opts.Certificate != "":
		c, err := svc.Verify(ctx, opts.Name, etag, verification)
		if err != nil {
			return shared.Explain(err, opts.Name)
		}
		return done(opts, p, c)
	}
	ca := shared.Parse(*cur)
	if ca == nil {
		return fmt.Errorf("the service did not return the certificate of %q; verify it with --generate-code and --certificate", opts.Name)
	}
	key, err := certs.ReadPrivateKey(opts.CAKey)
	if err != nil {
		return fmt.Errorf("--ca-key: %w", err)
	}
	if err := certs.KeyMatches(ca, key); err != nil {
		return fmt.Errorf("--ca-key %s is not the key of CA certificate %q: %w", opts.CAKey, opts.Name, err)
	}
	c, err := shared.Prove(ctx, svc, opts.Name, etag, ca, key)
	if err != nil {
		return err
	}
	return done(opts, p, c)
}

func done(opts *VerifyOptions, p *output.Printer, c *cacert.Certificate) error {
	if !opts.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Verified CA certificate %q\n", opts.Name)
	}
	return output.Print(p, *c, shared.DetailColumns)
}

type code = cacert.VerificationCode

// codeColumns are what --generate-code prints.
var codeColumns = []output.Column[code]{
	{Header: "NAME", Value: func(c code) string { return c.Name }},
	{Header: "VERIFICATION CODE", Value: func(c code) string { return c.Properties.VerificationCode }, Full: true},
	{Header: "ETAG", Value: func(c code) string { return c.ETag }},
}
