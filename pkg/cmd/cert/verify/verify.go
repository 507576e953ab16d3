// Package verify is "dpsctl cert verify".
package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// CodeNotSignedByGroup reports a leaf that does not chain to the signing
// certificate of the enrollment group given with --group.
const CodeNotSignedByGroup = "not-signed-by-group"

// VerifyOptions are the inputs of "cert verify".
type VerifyOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Client  func(context.Context) (*dps.Client, error)
	Quiet   func() bool
	Now     func() time.Time

	File           string   // leaf first, then any intermediates; "-" is stdin
	Chain          []string // files of intermediate certificates
	Roots          []string // files of trusted certificates
	Group          string   // enrollment group whose signing certificate anchors the chain
	RegistrationID string
	At             string // verification time, "" for now
	Signing        bool   // check a group signing certificate instead of a device chain
}

// NewCmdVerify builds "dpsctl cert verify".
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Printer: f.Printer, Client: f.Client, Quiet: f.Quiet, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "verify <leaf> [--chain <file>] [--root <file>]... [--group <id>] [--registration-id <id>] [--at <time>]",
		Short: "Check a device certificate chain against the DPS rules",
		Long: `Check a device certificate and its chain locally, the way the provisioning
service does when the device connects, and list every problem found. These
are the problems that make a registration fail with 401002 "Invalid
certificate":

  - the leaf's subject CN is a valid registration ID (at most 64 characters
    of letters, digits, '-', '.', '_' and ':') and, with --registration-id,
    equals it;
  - the leaf allows TLS client authentication (extended key usage
    clientAuth, when extended key usages are set) and digital signatures;
  - each issuer is present, signed its subordinate, is a CA
    (basicConstraints CA=true) allowed to sign certificates, respects
    path-length limits and does not exclude client authentication;
  - every certificate is within its validity window (now, or --at);
  - the chain ends at one of the --root certificates (a root CA, an
    uploaded intermediate, or a self-signed device certificate itself), or,
    with --group, at the signing certificate of that enrollment group;
  - RFC 5280 path validation succeeds.

<leaf> holds the device certificate first and, optionally, the
intermediates the device sends (PEM, DER or base64; "-" reads standard
input). --chain adds a file of intermediates (a bundle). --root may be
repeated. Without --root or --group the chain is not anchored: only the
leaf and the links present are checked.

--group reads the enrollment group from the service. The service never
returns certificate bodies, only their thumbprints, so the group's signing
certificate itself must be among the certificates given (the leaf file,
--chain or --root); the leaf must chain to it. A group that refers to a CA
by name (caReferences) needs --root with that CA's certificate.

With --signing the file's first certificate is checked as the signing
certificate of an enrollment group instead: a CA within its validity window.

Every problem is one line naming the certificate and the reason, with a
code: expired, not-yet-valid, id-invalid, cn-mismatch,
missing-client-auth-eku, missing-digital-signature, not-ca,
missing-cert-sign, path-length, ca-eku-excludes-client-auth, broken-chain,
wrong-root, bad-signature, chain-loop, invalid-chain, not-signed-by-group.
With -o json the problems are a list of {cert, reason, code} ([] when
valid).

Exit status: 0 valid, 3 problems found.`,
		Example: `  dpsctl cert verify dev-1.pem --root root.pem --registration-id dev-1
  dpsctl cert verify dev-1.pem --chain intermediates.pem --root root.pem -o json
  dpsctl cert verify dev-2.pem --root dev-2.pem            # self-signed device
  dpsctl cert verify dev-1.pem --group line-2              # chains to the group's certificate?
  dpsctl cert verify dev-1.pem --root root.pem --at 2030-01-01
  dpsctl cert verify root.pem --signing`,
		Args: cmdutil.ExactArgs(1, "verify takes one leaf certificate file (\"-\" for standard input)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return shared.CertExts, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Signing && (len(opts.Roots) > 0 || len(opts.Chain) > 0 || opts.RegistrationID != "" || opts.Group != "") {
				return cmdutil.FlagErrorf("--signing checks one certificate; it does not take --root, --chain, --group or --registration-id")
			}
			if opts.RegistrationID != "" {
				if err := certs.ValidateRegistrationID(opts.RegistrationID); err != nil {
					return cmdutil.FlagErrorf("--registration-id %q: %v", opts.RegistrationID, err)
				}
			}
			if opts.Group != "" {
				if err := model.ValidateID(opts.Group); err != nil {
					return cmdutil.FlagErrorf("--group %q: %v", opts.Group, err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Chain, "chain", nil, "File of intermediate certificates, a bundle (repeatable)")
	fl.StringArrayVar(&opts.Roots, "root", nil, "File of trusted certificates the chain must end at (repeatable)")
	fl.StringVar(&opts.Group, "group", "", "Enrollment group whose signing certificate the chain must end at (read from the service)")
	fl.StringVar(&opts.RegistrationID, "registration-id", "", "Registration ID the leaf CN must equal")
	fl.StringVar(&opts.At, "at", "", "Verify at this time: a date (2030-01-02), an RFC 3339 time or a duration from now (90d)")
	fl.BoolVar(&opts.Signing, "signing", false, "Check an enrollment group signing certificate instead of a device chain")
	// Earlier spellings.
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "roots":
			name = "root"
		case "intermediates":
			name = "chain"
		}
		return pflag.NormalizedName(name)
	})
	cmdutil.FileFlag(cmd, "root", shared.CertExts...)
	cmdutil.FileFlag(cmd, "chain", shared.CertExts...)
	_ = cmd.RegisterFlagCompletionFunc("registration-id", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("group", cmdutil.CompleteIDs(f, false, func(ctx context.Context, c *dps.Client) ([]string, error) {
		return cmdutil.CollectIDs(c.Groups(ctx, dps.QueryOptions{}), func(g model.EnrollmentGroup) string { return g.EnrollmentGroupID }, 0)
	}))
	return cmd
}

