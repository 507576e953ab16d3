// Package inspect is "dpsctl cert inspect".
package inspect

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// InspectOptions are the inputs of "cert inspect".
type InspectOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)

	Files []string // "-" is stdin
	Info  bool     // the service's X509CertificateInfo form
}

// NewCmdInspect builds "dpsctl cert inspect".
func NewCmdInspect(f *cmdutil.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IOStreams, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "inspect <file>... [flags]",
		Short: "Describe certificates",
		Long: `Describe every certificate in the given files: subject, issuer, serial
number, validity, key type and size, SHA-1 and SHA-256 thumbprints (upper-case
hex, as the service shows them), CA flag and path length, key usage,
extended key usage and subject alternative names.

Files may be .pem, .crt, .cer or .der, in PEM (one or more certificates;
other blocks such as keys are skipped) or DER form, or base64 of either, as
the service's "certificate" field accepts. A file holding a chain (bundle)
describes each of its certificates in order. "-" reads standard input.

In table form each certificate is a block of fields (one tab-separated line
per certificate when stdout is not a terminal). With -o json one
certificate prints as an object and several as an array, each with the file
it came from.

--info prints the details the service reports for an uploaded certificate
(subjectName, sha1Thumbprint, notBeforeUtc, ...).

Nothing is verified; see "dpsctl cert verify".`,
		Example: `  dpsctl cert inspect dev-1.pem
  dpsctl cert inspect root.pem intermediate.pem dev-1.pem
  dpsctl cert inspect root.pem -o json --query sha256Thumbprint
  cat chain.pem | dpsctl cert inspect - -o json
  dpsctl cert inspect dev-1.cer --info -o json`,
		Args: cmdutil.MinimumArgs(1, "inspect takes one or more certificate files (\"-\" for standard input)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return shared.CertExts, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			stdin := 0
			for _, a := range args {
				if a == "-" {
					stdin++
				}
			}
			if stdin > 1 {
				return cmdutil.FlagErrorf("standard input (\"-\") can be read only once")
			}
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Info, "info", false, "Print the details the service reports for the certificates")
	// Every certificate of a bundle is described now; the flag stays for
	// scripts written when only the first one was.
	cmd.Flags().Bool("bundle", true, "Describe every certificate in the file")
	_ = cmd.Flags().MarkHidden("bundle")
	return cmd
}

// Certificate is one described certificate with the file it came from.
type Certificate struct {
	File string `json:"file"`
	certs.Inspection
}

func inspectRun(ctx context.Context, opts *InspectOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	var (
		all   []Certificate
		infos []model.X509CertificateInfo
	)
	for _, name := range opts.Files {
		cs, err := shared.ReadCertificates(opts.IO, name)
		if err != nil {
			return err
		}
		file := name
		if name == "-" {
			file = "stdin"
		}
		for _, c := range cs {
			all = append(all, Certificate{File: file, Inspection: certs.Inspect(c)})
			infos = append(infos, certs.Info(c))
		}
	}
	if opts.Info {
		return printAll(p, opts.IO.Out, infos, InfoColumns)
	}
	return printAll(p, opts.IO.Out, all, DetailColumns)
}

