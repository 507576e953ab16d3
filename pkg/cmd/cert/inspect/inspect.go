// Package inspect is "dpsctl cert inspect".
package inspect

import (
	"fmt"
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

	File   string // "-" is stdin
	Bundle bool   // every certificate, not just the first
	Info   bool   // the service's X509CertificateInfo form
}

// NewCmdInspect builds "dpsctl cert inspect".
func NewCmdInspect(f *cmdutil.Factory, runF func(*InspectOptions) error) *cobra.Command {
	opts := &InspectOptions{IO: f.IOStreams, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "inspect <file>",
		Short: "Describe a certificate",
		Long: `Describe a certificate: subject, issuer, serial number, validity, key,
thumbprints, CA flag and path length, key usages and alternative names.

The file may be PEM (one or more certificates; other blocks are skipped),
DER, or base64 of either, as the service's "certificate" field accepts.
"-" reads standard input. Only the first certificate is described unless
--bundle is given.

--info prints the certificate details as the service reports them for an
uploaded certificate (subjectName, thumbprints, notBeforeUtc, ...).

Nothing is verified; see "dpsctl cert verify".`,
		Example: `  dpsctl cert inspect device.pem
  dpsctl cert inspect chain.pem --bundle
  dpsctl cert inspect root.pem --query sha256Thumbprint -o tsv
  dpsctl cert inspect device.pem --info -o json`,
		Args: cmdutil.ExactArgs(1, "inspect takes one certificate file (\"-\" for standard input)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return shared.CertExts, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inspectRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Bundle, "bundle", false, "Describe every certificate in the file")
	cmd.Flags().BoolVar(&opts.Info, "info", false, "Print the details the service reports for the certificate")
	return cmd
}

func inspectRun(opts *InspectOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	cs, err := shared.ReadCertificates(opts.IO, opts.File)
	if err != nil {
		return err
	}
	if !opts.Bundle {
		cs = cs[:1]
	}
	if opts.Info {
		infos := make([]model.X509CertificateInfo, len(cs))
		for i, c := range cs {
			infos[i] = certs.Info(c)
		}
		if opts.Bundle {
			return output.PrintList(p, infos, InfoColumns, "certificates")
		}
		return output.Print(p, infos[0], InfoColumns)
	}
	ins := make([]certs.Inspection, len(cs))
	for i, c := range cs {
		ins[i] = certs.Inspect(c)
	}
	if opts.Bundle {
		return output.PrintList(p, ins, ListColumns, "certificates")
	}
	return output.Print(p, ins[0], DetailColumns)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Key describes a key as "ECDSA P-256" or "RSA 2048".
func Key(in certs.Inspection) string {
	if in.Curve != "" {
		return in.KeyType + " " + in.Curve
	}
	if in.KeySize > 0 {
		return fmt.Sprintf("%s %d", in.KeyType, in.KeySize)
	}
	return in.KeyType
}

// CA describes the basic constraints: "yes", "yes (path length 0)" or "no".
func CA(in certs.Inspection) string {
	switch {
	case !in.IsCA:
		return "no"
	case in.PathLength != nil:
		return fmt.Sprintf("yes (path length %d)", *in.PathLength)
	}
	return "yes"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// DetailColumns are the fields of one certificate in table form.
var DetailColumns = []output.Column[certs.Inspection]{
	{Header: "SUBJECT", Value: func(in certs.Inspection) string { return in.Subject }},
	{Header: "ISSUER", Value: func(in certs.Inspection) string { return in.Issuer }},
	{Header: "SERIAL NUMBER", Value: func(in certs.Inspection) string { return in.SerialNumber }},
	{Header: "NOT BEFORE", Value: func(in certs.Inspection) string { return ts(in.NotBefore) }},
	{Header: "NOT AFTER", Value: func(in certs.Inspection) string { return ts(in.NotAfter) }},
	{Header: "KEY", Value: Key},
	{Header: "SIGNATURE", Value: func(in certs.Inspection) string { return in.SignatureAlgorithm }},
	{Header: "SHA1 THUMBPRINT", Value: func(in certs.Inspection) string { return in.SHA1Thumbprint }},
	{Header: "SHA256 THUMBPRINT", Value: func(in certs.Inspection) string { return in.SHA256Thumbprint }},
	{Header: "CA", Value: CA},
	{Header: "SELF-SIGNED", Value: func(in certs.Inspection) string { return yesNo(in.SelfSigned) }},
	{Header: "KEY USAGE", Value: func(in certs.Inspection) string { return strings.Join(in.KeyUsage, ", ") }},
	{Header: "EXT KEY USAGE", Value: func(in certs.Inspection) string { return strings.Join(in.ExtKeyUsage, ", ") }},
	{Header: "SANS", Value: func(in certs.Inspection) string { return strings.Join(in.SANs, ", ") }},
}

// ListColumns are the columns of --bundle in table form.
var ListColumns = []output.Column[certs.Inspection]{
	DetailColumns[0],
	DetailColumns[1],
	DetailColumns[4],
	DetailColumns[5],
	DetailColumns[9],
	DetailColumns[8],
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
