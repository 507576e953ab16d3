package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Problem codes reported by Verify and the Check functions.
const (
	CodeExpired           = "expired"
	CodeNotYetValid       = "not-yet-valid"
	CodeIDInvalid         = "id-invalid"
	CodeCNMismatch        = "cn-mismatch"
	CodeMissingClientAuth = "missing-client-auth-eku"
	CodeMissingDigitalSig = "missing-digital-signature"
	CodeNotCA             = "not-ca"
	CodeNoCertSign        = "missing-cert-sign"
	CodePathLength        = "path-length"
	CodeCAClientAuth      = "ca-eku-excludes-client-auth"
	CodeBrokenChain       = "broken-chain"
	CodeWrongRoot         = "wrong-root"
	CodeBadSignature      = "bad-signature"
	CodeChainLoop         = "chain-loop"
	CodeInvalidChain      = "invalid-chain"
)

// Problem is one reason a certificate or chain is not acceptable to DPS.
type Problem struct {
	// Cert names the certificate concerned, such as "leaf CN=dev1" or
	// "intermediate CN=Contoso Issuing CA".
	Cert string `json:"cert"`
	// Reason is a sentence for people.
	Reason string `json:"reason"`
	// Code is a stable machine-readable code (the Code* constants).
	Code string `json:"code"`
}

func (p Problem) String() string { return p.Cert + ": " + p.Reason }

// Error is a list of problems usable as an error.
type Error []Problem