// Columns are the columns of a problem (tab-separated output).
var Columns = []output.Column[certs.Problem]{
	{Header: "CERTIFICATE", Value: func(p certs.Problem) string { return p.Cert }},
	{Header: "CODE", Value: func(p certs.Problem) string { return p.Code }},
	{Header: "REASON", Value: func(p certs.Problem) string { return p.Reason }},
}

// Line renders a problem as the one line the table form prints.
func Line(p certs.Problem) string { return p.Cert + ": " + p.Reason + " [" + p.Code + "]" }

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
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

	var (
		problems []certs.Problem
		summary  string
	)
	if opts.Signing {
		problems = certs.CheckSigningCertificate(leaf, at)
		summary = "valid: " + strings.TrimPrefix(certs.Label("certificate", leaf), "certificate ") + " can sign device certificates (a CA within its validity window)"
	} else {
		inter := slices.Clone(chain[1:])
		for _, name := range opts.Chain {
			cs, err := shared.ReadCertificates(opts.IO, name)
			if err != nil {
				return fmt.Errorf("--chain: %w", err)
			}
			inter = append(inter, cs...)
		}
		var roots []*x509.Certificate
		for _, name := range opts.Roots {
			cs, err := shared.ReadCertificates(opts.IO, name)
			if err != nil {
				return fmt.Errorf("--root: %w", err)
			}
			roots = append(roots, cs...)
		}
		if opts.Group != "" {
			problems, summary, err = verifyGroup(ctx, opts, leaf, inter, roots, at)
			if err != nil {
				return err
			}
		} else {
			vo := certs.VerifyOptions{Intermediates: inter, Roots: roots, RegistrationID: opts.RegistrationID, At: at}
			problems = certs.Verify(leaf, vo)
			summary = describeValid(leaf, opts.RegistrationID, anchorText(roots))
		}
	}

	quiet := opts.Quiet != nil && opts.Quiet()
	table := p.Format() == output.FormatTable && !p.HasQuery()
	switch {
	case len(problems) == 0 && table:
		if !quiet {
			fmt.Fprintln(opts.IO.ErrOut, summary)
		}
		return nil
	case table:
		lines := make([]string, len(problems))
		for i, pr := range problems {
			lines[i] = Line(pr)
		}
		if err := p.PrintValue(lines); err != nil {
			return err
		}
	default:
		if problems == nil {
			problems = []certs.Problem{}
		}
		if err := output.PrintList(p, problems, Columns, "problems"); err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &cmdutil.VerificationError{Err: fmt.Errorf("%s is not valid: %s", strings.TrimPrefix(certs.Label("certificate", leaf), "certificate "), countProblems(len(problems)))}
}

