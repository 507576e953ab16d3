// Package shared holds what the cert verbs share: reading certificate and
// key files (or stdin), time flags and the printed result of a created
// certificate.
package shared

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
)

// CertExts are the file name extensions completed for certificate flags.
var CertExts = []string{"pem", "crt", "cer", "der"}

// KeyExts are the file name extensions completed for key flags.
var KeyExts = []string{"pem", "key", "der"}

// ReadCertificates reads the certificates in name ("-" is stdin) in any form
// certs.Parse accepts. Errors name the file.
func ReadCertificates(ios *iostreams.IOStreams, name string) ([]*x509.Certificate, error) {
	data, err := cmdutil.ReadFile(ios, name)
	if err != nil {
		return nil, err
	}
	cs, err := certs.Parse(data)
	if err != nil {
		if name == "-" {
			name = "standard input"
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cs, nil
}

// ReadCA reads a CA certificate file (the first certificate is the CA, any
// others its chain) and its private key file, and checks that they match.
func ReadCA(ios *iostreams.IOStreams, certFile, keyFile string) (*certs.Pair, []*x509.Certificate, error) {
	cs, err := ReadCertificates(ios, certFile)
	if err != nil {
		return nil, nil, err
	}
	data, err := cmdutil.ReadFile(ios, keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := certs.ParsePrivateKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	if err := certs.KeyMatches(cs[0], key); err != nil {
		return nil, nil, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	return &certs.Pair{Cert: cs[0], Key: key}, cs[1:], nil
}

// ParseTime reads a point in time: RFC 3339 ("2030-01-02T15:04:05Z"), a
// date ("2030-01-02", midnight UTC), or a duration from now ("720h", "90d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2030-01-02), an RFC 3339 time nor a positive duration (720h, 90d)", s)
}

// Created describes a certificate file a command wrote.
type Created struct {
	Type             string    `json:"type"`
	CertificateFile  string    `json:"certificateFile"`
	KeyFile          string    `json:"keyFile,omitempty"`
	Subject          string    `json:"subject"`
	Issuer           string    `json:"issuer"`
	NotAfter         time.Time `json:"notAfter"`
	SHA1Thumbprint   string    `json:"sha1Thumbprint"`
	SHA256Thumbprint string    `json:"sha256Thumbprint"`
}

// NewCreated describes cert as written to certFile and keyFile.
func NewCreated(kind string, cert *x509.Certificate, certFile, keyFile string) Created {
	info := certs.Info(cert)
	return Created{
		Type:             kind,
		CertificateFile:  certFile,
		KeyFile:          keyFile,
		Subject:          info.SubjectName,
		Issuer:           info.IssuerName,
		NotAfter:         cert.NotAfter.UTC(),
		SHA1Thumbprint:   certs.Thumbprint(cert, crypto.SHA1),
		SHA256Thumbprint: info.SHA256Thumbprint,
	}
}

// CreatedColumns are the fields of Created in table form.
var CreatedColumns = []output.Column[Created]{
	{Header: "TYPE", Value: func(c Created) string { return c.Type }},
	{Header: "CERTIFICATE FILE", Value: func(c Created) string { return c.CertificateFile }},
	{Header: "KEY FILE", Value: func(c Created) string { return c.KeyFile }},
	{Header: "SUBJECT", Value: func(c Created) string { return c.Subject }},
	{Header: "ISSUER", Value: func(c Created) string { return c.Issuer }},
	{Header: "NOT AFTER", Value: func(c Created) string { return c.NotAfter.Format(time.RFC3339) }},
	{Header: "SHA1 THUMBPRINT", Value: func(c Created) string { return c.SHA1Thumbprint }},
	{Header: "SHA256 THUMBPRINT", Value: func(c Created) string { return c.SHA256Thumbprint }},
}
