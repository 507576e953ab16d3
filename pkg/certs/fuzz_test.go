package certs

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	p := newTestPKI(f)
	chain := EncodePEMChain([]*x509.Certificate{p.device.Cert, p.inter.Cert})
	keyPEM, _ := EncodePrivateKeyPEM(p.device.Key)
	f.Add([]byte(EncodePEM(p.device.Cert)))
	f.Add([]byte(chain))
	f.Add(p.root.Cert.Raw)
	f.Add([]byte(base64.StdEncoding.EncodeToString(p.root.Cert.Raw)))
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(chain))))
	f.Add(append(keyPEM, chain...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := Parse(data)
		if err != nil {
			if len(certs) != 0 {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no certificates and no error")
		}
		// Every parsed certificate must survive a PEM round trip and describe itself.
		for _, c := range certs {
			again, err := Parse([]byte(EncodePEM(c)))
			if err != nil || len(again) != 1 || !again[0].Equal(c) {
				t.Fatalf("PEM round trip failed: %v", err)
			}
			_ = Info(c)
			_ = Inspect(c)
		}
		if _, err := ParseWireCertificate(string(data)); err != nil && !errors.Is(err, ErrNoCertificate) {
			// A wire string may reject raw DER, but only as "no certificate".
			t.Fatalf("ParseWireCertificate rejects what Parse accepts: %v", err)
		}
	})
}
