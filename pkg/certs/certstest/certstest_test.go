package certstest

import (
	"crypto/tls"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
)

func TestCAAndDevices(t *testing.T) {
	ca := New(t)
	tests := []struct {
		name string
		dev  *Device
		opts certs.VerifyOptions
	}{
		{"intermediate-issued", ca.Device(t, "dev-a"), certs.VerifyOptions{Roots: ca.Roots(), RegistrationID: "dev-a"}},
		{"root-issued", ca.RootDevice(t, "dev-b"), certs.VerifyOptions{Roots: ca.Roots(), RegistrationID: "dev-b"}},
		{"self-signed", SelfSigned(t, "dev-c"), certs.VerifyOptions{RegistrationID: "dev-c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := certs.ReadFile(tt.dev.CertPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != len(tt.dev.Chain) {
				t.Fatalf("file holds %d certificates, want %d", len(chain), len(tt.dev.Chain))
			}
			opts := tt.opts
			opts.Intermediates = chain[1:]
			if len(opts.Roots) == 0 {
				opts.Roots = chain[:1]
			}
			if ps := certs.Verify(chain[0], opts); len(ps) != 0 {
				t.Fatalf("does not verify: %v", certs.Error(ps))
			}
			// The files load as a TLS client certificate.
			if _, err := tls.LoadX509KeyPair(tt.dev.CertPath, tt.dev.KeyPath); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := tls.LoadX509KeyPair(ca.IntermediateCertPath, ca.IntermediateKeyPath); err != nil {
		t.Fatal(err)
	}
}