func (e Error) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// HasCode reports whether problems contains one with code.
func HasCode(problems []Problem, code string) bool {
	for _, p := range problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

// AsError returns nil for no problems and an Error otherwise.
func AsError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return Error(problems)
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Intermediates are candidate intermediate CAs (the rest of the chain
	// the device presents).
	Intermediates []*x509.Certificate
	// Roots are the trusted certificates the chain must end at: a root CA,
	// an intermediate uploaded to the service, or a self-signed device
	// certificate itself. With no roots only the leaf and the links that can
	// be built are checked.
	Roots []*x509.Certificate
	// RegistrationID, when set, must equal the leaf CN (case-insensitively).
	RegistrationID string
	// At is the verification time; zero means now.
	At time.Time
}

// Label returns how problems name cert: "<role> CN=<cn>", falling back to
// the whole subject when there is no CN.
func Label(role string, cert *x509.Certificate) string {
	if cn := cert.Subject.CommonName; cn != "" {
		return role + " CN=" + cn
	}
	if s := subjectName(cert); s != "" {
		return role + " " + s
	}
	return role + " (empty subject, serial " + SerialHex(cert.SerialNumber) + ")"
}

func validity(label string, c *x509.Certificate, at time.Time) []Problem {
	switch {
	case at.Before(c.NotBefore):
		return []Problem{{label, "not valid before " + c.NotBefore.UTC().Format(time.RFC3339), CodeNotYetValid}}
	case at.After(c.NotAfter):
		return []Problem{{label, "expired at " + c.NotAfter.UTC().Format(time.RFC3339), CodeExpired}}
	}
	return nil
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no restriction
	}
	for _, u := range c.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// CheckDeviceCertificate checks what enrollment create checks for the
// certificate of an individual X.509 enrollment (or a device presents): CN is
// a valid X.509 registration ID and, when registrationID is not empty, equals
// it; client-auth usage is allowed; digitalSignature is allowed when key
// usage is restricted; the certificate is within its validity window at at
// (zero means now).
func CheckDeviceCertificate(cert *x509.Certificate, registrationID string, at time.Time) []Problem {
	return checkLeaf(Label("leaf", cert), cert, registrationID, at)
}

func checkLeaf(label string, cert *x509.Certificate, registrationID string, at time.Time) []Problem {
	if at.IsZero() {
		at = time.Now()
	}
	var ps []Problem
	cn := cert.Subject.CommonName
	switch {
	case cn == "":
		ps = append(ps, Problem{label, "has no subject common name; DPS takes the registration ID from the CN", CodeIDInvalid})
	default:
		if err := ValidateRegistrationID(cn); err != nil {
			ps = append(ps, Problem{label, "the CN is not a valid registration ID: " + err.Error(), CodeIDInvalid})
		}
		if registrationID != "" && !strings.EqualFold(cn, registrationID) {
			ps = append(ps, Problem{label, fmt.Sprintf("CN %q does not match the registration ID %q", cn, registrationID), CodeCNMismatch})
		}
	}
	if !hasEKU(cert, x509.ExtKeyUsageClientAuth) {
		ps = append(ps, Problem{label, "the extended key usage does not include clientAuth (TLS client authentication)", CodeMissingClientAuth})
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		ps = append(ps, Problem{label, "the key usage does not include digitalSignature, which TLS client authentication needs", CodeMissingDigitalSig})
	}
	return append(ps, validity(label, cert, at)...)
}

// CheckSigningCertificate checks a signing certificate of an enrollment
// group (root or intermediate): it must be a CA allowed to sign certificates
// and be within its validity window at at (zero means now).
func CheckSigningCertificate(cert *x509.Certificate, at time.Time) []Problem {
	if at.IsZero() {
		at = time.Now()
	}
	label := Label("signing certificate", cert)
	ps := checkCA(label, cert)
	return append(ps, validity(label, cert, at)...)
}

func checkCA(label string, c *x509.Certificate) []Problem {
	var ps []Problem
	if !c.BasicConstraintsValid || !c.IsCA {
		reason := "is not a CA: basicConstraints is missing"
		if c.BasicConstraintsValid {
			reason = "is not a CA: basicConstraints has CA=false"
		}
		ps = append(ps, Problem{label, reason, CodeNotCA})
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		ps = append(ps, Problem{label, "the key usage does not include keyCertSign", CodeNoCertSign})
	}
	return ps
}

// maxChainDepth bounds chain building.
const maxChainDepth = 16

// Verify checks leaf and the chain from it to one of opts.Roots under the
// DPS rules and returns every problem found; an empty result means valid.
// The leaf must be a valid device certificate (see CheckDeviceCertificate);
// each issuer must be named by its subordinate, hold the key that signed it,
// be a CA allowed to sign certificates, respect path-length limits, allow
// client authentication, and be within its validity window; the chain must
// end at a root. Finally crypto/x509 path validation runs as a backstop.
func Verify(leaf *x509.Certificate, opts VerifyOptions) []Problem {
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	isRoot := func(c *x509.Certificate) bool {
		for _, r := range opts.Roots {
			if r.Equal(c) {
				return true
			}
		}
		return false
	}
	leafLabel := Label("leaf", leaf)
	if isRoot(leaf) {
		leafLabel = Label("leaf (trusted itself)", leaf)
	}
	ps := checkLeaf(leafLabel, leaf, opts.RegistrationID, at)

	candidates := make([]*x509.Certificate, 0, len(opts.Intermediates)+len(opts.Roots))
	candidates = append(candidates, opts.Intermediates...)
	candidates = append(candidates, opts.Roots...)

	cur, curLabel := leaf, leafLabel
	cas := 0 // CA certificates below the one being examined, excluding the leaf
	seen := map[string]bool{string(leaf.Raw): true}
	reachedRoot := isRoot(leaf)
	for depth := 0; !reachedRoot && depth < maxChainDepth; depth++ {
		if cur != leaf {
			cas++
		}
		issuer, sigOK := findIssuer(cur, candidates)
		if issuer == nil {
			if len(opts.Roots) == 0 {
				break // nothing to anchor to: only the links present were checked
			}
			if isSelfSigned(cur) {
				ps = append(ps, Problem{curLabel, "is self-signed but is not among the trusted roots", CodeWrongRoot})
			} else {
				ps = append(ps, Problem{curLabel, fmt.Sprintf("its issuer %q is neither among the intermediates nor the trusted roots (%s)", issuerName(cur), rootNames(opts.Roots)), CodeBrokenChain})
			}
			break
		}
		if issuer.Equal(cur) {
			// Self-signed and trusted would have ended the loop; self-signed
			// but not trusted:
			if len(opts.Roots) > 0 {
				ps = append(ps, Problem{curLabel, "is self-signed but is not among the trusted roots", CodeWrongRoot})
			}
			break
		}
		root := isRoot(issuer)
		role := "intermediate"
		switch {
		case root && isSelfSigned(issuer):
			role = "root"
		case root:
			role = "trusted CA"
		case isSelfSigned(issuer):
			role = "root" // an untrusted one; reported as wrong-root below
		}
		label := Label(role, issuer)
		if !sigOK {
			if root {
				ps = append(ps, Problem{curLabel, fmt.Sprintf("was issued by a different key than %s, which has the same name (was that CA re-created?)", label), CodeWrongRoot})
			} else {
				ps = append(ps, Problem{curLabel, fmt.Sprintf("its signature does not verify with the key of %s", label), CodeBadSignature})
			}
		}
		if seen[string(issuer.Raw)] {
			ps = append(ps, Problem{label, "appears twice in the chain", CodeChainLoop})
			break
		}
		seen[string(issuer.Raw)] = true
		ps = append(ps, checkCA(label, issuer)...)
		if issuer.BasicConstraintsValid && issuer.IsCA && (issuer.MaxPathLen > 0 || issuer.MaxPathLenZero) && cas > issuer.MaxPathLen {
			ps = append(ps, Problem{label, fmt.Sprintf("allows %d CA certificates below it but has %d", issuer.MaxPathLen, cas), CodePathLength})
		}
		if !hasEKU(issuer, x509.ExtKeyUsageClientAuth) {
			ps = append(ps, Problem{label, "its extended key usage excludes clientAuth, so certificates it issues cannot authenticate TLS clients", CodeCAClientAuth})
		}
		ps = append(ps, validity(label, issuer, at)...)
		cur, curLabel = issuer, label
		reachedRoot = root
	}

	if len(ps) == 0 && len(opts.Roots) > 0 {
		if p, ok := stdlibVerify(leaf, leafLabel, opts, at); !ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func rootNames(roots []*x509.Certificate) string {
	names := make([]string, len(roots))
	for i, r := range roots {
		names[i] = subjectName(r)
	}
	return strings.Join(names, "; ")
}

// findIssuer returns the candidate that issued c: preferably one whose key
// verifies c's signature (sigOK), otherwise the first whose subject matches
// c's issuer name.
func findIssuer(c *x509.Certificate, candidates []*x509.Certificate) (issuer *x509.Certificate, sigOK bool) {
	var byName *x509.Certificate
	for _, cand := range candidates {
		if !bytes.Equal(cand.RawSubject, c.RawIssuer) {
			continue
		}
		if cand.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return cand, true
		}
		if byName == nil {
			byName = cand
		}
	}
	if byName == nil && bytes.Equal(c.RawSubject, c.RawIssuer) {
		if isSelfSigned(c) {
			return c, true
		}
		return nil, false
	}
	return byName, false
}

// stdlibVerify runs crypto/x509 path validation with client-auth usage.
func stdlibVerify(leaf *x509.Certificate, label string, opts VerifyOptions, at time.Time) (Problem, bool) {
	roots := x509.NewCertPool()
	for _, r := range opts.Roots {
		roots.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, c := range opts.Intermediates {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err == nil {
		return Problem{}, true
	}
	code := CodeInvalidChain
	var cie x509.CertificateInvalidError
	var uae x509.UnknownAuthorityError
	switch {
	case errors.As(err, &cie):
		switch cie.Reason {
		case x509.Expired:
			code = CodeExpired
		case x509.NotAuthorizedToSign:
			code = CodeNotCA
		case x509.IncompatibleUsage:
			code = CodeMissingClientAuth
		case x509.TooManyIntermediates:
			code = CodePathLength
		}
	case errors.As(err, &uae):
		code = CodeBrokenChain
	}
	return Problem{label, "path validation failed: " + err.Error(), code}, false
}

// MatchesID reports whether a certificate's CN is registrationID, the way
// the service compares them (case-insensitively).
func MatchesID(cert *x509.Certificate, registrationID string) bool {
	return strings.EqualFold(cert.Subject.CommonName, registrationID)
}
