// Package shared holds what the ca verbs share: the table columns of CA
// certificates, the proof of possession, errors in the commands' words,
// and completion.
package shared

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

type ca = cacert.Certificate

// Columns are the table columns of a CA certificate.
var Columns = []output.Column[ca]{
	{Header: "NAME", Value: func(c ca) string { return c.Name }, Full: true},
	{Header: "SUBJECT", Value: func(c ca) string { return c.Properties.Subject }},
	{Header: "VERIFIED", Value: func(c ca) string { return strconv.FormatBool(c.Properties.IsVerified) }},
	{Header: "EXPIRY", Value: func(c ca) string { return c.Properties.Expiry }},
	{Header: "THUMBPRINT", Value: func(c ca) string { return c.Properties.Thumbprint }},
}

// DetailColumns are the fields "ca show", "ca add" and "ca verify" print.
var DetailColumns = []output.Column[ca]{
	Columns[0], Columns[1],
	{Header: "SHA-1 THUMBPRINT", Value: func(c ca) string { return c.Properties.Thumbprint }},
	{Header: "SHA-256 THUMBPRINT", Value: func(c ca) string { return SHA256Thumbprint(c) }},
	Columns[3], Columns[2],
	{Header: "CREATED", Value: func(c ca) string { return c.Properties.Created }},
	{Header: "UPDATED", Value: func(c ca) string { return c.Properties.Updated }},
	{Header: "ETAG", Value: func(c ca) string { return c.ETag }},
}

// Parse returns the X.509 certificate of c (its base64 certificate
// property, PEM or DER), nil when the service did not return it.
func Parse(c cacert.Certificate) *x509.Certificate {
	raw, err := base64.StdEncoding.DecodeString(c.Properties.Certificate)
	if err != nil || len(raw) == 0 {
		return nil
	}
	parsed, err := certs.Parse(raw)
	if err != nil {
		return nil
	}
	return parsed[0]
}

// SHA256Thumbprint is the SHA-256 thumbprint of c's certificate, "" when
// the service did not return the certificate.
func SHA256Thumbprint(c cacert.Certificate) string {
	if x := Parse(c); x != nil {
		return certs.Thumbprint(x, crypto.SHA256)
	}
	return ""
}

// Prove proves possession of the key of CA certificate name (at etag):
// it asks the service for a verification code, makes the verification
// certificate (CN = code) with key and answers with it.
func Prove(ctx context.Context, svc cacert.Service, name, etag string, cert *x509.Certificate, key crypto.Signer) (*cacert.Certificate, error) {
	code, err := svc.VerificationCode(ctx, name, etag)
	if err != nil {
		return nil, Explain(err, name)
	}
	v, err := certs.NewVerificationCertificate(cert, key, code.Properties.VerificationCode)
	if err != nil {
		return nil, fmt.Errorf("make the verification certificate of %q: %w", name, err)
	}
	verified, err := svc.Verify(ctx, name, code.ETag, []byte(certs.EncodePEM(v.Cert)))
	if err != nil {
		return nil, Explain(err, name)
	}
	return verified, nil
}

// Explain words the errors of a cacert.Service for the ca commands: a
// failed proof is a verification failure (its exit code), the others say
// what to do.
func Explain(err error, name string) error {
	switch {
	case errors.Is(err, cacert.ErrProof):
		return &cmdutil.VerificationError{Err: err}
	case errors.Is(err, cacert.ErrNotFound):
		return fmt.Errorf("CA certificate %q not found; see \"dpsctl ca list\"", name)
	case errors.Is(err, cacert.ErrExists):
		return fmt.Errorf("CA certificate %q exists; use another --name, or --force to replace it", name)
	case errors.Is(err, cacert.ErrETagMismatch):
		return fmt.Errorf("CA certificate %q changed since it was read (etag mismatch); read it again with \"dpsctl ca show %s\"", name, name)
	}
	return err
}

// CompleteNames completes the names of the CA certificates.
func CompleteNames(f *cmdutil.Factory, many bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !many {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svc, err := f.CAs(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := svc.List(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range list {
			out = append(out, c.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