// verifyGroup verifies leaf against the signing certificate of the
// enrollment group opts.Group. The service returns only the thumbprints of
// a group's certificates, so the certificate itself must be among those
// given; the chain must end at it.
func verifyGroup(ctx context.Context, opts *VerifyOptions, leaf *x509.Certificate, inter, roots []*x509.Certificate, at time.Time) ([]certs.Problem, string, error) {
	c, err := opts.Client(ctx)
	if err != nil {
		return nil, "", err
	}
	g, err := c.GetGroup(ctx, opts.Group)
	if err != nil {
		if dps.IsNotFound(err) {
			return nil, "", cmdutil.Reword(err, "enrollment group %q not found", opts.Group)
		}
		return nil, "", err
	}
	a := g.Attestation
	if a == nil || a.Type != model.AttestationX509 || a.X509 == nil {
		typ := "no"
		if a != nil {
			typ = a.Type
		}
		return nil, "", fmt.Errorf("enrollment group %q uses %s attestation; only X.509 groups have signing certificates to verify against", opts.Group, typ)
	}
	groupLabel := "group " + opts.Group
	if refs := a.X509.CAReferences; refs != nil && a.X509.SigningCertificates == nil {
		names := strings.Join(slices.DeleteFunc([]string{refs.Primary, refs.Secondary}, func(s string) bool { return s == "" }), ", ")
		if len(roots) == 0 {
			return nil, "", cmdutil.FlagErrorf("enrollment group %q refers to the CA certificate %s by name (caReferences); the service does not hand out certificate bodies, so verifying against a CA reference needs --root with that CA's certificate", opts.Group, names)
		}
		vo := certs.VerifyOptions{Intermediates: inter, Roots: roots, RegistrationID: opts.RegistrationID, At: at}
		return certs.Verify(leaf, vo), describeValid(leaf, opts.RegistrationID, anchorText(roots)+" (group "+opts.Group+" refers to "+names+"; that it is this --root is not checked)"), nil
	}

	type anchor struct{ slot, subject, sha256, sha1 string }
	var anchors []anchor
	if sc := a.X509.SigningCertificates; sc != nil {
		for _, s := range []struct {
			slot string
			c    *model.X509CertificateWithInfo
		}{{"primary", sc.Primary}, {"secondary", sc.Secondary}} {
			if s.c == nil || s.c.Info == nil || (s.c.Info.SHA256Thumbprint == "" && s.c.Info.SHA1Thumbprint == "") {
				continue
			}
			anchors = append(anchors, anchor{s.slot, s.c.Info.SubjectName, strings.ToUpper(s.c.Info.SHA256Thumbprint), strings.ToUpper(s.c.Info.SHA1Thumbprint)})
		}
	}
	if len(anchors) == 0 {
		return nil, "", fmt.Errorf("enrollment group %q has no signing certificate details to verify against", opts.Group)
	}
	isAnchor := func(c *x509.Certificate) bool {
		s256, s1 := certs.Thumbprint(c, crypto.SHA256), certs.Thumbprint(c, crypto.SHA1)
		for _, an := range anchors {
			if (an.sha256 != "" && an.sha256 == s256) || (an.sha256 == "" && an.sha1 == s1) {
				return true
			}
		}
		return false
	}
	var matched, others []*x509.Certificate
	for _, c := range slices.Concat([]*x509.Certificate{leaf}, inter, roots) {
		switch {
		case slices.ContainsFunc(matched, c.Equal), slices.ContainsFunc(others, c.Equal):
		case isAnchor(c):
			matched = append(matched, c)
		default:
			others = append(others, c)
		}
	}
	describe := func() string {
		parts := make([]string, len(anchors))
		for i, an := range anchors {
			tp := "SHA-256 " + an.sha256
			if an.sha256 == "" {
				tp = "SHA-1 " + an.sha1
			}
			parts[i] = fmt.Sprintf("%s %s (%s)", an.slot, an.subject, tp)
		}
		return strings.Join(parts, "; ")
	}
	others = slices.DeleteFunc(others, leaf.Equal)
	if len(matched) == 0 {
		// Nothing to anchor to: check the leaf and the links present.
		problems := certs.Verify(leaf, certs.VerifyOptions{Intermediates: others, RegistrationID: opts.RegistrationID, At: at})
		problems = append(problems, certs.Problem{
			Cert:   groupLabel,
			Reason: "none of the certificates given is the group's signing certificate (" + describe() + "); give it with --root or --chain",
			Code:   CodeNotSignedByGroup,
		})
		return problems, "", nil
	}
	problems := certs.Verify(leaf, certs.VerifyOptions{Intermediates: others, Roots: matched, RegistrationID: opts.RegistrationID, At: at})
	if certs.HasCode(problems, certs.CodeWrongRoot) || certs.HasCode(problems, certs.CodeBrokenChain) {
		problems = append(problems, certs.Problem{
			Cert:   groupLabel,
			Reason: "the leaf does not chain to the group's signing certificate (" + describe() + ")",
			Code:   CodeNotSignedByGroup,
		})
	}
	return problems, describeValid(leaf, opts.RegistrationID, "the signing certificate of group "+opts.Group+" ("+certs.Info(matched[0]).SubjectName+")"), nil
}

func anchorText(roots []*x509.Certificate) string {
	switch len(roots) {
	case 0:
		return ""
	case 1:
		return certs.Info(roots[0]).SubjectName
	}
	return "one of the --root certificates"
}

func countProblems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}

func describeValid(leaf *x509.Certificate, registrationID, anchor string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "valid: %s passes the DPS checks", strings.TrimPrefix(certs.Label("leaf", leaf), "leaf "))
	if registrationID != "" {
		fmt.Fprintf(&b, " for registration ID %q", registrationID)
	}
	if anchor == "" {
		b.WriteString("; with no --root or --group the chain was not anchored to a trusted certificate")
	} else {
		b.WriteString(" and chains to " + anchor)
	}
	return b.String()
}