// printAll prints one item as an object and several as a list; in table
// form each item is its own block (a blank line apart on a terminal) or
// tab-separated line.
func printAll[T any](p *output.Printer, out io.Writer, items []T, cols []output.Column[T]) error {
	if len(items) == 1 {
		return output.Print(p, items[0], cols)
	}
	if p.Format() != output.FormatTable || p.HasQuery() {
		return output.PrintList(p, items, cols, "certificates")
	}
	for i, it := range items {
		if i > 0 && p.IsTTY() {
			if _, err := io.WriteString(out, "\n"); err != nil {
				return err
			}
		}
		if err := output.Print(p, it, cols); err != nil {
			return err
		}
	}
	return nil
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Key describes a key as "ECDSA 256 bits (P-256)" or "RSA 2048 bits".
func Key(in certs.Inspection) string {
	switch {
	case in.KeySize > 0 && in.Curve != "":
		return fmt.Sprintf("%s %d bits (%s)", in.KeyType, in.KeySize, in.Curve)
	case in.KeySize > 0:
		return fmt.Sprintf("%s %d bits", in.KeyType, in.KeySize)
	}
	return in.KeyType
}

// CA describes the basic constraints: "yes", "yes, path length 0" or "no".
func CA(in certs.Inspection) string {
	switch {
	case !in.IsCA:
		return "no"
	case in.PathLength != nil:
		return fmt.Sprintf("yes, path length %d", *in.PathLength)
	}
	return "yes, no path length limit"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func inspection(f func(certs.Inspection) string) func(Certificate) string {
	return func(c Certificate) string { return f(c.Inspection) }
}

// DetailColumns are the fields of a certificate in table form.
var DetailColumns = []output.Column[Certificate]{
	{Header: "FILE", Value: func(c Certificate) string { return c.File }},
	{Header: "SUBJECT", Value: func(c Certificate) string { return c.Subject }},
	{Header: "ISSUER", Value: func(c Certificate) string { return c.Issuer }},
	{Header: "SERIAL NUMBER", Value: func(c Certificate) string { return c.SerialNumber }},
	{Header: "NOT BEFORE", Value: func(c Certificate) string { return ts(c.NotBefore) }},
	{Header: "NOT AFTER", Value: func(c Certificate) string { return ts(c.NotAfter) }},
	{Header: "KEY", Value: inspection(Key)},
	{Header: "SIGNATURE", Value: func(c Certificate) string { return c.SignatureAlgorithm }},
	{Header: "SHA1 THUMBPRINT", Value: func(c Certificate) string { return c.SHA1Thumbprint }},
	{Header: "SHA256 THUMBPRINT", Value: func(c Certificate) string { return c.SHA256Thumbprint }},
	{Header: "CA", Value: inspection(CA)},
	{Header: "SELF-SIGNED", Value: func(c Certificate) string { return yesNo(c.SelfSigned) }},
	{Header: "KEY USAGE", Value: func(c Certificate) string { return strings.Join(c.KeyUsage, ", ") }},
	{Header: "EXT KEY USAGE", Value: func(c Certificate) string { return strings.Join(c.ExtKeyUsage, ", ") }},
	{Header: "SANS", Value: func(c Certificate) string { return strings.Join(c.SANs, ", ") }},
	{Header: "SUBJECT KEY ID", Value: func(c Certificate) string { return c.SubjectKeyID }},
	{Header: "AUTHORITY KEY ID", Value: func(c Certificate) string { return c.AuthorityKeyID }},
}

// InfoColumns are the fields of --info in table form.
var InfoColumns = []output.Column[model.X509CertificateInfo]{
	{Header: "SUBJECT NAME", Value: func(i model.X509CertificateInfo) string { return i.SubjectName }},
	{Header: "ISSUER NAME", Value: func(i model.X509CertificateInfo) string { return i.IssuerName }},
	{Header: "SERIAL NUMBER", Value: func(i model.X509CertificateInfo) string { return i.SerialNumber }},
	{Header: "NOT BEFORE", Value: func(i model.X509CertificateInfo) string { return i.NotBeforeUTC }},
	{Header: "NOT AFTER", Value: func(i model.X509CertificateInfo) string { return i.NotAfterUTC }},
	{Header: "SHA1 THUMBPRINT", Value: func(i model.X509CertificateInfo) string { return i.SHA1Thumbprint }},
	{Header: "SHA256 THUMBPRINT", Value: func(i model.X509CertificateInfo) string { return i.SHA256Thumbprint }},
	{Header: "VERSION", Value: func(i model.X509CertificateInfo) string { return fmt.Sprint(i.Version) }},
}
