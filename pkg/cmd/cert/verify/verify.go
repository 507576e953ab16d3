// Package verify is "dpsctl cert verify".
package verify

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// VerifyOptions are the inputs of "cert verify".
type VerifyOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Quiet   func() bool
	Now     func() time.Time

	File           string   // leaf first, then intermediates; "-" is stdin
	Roots          []string // files of trusted certificates
	Intermediates  []string // files of more intermediates
	RegistrationID string
	At             string // verification time, "" for now
	Signing        bool   // check a group signing certificate instead of a device chain
}

// NewCmdVerify builds "dpsctl cert verify".
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "verify <file> [--roots <file>]... [flags]",
		Short: "Check a device certificate chain against the DPS rules",
		Long: `Check a device certificate and its chain the way the provisioning service
does when the device connects, and list every problem found:

  - the leaf's subject CN is a valid registration ID (at most 64 characters
    of letters, digits, '-', '.', '_' and ':') and, with --registration-id,
    equals it;
  - the leaf allows TLS client authentication (extended key usage
    clientAuth) and digital signatures;
  - each issuer is present, signed its subordinate, is a CA allowed to sign
    certificates, respects path-length limits and does not exclude client
    authentication;
  - every certificate is within its validity window (now, or --at);
  - the chain ends at one of the --roots: a root CA, an uploaded
    intermediate, or, for a self-signed device certificate, the certificate
    itself.

The file holds the leaf first and, optionally, the intermediates the device
sends (PEM, DER or base64; "-" reads standard input). Without --roots the
chain is not anchored: only the leaf and the links present are checked.

With --signing the file's first certificate is checked as the signing
certificate of an enrollment group instead: a CA within its validity window.

Each problem has a machine-readable code: expired, not-yet-valid,
id-invalid, cn-mismatch, missing-client-auth-eku, missing-digital-signature,
not-ca, missing-cert-sign, path-length, ca-eku-excludes-client-auth,
broken-chain, wrong-root, bad-signature, chain-loop, invalid-chain.

Exit status 0 means no problems, 3 means problems were found.`,
		Example: `  dpsctl cert verify device-chain.pem --roots root.pem --registration-id dev-1
  dpsctl cert verify dev-1.pem --roots dev-1.pem          # self-signed device
  dpsctl cert verify device.pem --intermediates inter.pem --roots root.pem -o json
  dpsctl cert verify root.pem --signing --at 2030-01-01`,
		Args: cmdutil.ExactArgs(1, "verify takes one certificate file (\"-\" for standard input)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return shared.CertExts, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Signing && (len(opts.Roots) > 0 || len(opts.Intermediates) > 0 || opts.RegistrationID != "") {
				return cmdutil.FlagErrorf("--signing checks one certificate; it does not take --roots, --intermediates or --registration-id")
			}
			if opts.RegistrationID != "" {
				if err := certs.ValidateRegistrationID(opts.RegistrationID); err != nil {
					return cmdutil.FlagErrorf("--registration-id %q: %v", opts.RegistrationID, err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Roots, "roots", nil, "File of trusted certificates the chain must end at (repeatable)")
	fl.StringArrayVar(&opts.Intermediates, "intermediates", nil, "File of intermediate certificates (repeatable)")
	fl.StringVar(&opts.RegistrationID, "registration-id", "", "Registration ID the leaf CN must match")
	fl.StringVar(&opts.At, "at", "", "Verify at this time: a date, an RFC 3339 time or a duration from now")
	fl.BoolVar(&opts.Signing, "signing", false, "Check an enrollment group signing certificate instead of a device chain")
	cmdutil.FileFlag(cmd, "roots", shared.CertExts...)
	cmdutil.FileFlag(cmd, "intermediates", shared.CertExts...)
	return cmd
}

// Columns are the columns of a problem.
var Columns = []output.Column[certs.Problem]{
	{Header: "CERTIFICATE", Value: func(p certs.Problem) string { return p.Cert }},
	{Header: "CODE", Value: func(p certs.Problem) string { return p.Code }},
	{Header: "REASON", Value: func(p certs.Problem) string { return p.Reason }},
}

func verifyRun(opts *VerifyOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	now := opts.Now()
	at := now
	if opts.At != "" {
		if at, err = shared.ParseTime(opts.At, now); err != nil {
			return cmdutil.FlagErrorf("--at: %v", err)
		}
	}
	chain, err := shared.ReadCertificates(opts.IO, opts.File)
	if err != nil {
		return err
	}
	leaf := chain[0]

	var problems []certs.Problem
	var summary string
	if opts.Signing {
		problems = certs.CheckSigningCertificate(leaf, at)
		summary = strings.TrimPrefix(certs.Label("certificate", leaf), "certificate ") + " is a valid signing certificate"
	} else {
		vo := certs.VerifyOptions{Intermediates: chain[1:], RegistrationID: opts.RegistrationID, At: at}
		for _, name := range opts.Intermediates {
			cs, err := shared.ReadCertificates(opts.IO, name)
			if err != nil {
				return fmt.Errorf("--intermediates: %w", err)
			}
			vo.Intermediates = append(vo.Intermediates, cs...)
		}
		for _, name := range opts.Roots {
			cs, err := shared.ReadCertificates(opts.IO, name)
			if err != nil {
				return fmt.Errorf("--roots: %w", err)
			}
			vo.Roots = append(vo.Roots, cs...)
		}
		problems = certs.Verify(leaf, vo)
		summary = describeValid(leaf, vo)
	}

	quiet := opts.Quiet != nil && opts.Quiet()
	if len(problems) == 0 && p.Format() == output.FormatTable && !p.HasQuery() {
		if !quiet {
			fmt.Fprintln(opts.IO.ErrOut, summary)
		}
		return nil
	}
	if problems == nil {
		problems = []certs.Problem{}
	}
	if err := output.PrintList(p, problems, Columns, "problems"); err != nil {
		return err
	}
	if len(problems) > 0 {
		return &cmdutil.VerificationError{Err: fmt.Errorf("%s", countProblems(len(problems)))}
	}
	return nil
}

func countProblems(n int) string {
	if n == 1 {
		return "the certificate failed 1 check"
	}
	return fmt.Sprintf("the certificate failed %d checks", n)
}

func describeValid(leaf *x509.Certificate, vo certs.VerifyOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s passes the DPS checks", strings.TrimPrefix(certs.Label("leaf", leaf), "leaf "))
	if vo.RegistrationID != "" {
		fmt.Fprintf(&b, " for registration ID %q", vo.RegistrationID)
	}
	if len(vo.Roots) == 0 {
		b.WriteString("; with no --roots the chain was not anchored to a trusted certificate")
	}
	return b.String()
}
