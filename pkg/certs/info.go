package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// Thumbprint returns the upper-case hex digest of the certificate's DER bytes
// under h (crypto.SHA1 or crypto.SHA256 for the DPS thumbprints), or "" when
// h is not available.
func Thumbprint(cert *x509.Certificate, h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		sum := sha1.Sum(cert.Raw)
		return upperHex(sum[:])
	case crypto.SHA256:
		sum := sha256.Sum256(cert.Raw)
		return upperHex(sum[:])
	}
	if !h.Available() {
		return ""
	}
	d := h.New()
	d.Write(cert.Raw)
	var buf [sha512.Size]byte
	return upperHex(d.Sum(buf[:0]))
}

const upperHexDigits = "0123456789ABCDEF"

// upperHex is strings.ToUpper(hex.EncodeToString(b)) with one allocation.
func upperHex(b []byte) string {
	var buf [2 * sha512.Size]byte
	var dst []byte
	if 2*len(b) <= len(buf) {
		dst = buf[:2*len(b)]
	} else {
		dst = make([]byte, 2*len(b))
	}
	for i, c := range b {
		dst[2*i] = upperHexDigits[c>>4]
		dst[2*i+1] = upperHexDigits[c&0x0f]
	}
	return string(dst)
}

// Info returns the read-only certificate description the service attaches to
// uploaded certificates (X509CertificateInfo).
func Info(cert *x509.Certificate) model.X509CertificateInfo {
	return model.X509CertificateInfo{
		SubjectName:      subjectName(cert),
		SHA1Thumbprint:   Thumbprint(cert, crypto.SHA1),
		SHA256Thumbprint: Thumbprint(cert, crypto.SHA256),
		IssuerName:       issuerName(cert),
		NotBeforeUTC:     model.FormatTime(cert.NotBefore),
		NotAfterUTC:      model.FormatTime(cert.NotAfter),
		SerialNumber:     SerialHex(cert.SerialNumber),
		Version:          cert.Version,
	}
}

// SerialHex renders a serial number as upper-case hex of its DER content
// bytes (a leading 00 is kept when the high bit is set), as .NET does.
func SerialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + strings.ToUpper(new(big.Int).Neg(n).Text(16))
	}
	// RFC 5280 serials are at most 20 octets; room for the sign octet too.
	var buf [21]byte
	nb := (n.BitLen() + 7) / 8
	var b []byte
	if nb+1 <= len(buf) {
		b = buf[:nb+1]
	} else {
		b = make([]byte, nb+1)
	}
	n.FillBytes(b[1:])
	if nb > 0 && b[1]&0x80 == 0 {
		b = b[1:]
	}
	return upperHex(b)
}

var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "S",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"2.5.4.17":                   "PostalCode",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"1.2.840.113549.1.9.1":       "E",
}

// DistinguishedName renders a name as .NET and the service do: most specific
// attribute first, ", " between RDNs, " + " inside a multi-valued RDN, values
// quoted when they contain special characters. Example: "CN=dev1, O=Contoso, C=US".
// A parsed pkix.Name has lost multi-valued RDN grouping; RawDistinguishedName
// keeps it.
func DistinguishedName(name pkix.Name) string {
	if len(name.Names) == 0 {
		return formatRDNs(name.ToRDNSequence())
	}
	seq := make(pkix.RDNSequence, 0, len(name.Names))
	for _, atv := range name.Names {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{atv})
	}
	return formatRDNs(seq)
}

// RawDistinguishedName renders a DER-encoded name (such as
// Certificate.RawSubject) like DistinguishedName.
func RawDistinguishedName(raw []byte) (string, error) {
	if s, ok := fastRawDistinguishedName(raw); ok {
		return s, nil
	}
	return rawDistinguishedNameASN1(raw)
}

// rawDistinguishedNameASN1 is RawDistinguishedName by way of encoding/asn1.
// It defines the rendering: the DER walk in dn.go must agree with it on every
// input it accepts, and hands it everything else (rare value types and all
// errors).
func rawDistinguishedNameASN1(raw []byte) (string, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &seq)
	if err != nil {
		return "", err
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%d trailing bytes after the name", len(rest))
	}
	return formatRDNs(seq), nil
}

func subjectName(c *x509.Certificate) string {
	if s, err := RawDistinguishedName(c.RawSubject); err == nil {
		return s
	}
	return DistinguishedName(c.Subject)
}

func issuerName(c *x509.Certificate) string {
	if s, err := RawDistinguishedName(c.RawIssuer); err == nil {
		return s
	}
	return DistinguishedName(c.Issuer)
}

func formatRDNs(seq pkix.RDNSequence) string {
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		rdn := seq[i]
		attrs := make([]string, 0, len(rdn))
		for _, atv := range rdn {
			attrs = append(attrs, attrType(atv.Type)+"="+quoteDNValue(fmt.Sprint(atv.Value)))
		}
		parts = append(parts, strings.Join(attrs, " + "))
	}
	return strings.Join(parts, ", ")
}

func attrType(oid asn1.ObjectIdentifier) string {
	if n, ok := attrNames[oid.String()]; ok {
		return n
	}
	return "OID." + oid.String()
}

