package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// benchCert is one of the certificate shapes the bulk import sees.
type benchCert struct {
	name string
	cert *x509.Certificate
}

// benchCerts makes two ECDSA P-256 device certificates: a typical one whose
// subject is just the registration ID, and one whose subject has several
// attributes including a multi-valued RDN, both issued by an intermediate
// whose name has several attributes.
func benchCerts(tb testing.TB) []benchCert {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	devKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	issuer := pkix.Name{
		Country:            []string{"US"},
		Organization:       []string{"Contoso Ltd"},
		OrganizationalUnit: []string{"Device PKI"},
		CommonName:         "Contoso Device Intermediate CA 01",
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x1001),
		Subject:               issuer,
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	multi := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "US"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Contoso Ltd"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Field Devices"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Building 7, Floor 2"}},
		{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "sensor-000417"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: "SN-9F3A-0417"},
		},
	}
	rawMulti, err := asn1.Marshal(multi)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := new(big.Int).SetString("5a3c9e0f71b2d4c6e8f00a1b2c3d4e5f60718293", 16)
	mk := func(subject pkix.Name, rawSubject []byte) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      subject,
			RawSubject:   rawSubject,
			NotBefore:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &devKey.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	return []benchCert{
		{"device-cn", mk(pkix.Name{CommonName: "dev-000417"}, nil)},
		{"multi-attr", mk(pkix.Name{}, rawMulti)},
	}
}

func BenchmarkInfo(b *testing.B) {
	for _, bc := range benchCerts(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Info(bc.cert)
			}
		})
	}
}

func BenchmarkRawDistinguishedName(b *testing.B) {
	for _, bc := range benchCerts(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := RawDistinguishedName(bc.cert.RawSubject); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
