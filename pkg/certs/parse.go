// Package certs parses, describes, verifies and issues X.509 certificates
// the way the Device Provisioning Service treats them: leaf CN = registration
// ID, client-auth usage, CA signing certificates and proof of possession.
package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// ErrNoCertificate is wrapped by parse errors when the input holds no
// certificate at all.
var ErrNoCertificate = errors.New("no certificate found")

// Parse reads one or more certificates from data. Accepted forms:
//   - PEM with one or more CERTIFICATE blocks; other blocks (keys, CSRs,
//     parameters) and text between blocks are skipped;
//   - DER, one certificate or several concatenated;
//   - standard base64 (line breaks allowed) of either of the above.
func Parse(data []byte) ([]*x509.Certificate, error) {
	return parse(data, true)
}

func parse(data []byte, allowBase64 bool) ([]*x509.Certificate, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the input is empty", ErrNoCertificate)
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		return parsePEM(trimmed)
	}
	if trimmed[0] == 0x30 && !model.IsBase64Text(trimmed) {
		certs, err := x509.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("parsing DER certificate: %w", err)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("%w in DER data", ErrNoCertificate)
		}
		return certs, nil
	}
	if allowBase64 {
		if raw, err := model.DecodeBase64(string(trimmed)); err == nil && len(raw) > 0 {
			certs, err := parse(raw, false)
			if err != nil {
				return nil, fmt.Errorf("base64 content: %w", err)
			}
			return certs, nil
		}
	}
	return nil, fmt.Errorf("%w: the input is neither PEM, DER nor base64", ErrNoCertificate)
}

func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var (
		certs   []*x509.Certificate
		skipped []string
		blocks  int
	)
	rest := data
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		switch block.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
		default:
			skipped = append(skipped, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (CERTIFICATE): %w", blocks, err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	if blocks == 0 {
		return nil, fmt.Errorf("%w: malformed PEM (no complete BEGIN/END block)", ErrNoCertificate)
	}
	return nil, fmt.Errorf("%w: the PEM data holds only %s", ErrNoCertificate, strings.Join(skipped, ", "))
}

// ReadFile reads certificates from the file at path in any form Parse
// accepts. Errors name the file.
func ReadFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ParseWireCertificate parses the `certificate` string of the DPS wire model
// (X509CertificateWithInfo). Clients send PEM text, base64 of the DER bytes,
// or base64 of the whole PEM text; all three are accepted.
func ParseWireCertificate(s string) ([]*x509.Certificate, error) {
	// The form clients send most, standard base64 of one DER certificate,
	// is decoded and parsed directly: a third of the cost of a bulk X.509
	// create. It accepts only what the general path below accepts, with the
	// same result (FuzzParseWireCertificate holds it to that); anything
	// else, and every failure, takes the general path, which gives reasons.
	if strings.HasPrefix(s, "MI") {
		if der, err := base64.StdEncoding.DecodeString(s); err == nil && len(der) > 0 && der[0] == 0x30 && !model.IsBase64Text(der) {
			if c, err := x509.ParseCertificate(der); err == nil {
				return []*x509.Certificate{c}, nil
			}
		}
	}
	return parseWireGeneral(s)
}

func parseWireGeneral(s string) ([]*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: the certificate string is empty", ErrNoCertificate)
	}
	if !strings.Contains(s, "-----BEGIN") && !model.IsBase64Text(s) {
		return nil, fmt.Errorf("%w: the certificate string is neither PEM nor base64", ErrNoCertificate)
	}
	return Parse([]byte(s))
}

// EncodePEM returns cert as a PEM CERTIFICATE block.
// It builds the same bytes as encoding/pem in one allocation, which matters
// on the bulk-create path of the local service.
func EncodePEM(cert *x509.Certificate) string { return encodePEMDER(cert.Raw) }

const (
	pemCertBegin = "-----BEGIN CERTIFICATE-----\n"
	pemCertEnd   = "-----END CERTIFICATE-----\n"
	pemLineLen   = 64
)

func encodePEMDER(der []byte) string {
	n := base64.StdEncoding.EncodedLen(len(der))
	var scratch [2048]byte
	enc := scratch[:0]
	if n > len(scratch) {
		enc = make([]byte, n)
	}
	enc = enc[:n]
	base64.StdEncoding.Encode(enc, der)
	var b strings.Builder
	b.Grow(len(pemCertBegin) + n + (n+pemLineLen-1)/pemLineLen + len(pemCertEnd))
	b.WriteString(pemCertBegin)
	for r := 0; r < n; r += pemLineLen {
		b.Write(enc[r:min(r+pemLineLen, n)])
		b.WriteByte('\n')
	}
	b.WriteString(pemCertEnd)
	return b.String()
}

// EncodePEMChain returns certs as consecutive PEM CERTIFICATE blocks.
func EncodePEMChain(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.WriteString(EncodePEM(c))
	}
	return b.String()
}

// EncodeBase64DER returns standard base64 of the certificate's DER bytes,
// the form the C# SDK puts in the `certificate` field.
func EncodeBase64DER(cert *x509.Certificate) string {
	return base64.StdEncoding.EncodeToString(cert.Raw)
}
