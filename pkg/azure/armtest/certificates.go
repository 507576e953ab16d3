package armtest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The certificates API of a provisioning service, as ARM serves it:
//
//	PUT    certificates/{name}                          create, or replace at If-Match; unverified
//	POST   certificates/{name}/generateVerificationCode If-Match; a new code and etag
//	POST   certificates/{name}/verify                   If-Match; {certificate} whose subject CN is
//	                                                    the code, signed by the uploaded CA's key
//	DELETE certificates/{name}                          If-Match
//
// Every change needs the current etag (or "*") once the certificate
// exists, and gives it a new one.

// serveCertificate serves certificate name of d; op is the rest of the
// path in lower case ("" or "generateverificationcode" or "verify").
func (s *Server) serveCertificate(w http.ResponseWriter, r *http.Request, d *DPS, name string, op []string) {
	i := -1
	for j, c := range d.Certificates {
		if strings.EqualFold(c.Name, name) {
			i = j
		}
	}
	action := ""
	if len(op) == 1 {
		action = op[0]
	}
	switch {
	case action == "" && r.Method == http.MethodPut:
		s.putCertificate(w, r, d, name, i)
		return
	case action == "" && r.Method == http.MethodGet, action == "" && r.Method == http.MethodDelete,
		action == "generateverificationcode" && r.Method == http.MethodPost, action == "verify" && r.Method == http.MethodPost:
	default:
		s.armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported on %s", r.Method, r.URL.Path)
		return
	}
	if i < 0 {
		s.armError(w, http.StatusNotFound, "CertificateNotFound", "The certificate '%s' of provisioning service '%s' was not found.", name, d.Name)
		return
	}
	c := &d.Certificates[i]
	if r.Method == http.MethodGet {
		writeJSON(w, s.certJSON(d, *c))
		return
	}
	if !s.checkIfMatch(w, r, *c, true) {
		return
	}
	switch action {
	case "":
		d.Certificates = append(d.Certificates[:i], d.Certificates[i+1:]...)
		w.WriteHeader(http.StatusOK)
	case "generateverificationcode":
		code := make([]byte, 24)
		_, _ = rand.Read(code)
		c.code = strings.ToUpper(hex.EncodeToString(code))
		s.touch(c)
		out := s.certJSON(d, *c)
		out["properties"].(map[string]any)["verificationCode"] = c.code
		writeJSON(w, out)
	case "verify":
		if err := c.checkProof(r.Body); err != nil {
			s.armError(w, http.StatusBadRequest, "CertificateVerificationFailed", "The verification certificate of '%s' was not accepted: %v.", c.Name, err)
			return
		}
		c.Verified, c.code = true, ""
		s.touch(c)
		writeJSON(w, s.certJSON(d, *c))
	}
}

// checkIfMatch answers 412 when the If-Match of r is not c's etag (or
// "*"); required says a missing one is refused too.
func (s *Server) checkIfMatch(w http.ResponseWriter, r *http.Request, c Certificate, required bool) bool {
	m := r.Header.Get("If-Match")
	switch {
	case m == "" && !required, m == "*", m == certETag(c):
		return true
	case m == "":
		s.armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The certificate '%s' exists: the If-Match header with its etag is required.", c.Name)
	default:
		s.armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The etag %s does not match the current etag %s of certificate '%s'.", m, certETag(c), c.Name)
	}
	return false
}