func quoteDNValue(v string) string {
	if v == "" {
		return `""`
	}
	needs := v[0] == ' ' || v[len(v)-1] == ' ' || v[0] == '#' ||
		strings.ContainsAny(v, dnSpecials)
	if !needs {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// Inspection is the structured description of one certificate that
// `cert inspect` prints.
type Inspection struct {
	Subject            string    `json:"subject"`
	CommonName         string    `json:"commonName,omitempty"`
	Issuer             string    `json:"issuer"`
	SerialNumber       string    `json:"serialNumber"`
	Version            int       `json:"version"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	KeyType            string    `json:"keyType"`
	KeySize            int       `json:"keySize"`
	Curve              string    `json:"curve,omitempty"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`
	SHA1Thumbprint     string    `json:"sha1Thumbprint"`
	SHA256Thumbprint   string    `json:"sha256Thumbprint"`
	IsCA               bool      `json:"isCA"`
	// PathLength is the basicConstraints pathLenConstraint; nil when absent.
	PathLength     *int     `json:"pathLength,omitempty"`
	SelfSigned     bool     `json:"selfSigned"`
	KeyUsage       []string `json:"keyUsage,omitempty"`
	ExtKeyUsage    []string `json:"extKeyUsage,omitempty"`
	SANs           []string `json:"sans,omitempty"`
	SubjectKeyID   string   `json:"subjectKeyId,omitempty"`
	AuthorityKeyID string   `json:"authorityKeyId,omitempty"`
}

// Inspect describes cert.
func Inspect(cert *x509.Certificate) Inspection {
	in := Inspection{
		Subject:            subjectName(cert),
		CommonName:         cert.Subject.CommonName,
		Issuer:             issuerName(cert),
		SerialNumber:       SerialHex(cert.SerialNumber),
		Version:            cert.Version,
		NotBefore:          cert.NotBefore.UTC(),
		NotAfter:           cert.NotAfter.UTC(),
		SignatureAlgorithm: cert.SignatureAlgorithm.String(),
		SHA1Thumbprint:     Thumbprint(cert, crypto.SHA1),
		SHA256Thumbprint:   Thumbprint(cert, crypto.SHA256),
		IsCA:               cert.BasicConstraintsValid && cert.IsCA,
		SelfSigned:         isSelfSigned(cert),
		KeyUsage:           KeyUsageNames(cert.KeyUsage),
		ExtKeyUsage:        ExtKeyUsageNames(cert),
		SANs:               SANs(cert),
	}
	in.KeyType, in.KeySize, in.Curve = KeyDescription(cert.PublicKey)
	if cert.BasicConstraintsValid && cert.IsCA && (cert.MaxPathLen > 0 || cert.MaxPathLenZero) {
		n := cert.MaxPathLen
		in.PathLength = &n
	}
	if len(cert.SubjectKeyId) > 0 {
		in.SubjectKeyID = upperHex(cert.SubjectKeyId)
	}
	if len(cert.AuthorityKeyId) > 0 {
		in.AuthorityKeyID = upperHex(cert.AuthorityKeyId)
	}
	return in
}

// KeyDescription returns the key type ("RSA", "ECDSA", "Ed25519"), its size
// in bits and, for ECDSA, the curve name.
func KeyDescription(pub any) (keyType string, bits int, curve string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize, k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519", 256, ""
	case nil:
		return "unknown", 0, ""
	}
	return fmt.Sprintf("%T", pub), 0, ""
}

var keyUsageNames = []struct {
	u    x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

// KeyUsageNames returns the RFC 5280 names of the bits set in u.
func KeyUsageNames(u x509.KeyUsage) []string {
	var out []string
	for _, k := range keyUsageNames {
		if u&k.u != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:                            "any",
	x509.ExtKeyUsageServerAuth:                     "serverAuth",
	x509.ExtKeyUsageClientAuth:                     "clientAuth",
	x509.ExtKeyUsageCodeSigning:                    "codeSigning",
	x509.ExtKeyUsageEmailProtection:                "emailProtection",
	x509.ExtKeyUsageIPSECEndSystem:                 "ipsecEndSystem",
	x509.ExtKeyUsageIPSECTunnel:                    "ipsecTunnel",
	x509.ExtKeyUsageIPSECUser:                      "ipsecUser",
	x509.ExtKeyUsageTimeStamping:                   "timeStamping",
	x509.ExtKeyUsageOCSPSigning:                    "OCSPSigning",
	x509.ExtKeyUsageMicrosoftServerGatedCrypto:     "msSGC",
	x509.ExtKeyUsageNetscapeServerGatedCrypto:      "nsSGC",
	x509.ExtKeyUsageMicrosoftCommercialCodeSigning: "msCodeCom",
	x509.ExtKeyUsageMicrosoftKernelCodeSigning:     "msKernelCode",
}

// ExtKeyUsageNames returns the names of the extended key usages of cert;
// unknown ones appear as their dotted OID.
func ExtKeyUsageNames(cert *x509.Certificate) []string {
	var out []string
	for _, u := range cert.ExtKeyUsage {
		if n, ok := extKeyUsageNames[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", u))
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

// SANs lists the subject alternative names as "DNS:…", "IP:…", "email:…"
// and "URI:…".
func SANs(cert *x509.Certificate) []string {
	var out []string
	for _, n := range cert.DNSNames {
		out = append(out, "DNS:"+n)
	}
	for _, ip := range cert.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range cert.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range cert.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

func isSelfSigned(cert *x509.Certificate) bool {
	if string(cert.RawSubject) != string(cert.RawIssuer) {
		return false
	}
	return cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}