// putCertificate uploads a certificate under name (i its index, -1 when
// new); the body is {properties: {certificate: base64 of the PEM text or
// DER, or the PEM text}}. What is uploaded is unverified.
func (s *Server) putCertificate(w http.ResponseWriter, r *http.Request, d *DPS, name string, i int) {
	if i >= 0 && !s.checkIfMatch(w, r, d.Certificates[i], true) {
		return
	}
	if m := r.Header.Get("If-Match"); i < 0 && m != "" && m != "*" {
		s.armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The etag %s does not match: there is no certificate '%s'.", m, name)
		return
	}
	if err := checkCertificateName(name); err != nil {
		s.armError(w, http.StatusBadRequest, "InvalidCertificateName", "%v", err)
		return
	}
	var body struct {
		Properties struct {
			Certificate string `json:"certificate"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		s.armError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: %v", err)
		return
	}
	raw := []byte(body.Properties.Certificate)
	if dec, err := base64.StdEncoding.DecodeString(body.Properties.Certificate); err == nil {
		raw = dec
	}
	cert, err := parseCertificate(raw)
	if err != nil {
		s.armError(w, http.StatusBadRequest, "InvalidCertificate", "The certificate '%s' is not valid: %v.", name, err)
		return
	}
	sum := sha1.Sum(cert.Raw)
	c := Certificate{Name: name, Subject: cert.Subject.String(), Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])),
		Expiry: cert.NotAfter.UTC().Format(http.TimeFormat), PEM: raw}
	if i >= 0 {
		c.Name, c.etag, c.created = d.Certificates[i].Name, d.Certificates[i].etag, d.Certificates[i].created
	}
	s.touch(&c)
	if i >= 0 {
		d.Certificates[i] = c
	} else {
		d.Certificates = append(d.Certificates, c)
	}
	writeJSON(w, s.certJSON(d, c))
}

// touch gives c a new etag and update time (and its creation time).
func (s *Server) touch(c *Certificate) {
	s.certSeq++
	c.etag = s.certSeq
	c.updated = time.Now().UTC().Truncate(time.Second)
	if c.created.IsZero() {
		c.created = c.updated
	}
}

func certETag(c Certificate) string { return fmt.Sprintf("AAAAAA%06d=", c.etag) }

func (s *Server) certJSON(d *DPS, c Certificate) map[string]any {
	props := map[string]any{"subject": c.Subject, "thumbprint": c.Thumbprint, "expiry": c.Expiry, "isVerified": c.Verified}
	if !c.created.IsZero() {
		props["created"] = c.created.Format(http.TimeFormat)
		props["updated"] = c.updated.Format(http.TimeFormat)
	}
	if len(c.PEM) > 0 {
		props["certificate"] = base64.StdEncoding.EncodeToString(c.PEM)
	}
	return map[string]any{
		"id": s.dpsID(d) + "/certificates/" + c.Name, "name": c.Name, "etag": certETag(c),
		"type": "Microsoft.Devices/provisioningServices/Certificates", "properties": props,
	}
}

// checkProof reads a verify body, {certificate: PEM text or base64 of the
// DER}, and checks the proof of possession: a code was issued, the
// certificate's subject CN is that code, it is valid now, and the
// uploaded CA's key signed it.
func (c *Certificate) checkProof(body io.Reader) error {
	var req struct {
		Certificate string `json:"certificate"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&req); err != nil {
		return fmt.Errorf("the request content is invalid: %v", err)
	}
	if c.code == "" {
		return errors.New("no verification code was generated for it")
	}
	raw := []byte(req.Certificate)
	if !bytes.Contains(raw, []byte("-----BEGIN")) {
		dec, err := base64.StdEncoding.DecodeString(req.Certificate)
		if err != nil {
			return errors.New("the certificate is neither PEM nor base64")
		}
		raw = dec
	}
	proof, err := parseCertificate(raw)
	if err != nil {
		return err
	}
	ca, err := parseCertificate(c.PEM)
	if err != nil {
		return fmt.Errorf("the uploaded certificate: %v", err)
	}
	if proof.Subject.CommonName != c.code {
		return fmt.Errorf("its subject CN %q is not the verification code", proof.Subject.CommonName)
	}
	if now := time.Now(); now.Before(proof.NotBefore) || now.After(proof.NotAfter) {
		return fmt.Errorf("it is valid from %s to %s only", proof.NotBefore.UTC().Format(time.RFC3339), proof.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := proof.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("it is not signed by the key of %s: %v", ca.Subject, err)
	}
	return nil
}

// parseCertificate reads one certificate, PEM or DER.
func parseCertificate(raw []byte) (*x509.Certificate, error) {
	if b, _ := pem.Decode(raw); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is no certificate", b.Type)
		}
		raw = b.Bytes
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("no X.509 certificate: %v", err)
	}
	return cert, nil
}

// checkCertificateName checks a name as ARM does: 1 to 256 letters,
// digits, '-', '_' and '.'.
func checkCertificateName(name string) error {
	if name == "" || len(name) > 256 {
		return fmt.Errorf("the certificate name must be 1 to 256 characters long")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("the certificate name '%s' has the character %q; only letters, digits, '-', '_' and '.' are allowed", name, r)
		}
	}
	return nil
}
