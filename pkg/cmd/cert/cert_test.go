package cert

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/verify"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

type result struct {
	out, errOut string
	err         error
}

// run executes "cert <args>" in dir (unless empty) with stdin, against the
// service client c (nil: none).
func run(t *testing.T, c *dps.Client, dir, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("DPSCTL_QUIET", "")
	if dir != "" {
		t.Chdir(dir)
	}
	f, s := cmdtest.NewFactory(t, c, false)
	s.In.WriteString(stdin)
	err := cmdtest.Run(t, f, NewCmdCert(f), args...)
	return result{s.Out.String(), s.ErrOut.String(), err}
}

func isUsage(err error) bool {
	var fe *cmdutil.FlagError
	return errors.As(err, &fe)
}

func isVerification(err error) bool {
	var ve *cmdutil.VerificationError
	return errors.As(err, &ve)
}

// issue signs tmpl with parent (self-signed when nil) for a fresh key and
// writes the certificate, followed by extra, as PEM to dir/name.
func issue(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *certs.Pair, extra ...*x509.Certificate) (*certs.Pair, string) {
	t.Helper()
	key, err := certs.GenerateKey(certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	pc, pk := tmpl, key
	if parent != nil {
		pc, pk = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := certs.WriteCertificates(path, append([]*x509.Certificate{c}, extra...), true); err != nil {
		t.Fatal(err)
	}
	return &certs.Pair{Cert: c, Key: key}, path
}

func leafTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
}

func TestInspect(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	der := filepath.Join(t.TempDir(), "root.cer")
	if err := os.WriteFile(der, ca.Root.Cert.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		check   func(t *testing.T, r result)
		wantErr string
		usage   bool
	}{
		{name: "one certificate is an object", args: []string{"inspect", der, "-o", "json"}, check: func(t *testing.T, r result) {
			var c struct {
				File string `json:"file"`
				certs.Inspection
			}
			if err := json.Unmarshal([]byte(r.out), &c); err != nil {
				t.Fatal(err)
			}
			if c.File != der || c.Subject != "CN=Test Root CA" || !c.IsCA || !c.SelfSigned || c.SHA256Thumbprint != certs.Info(ca.Root.Cert).SHA256Thumbprint {
				t.Errorf("inspection %+v", c)
			}
		}},
		{name: "bundle and several files are a list", args: []string{"inspect", dev.CertPath, ca.RootCertPath, "-o", "json"}, check: func(t *testing.T, r result) {
			var list []certs.Inspection
			if err := json.Unmarshal([]byte(r.out), &list); err != nil {
				t.Fatal(err)
			}
			if len(list) != 3 || list[0].CommonName != "dev-1" || list[1].CommonName != "Test Intermediate CA" || list[2].CommonName != "Test Root CA" {
				t.Errorf("list %+v", list)
			}
		}},
		{name: "tsv line per certificate", args: []string{"inspect", dev.CertPath, "-o", "tsv"}, check: func(t *testing.T, r result) {
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], dev.CertPath+"\tCN=dev-1\t") || !strings.Contains(lines[1], "\tCN=Test Intermediate CA\t") {
				t.Errorf("out %q", r.out)
			}
		}},
		{name: "stdin and query", args: []string{"inspect", "-", "--query", "sha1Thumbprint", "-o", "tsv"}, stdin: certs.EncodeBase64DER(ca.Root.Cert), check: func(t *testing.T, r result) {
			if strings.TrimSpace(r.out) != certs.Info(ca.Root.Cert).SHA1Thumbprint {
				t.Errorf("out %q", r.out)
			}
		}},
		{name: "info", args: []string{"inspect", ca.RootCertPath, "--info", "-o", "json"}, check: func(t *testing.T, r result) {
			if !strings.Contains(r.out, `"subjectName": "CN=Test Root CA"`) || !strings.Contains(r.out, `"notBeforeUtc"`) {
				t.Errorf("out %q", r.out)
			}
		}},
		{name: "old --bundle flag accepted", args: []string{"inspect", dev.CertPath, "--bundle", "-o", "json", "--query", "length(@)"}, check: func(t *testing.T, r result) {
			if strings.TrimSpace(r.out) != "2" {
				t.Errorf("out %q", r.out)
			}
		}},
		{name: "not a certificate", args: []string{"inspect", dev.KeyPath}, wantErr: "holds only PRIVATE KEY"},
		{name: "missing file", args: []string{"inspect", filepath.Join(t.TempDir(), "nope.pem")}, wantErr: "nope.pem"},
		{name: "no file", args: []string{"inspect"}, usage: true},
		{name: "stdin twice", args: []string{"inspect", "-", "-"}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", tt.stdin, tt.args...)
			switch {
			case tt.usage:
				if !isUsage(r.err) {
					t.Fatalf("err = %v, want usage error", r.err)
				}
			case tt.wantErr != "":
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
			case r.err != nil:
				t.Fatal(r.err)
			default:
				tt.check(t, r)
			}
		})
	}
}

func codesOf(t *testing.T, out string) []string {
	t.Helper()
	var ps []certs.Problem
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	codes := []string{}
	for _, p := range ps {
		codes = append(codes, p.Code)
	}
	return codes
}

func TestVerify(t *testing.T) {
	ca := certstest.New(t)
	dir := ca.Dir
	dev := ca.Device(t, "dev-1")
	self := certstest.SelfSigned(t, "dev-2")
	other := certstest.New(t)
	now := time.Now()
	expired := ca.DeviceWithOptions(t, "dev-3", certs.Options{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	future := ca.DeviceWithOptions(t, "dev-4", certs.Options{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)})

	// A leaf for TLS servers only.
	serverOnly := leafTemplate("dev-5")
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	_, serverPath := issue(t, dir, "server.pem", serverOnly, ca.Intermediate, ca.Intermediate.Cert)
	// A device certificate used as an issuer.
	_, notCAPath := issue(t, dir, "not-ca.pem", leafTemplate("dev-6"), dev.Pair, dev.Cert, ca.Intermediate.Cert)
	// An intermediate with the same name as the real one but another key.
	twin, err := certs.NewIntermediate(ca.Root, certs.Options{CommonName: "Test Intermediate CA"})
	if err != nil {
		t.Fatal(err)
	}
	twinPath := filepath.Join(dir, "twin.pem")
	if err := certs.WriteCertificates(twinPath, []*x509.Certificate{twin.Cert}, true); err != nil {
		t.Fatal(err)
	}
	leafOnly := filepath.Join(dir, "leaf-only.pem")
	if err := certs.WriteCertificates(leafOnly, []*x509.Certificate{dev.Cert}, true); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantOut    string // substring of stdout
		wantErrOut string // substring of stderr
		wantCodes  []string
		usage      bool
	}{
		{name: "valid chain", args: []string{"verify", dev.CertPath, "--root", ca.RootCertPath, "--registration-id", "dev-1"}, wantErrOut: `valid: CN=dev-1 passes the DPS checks for registration ID "dev-1" and chains to CN=Test Root CA`},
		{name: "valid json is an empty list", args: []string{"verify", dev.CertPath, "--root", ca.RootCertPath, "-o", "json"}, wantOut: "[]", wantCodes: []string{}},
		{name: "chain from --chain", args: []string{"verify", leafOnly, "--chain", ca.IntermediateCertPath, "--root", ca.RootCertPath}, wantErrOut: "valid:"},
		{name: "old flag spellings", args: []string{"verify", leafOnly, "--intermediates", ca.IntermediateCertPath, "--roots", ca.RootCertPath}, wantErrOut: "valid:"},
		{name: "several roots", args: []string{"verify", dev.CertPath, "--root", other.RootCertPath, "--root", ca.RootCertPath}, wantErrOut: "one of the --root certificates"},
		{name: "self-signed", args: []string{"verify", self.CertPath, "--root", self.CertPath}, wantErrOut: "valid:"},
		{name: "no roots", args: []string{"verify", dev.CertPath}, wantErrOut: "not anchored"},
		{name: "expired", args: []string{"verify", expired.CertPath, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeExpired}},
		{name: "not yet valid", args: []string{"verify", future.CertPath, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeNotYetValid}},
		{name: "expired later", args: []string{"verify", dev.CertPath, "--root", ca.RootCertPath, "--at", "3650d", "-o", "json"}, wantCodes: []string{certs.CodeExpired, certs.CodeExpired, certs.CodeExpired}},
		{name: "wrong CN", args: []string{"verify", dev.CertPath, "--root", ca.RootCertPath, "--registration-id", "dev-9"}, wantOut: `leaf CN=dev-1: CN "dev-1" does not match the registration ID "dev-9" [cn-mismatch]` + "\n", wantCodes: []string{certs.CodeCNMismatch}},
		{name: "missing EKU", args: []string{"verify", serverPath, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeMissingClientAuth}},
		{name: "non-CA issuer", args: []string{"verify", notCAPath, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeNotCA, certs.CodeNoCertSign}},
		{name: "broken chain", args: []string{"verify", leafOnly, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeBrokenChain}},
		{name: "wrong root", args: []string{"verify", dev.CertPath, "--root", other.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeWrongRoot}},
		{name: "bad signature", args: []string{"verify", leafOnly, "--chain", twinPath, "--root", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeBadSignature}},
		{name: "tsv columns", args: []string{"verify", dev.CertPath, "--registration-id", "dev-9", "-o", "tsv"}, wantOut: "leaf CN=dev-1\tcn-mismatch\t", wantCodes: []string{certs.CodeCNMismatch}},
		{name: "signing ok", args: []string{"verify", ca.IntermediateCertPath, "--signing"}, wantErrOut: "can sign device certificates"},
		{name: "signing device", args: []string{"verify", dev.CertPath, "--signing", "-o", "json"}, wantCodes: []string{certs.CodeNotCA, certs.CodeNoCertSign}},
		{name: "signing with roots", args: []string{"verify", dev.CertPath, "--signing", "--root", ca.RootCertPath}, usage: true},
		{name: "bad id", args: []string{"verify", dev.CertPath, "--registration-id", "a b"}, usage: true},
		{name: "bad at", args: []string{"verify", dev.CertPath, "--at", "soon"}, usage: true},
		{name: "two leaves", args: []string{"verify", dev.CertPath, self.CertPath}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", "", tt.args...)
			switch {
			case tt.usage:
				if !isUsage(r.err) {
					t.Fatalf("err = %v, want usage error", r.err)
				}
				return
			case len(tt.wantCodes) > 0:
				if !isVerification(r.err) {
					t.Fatalf("err = %v, want verification error", r.err)
				}
			case r.err != nil:
				t.Fatal(r.err)
			}
			if !strings.Contains(r.out, tt.wantOut) || !strings.Contains(r.errOut, tt.wantErrOut) {
				t.Errorf("out %q\nerr %q", r.out, r.errOut)
			}
			if tt.wantCodes != nil && strings.HasPrefix(strings.TrimSpace(r.out), "[") {
				if got := codesOf(t, r.out); strings.Join(got, ",") != strings.Join(tt.wantCodes, ",") {
					t.Errorf("codes %v, want %v", got, tt.wantCodes)
				}
			}
		})
	}
}

func TestVerifyGroup(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	other := certstest.New(t)
	stranger := other.Device(t, "dev-2")
	leafOnly := filepath.Join(ca.Dir, "leaf-only.pem")
	if err := certs.WriteCertificates(leafOnly, []*x509.Certificate{dev.Cert}, true); err != nil {
		t.Fatal(err)
	}

	_, c := cmdtest.NewServer(t)
	ctx := context.Background()
	put := func(id string, a *model.AttestationMechanism) {
		t.Helper()
		if _, err := c.PutGroup(ctx, &model.EnrollmentGroup{EnrollmentGroupID: id, EnrollmentCommon: model.EnrollmentCommon{Attestation: a}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	signing := func(cert *x509.Certificate) *model.AttestationMechanism {
		return &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(cert)}},
		}}
	}
	put("by-root", signing(ca.Root.Cert))
	put("by-intermediate", signing(ca.Intermediate.Cert))
	put("by-reference", &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "contoso-root"}}})
	put("symmetric", &model.AttestationMechanism{Type: model.AttestationSymmetricKey})

	tests := []struct {
		name       string
		args       []string
		wantErrOut string
		wantCodes  []string
		wantErr    string
		usage      bool
	}{
		{name: "root given", args: []string{"verify", dev.CertPath, "--group", "by-root", "--root", ca.RootCertPath}, wantErrOut: "chains to the signing certificate of group by-root (CN=Test Root CA)"},
		{name: "root as chain", args: []string{"verify", dev.CertPath, "--group", "by-root", "--chain", ca.RootCertPath, "--registration-id", "dev-1"}, wantErrOut: "valid:"},
		{name: "intermediate in the leaf file", args: []string{"verify", dev.CertPath, "--group", "by-intermediate"}, wantErrOut: "group by-intermediate (CN=Test Intermediate CA)"},
		{name: "group certificate not given", args: []string{"verify", leafOnly, "--group", "by-intermediate", "-o", "json"}, wantCodes: []string{verify.CodeNotSignedByGroup}},
		{name: "other CA", args: []string{"verify", stranger.CertPath, "--group", "by-root", "--root", ca.RootCertPath, "--root", other.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeWrongRoot, verify.CodeNotSignedByGroup}},
		{name: "wrong CN too", args: []string{"verify", dev.CertPath, "--group", "by-intermediate", "--registration-id", "dev-9", "-o", "json"}, wantCodes: []string{certs.CodeCNMismatch}},
		{name: "reference with root", args: []string{"verify", dev.CertPath, "--group", "by-reference", "--root", ca.RootCertPath}, wantErrOut: "refers to contoso-root"},
		{name: "reference without root", args: []string{"verify", dev.CertPath, "--group", "by-reference"}, usage: true, wantErr: "needs --root"},
		{name: "symmetric key group", args: []string{"verify", dev.CertPath, "--group", "symmetric"}, wantErr: "uses symmetricKey attestation"},
		{name: "no such group", args: []string{"verify", dev.CertPath, "--group", "nope"}, wantErr: `enrollment group "nope" not found`},
		{name: "group with signing", args: []string{"verify", dev.CertPath, "--group", "by-root", "--signing"}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, c, "", "", tt.args...)
			switch {
			case tt.usage:
				if !isUsage(r.err) || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error %q", r.err, tt.wantErr)
				}
				return
			case tt.wantErr != "":
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
				return
			case len(tt.wantCodes) > 0:
				if !isVerification(r.err) {
					t.Fatalf("err = %v, want verification error\n%s", r.err, r.out)
				}
				if got := codesOf(t, r.out); strings.Join(got, ",") != strings.Join(tt.wantCodes, ",") {
					t.Errorf("codes %v, want %v\n%s", got, tt.wantCodes, r.out)
				}
				return
			case r.err != nil:
				t.Fatalf("%v\n%s", r.err, r.out)
			}
			if !strings.Contains(r.errOut, tt.wantErrOut) {
				t.Errorf("err %q, want %q", r.errOut, tt.wantErrOut)
			}
		})
	}
}

func TestCreatePKI(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		args    []string
		wantErr string
		usage   bool
	}{
		{args: []string{"create", "root", "--common-name", "Test Root", "--organization", "Contoso", "-o", "json"}},
		{args: []string{"create", "intermediate", "--ca", "root.pem", "--ca-key", "root.key", "--key-type", "rsa", "--path-len", "0", "-o", "json"}},
		{args: []string{"create", "device", "--registration-id", "dev-1", "--ca", "intermediate.pem", "--ca-key", "intermediate.key", "-o", "json"}},
		{args: []string{"create", "device", "--registration-id", "dev-1", "--ca", "intermediate.pem", "--ca-key", "intermediate.key"}, wantErr: "dev-1.pem already exists; --force overwrites it"},
		{args: []string{"create", "device", "--registration-id", "dev-1", "--ca", "intermediate.pem", "--ca-key", "intermediate.key", "--force", "--not-after", "30d", "-o", "json"}},
		{args: []string{"create", "device", "dev-2", "-o", "json"}},
		{args: []string{"create", "device", "--registration-id", "dev-3", "--key-type", "rsa", "--rsa-bits", "3072", "--cert-file", "d3.crt", "--key-file", "d3.pem", "--ca", "root.pem", "--ca-key", "root.key", "-o", "json"}},
		{args: []string{"create", "device", "--registration-id", "dev-5", "--ca", "intermediate.pem", "--ca-key", "root.key"}, wantErr: "does not belong"},
		{args: []string{"create", "device", "--registration-id", "dev-5", "--ca", "dev-2.pem", "--ca-key", "dev-2.key"}, wantErr: "cannot issue certificates"},
		{args: []string{"create", "device", "--registration-id", "dev 4"}, usage: true},
		{args: []string{"create", "device"}, usage: true},
		{args: []string{"create", "device", "dev-4", "--registration-id", "dev-5"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--ca", "x.pem"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--path-len", "1"}, usage: true},
		{args: []string{"create", "root", "--ca", "a"}, usage: true},
		{args: []string{"create", "root", "My Root"}, usage: true},
		{args: []string{"create", "root", "--common-name", ""}, usage: true},
		{args: []string{"create", "intermediate"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--rsa-bits", "4096"}, usage: true},
		{args: []string{"create", "leaf"}, usage: true},
		{args: []string{"create"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--not-after", "yesterday"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--not-after", "2001-01-01"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--ca", "intermediate.pem", "--ca-key", "intermediate.key", "--not-after", "36500d"}, usage: true},
		{args: []string{"create", "device", "--registration-id", "dev-4", "--cert-file", "x", "--key-file", "x"}, usage: true},
	}
	for _, st := range steps {
		r := run(t, nil, dir, "", st.args...)
		switch {
		case st.usage:
			if !isUsage(r.err) {
				t.Fatalf("%v: err = %v, want usage error", st.args, r.err)
			}
		case st.wantErr != "":
			if r.err == nil || !strings.Contains(r.err.Error(), st.wantErr) {
				t.Fatalf("%v: err = %v, want %q", st.args, r.err, st.wantErr)
			}
		case r.err != nil:
			t.Fatalf("%v: %v", st.args, r.err)
		default:
			if !strings.Contains(r.errOut, "Created ") || !strings.Contains(r.out, `"sha256Thumbprint"`) {
				t.Fatalf("%v: out %q err %q", st.args, r.out, r.errOut)
			}
		}
	}
	// The device file holds the device and the intermediate, not the root.
	chain, err := certs.ReadFile(filepath.Join(dir, "dev-1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || chain[1].Subject.CommonName != certsDefaultIntermediate {
		t.Fatalf("device file holds %d certificates", len(chain))
	}
	if d := time.Until(chain[0].NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("device NotAfter in %v, want 30 days", d)
	}
	if in := certs.Inspect(chain[0]); in.CommonName != "dev-1" || in.KeyType != "ECDSA" || in.KeySize != 256 || strings.Join(in.ExtKeyUsage, ",") != "clientAuth" || in.IsCA {
		t.Errorf("device %+v", in)
	}
	roots, _ := certs.ReadFile(filepath.Join(dir, "root.pem"))
	if roots[0].Subject.String() != "CN=Test Root,O=Contoso" || !roots[0].IsCA {
		t.Errorf("root subject %s", roots[0].Subject)
	}
	if ps := certs.Verify(chain[0], certs.VerifyOptions{Intermediates: chain[1:], Roots: roots, RegistrationID: "dev-1"}); len(ps) != 0 {
		t.Fatalf("created PKI does not verify: %v", certs.Error(ps))
	}
	if in := certs.Inspect(chain[1]); in.KeyType != "RSA" || in.PathLength == nil || *in.PathLength != 0 {
		t.Errorf("intermediate %+v", in)
	}
	// Signed by the root directly: the file holds the device alone.
	d3, err := certs.ReadFile(filepath.Join(dir, "d3.crt"))
	if err != nil || len(d3) != 1 || certs.Inspect(d3[0]).KeySize != 3072 {
		t.Errorf("d3.crt: %v %d", err, len(d3))
	}
	for _, key := range []string{"root.key", "intermediate.key", "dev-1.key", "dev-2.key", "d3.pem"} {
		if st, err := os.Stat(filepath.Join(dir, key)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode: %v %v", key, st, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dev-4.pem")); err == nil {
		t.Error("a refused command wrote dev-4.pem")
	}
	// Verify through the command as well.
	r := run(t, nil, dir, "", "verify", "dev-1.pem", "--root", "root.pem", "--registration-id", "dev-1")
	if r.err != nil {
		t.Fatalf("verify: %v %s", r.err, r.out)
	}
}

const certsDefaultIntermediate = "dpsctl Test Intermediate CA"

func TestVerificationCert(t *testing.T) {
	ca := certstest.New(t)
	dir := t.TempDir()
	const code = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
	steps := []struct {
		args    []string
		check   func(r result)
		wantErr string
		usage   bool
	}{
		{args: []string{"verification-cert", "--code", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "-o", "json"}, check: func(r result) {
			cs, err := certs.ReadFile(filepath.Join(dir, "verification.pem"))
			if err != nil || cs[0].Subject.CommonName != code || cs[0].CheckSignatureFrom(ca.Root.Cert) != nil {
				t.Fatalf("verification.pem: %v", err)
			}
			if !strings.Contains(r.out, `"type": "verification"`) || strings.Contains(r.out, `"keyFile"`) {
				t.Errorf("out %q", r.out)
			}
		}},
		{args: []string{"verification-cert", "--code", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath}, wantErr: "already exists"},
		{args: []string{"verification-cert", "--code", code, "--ca", ca.IntermediateCertPath, "--ca-key", ca.IntermediateKeyPath, "--cert-file", "-"}, check: func(r result) {
			cs, err := certs.Parse([]byte(r.out))
			if err != nil || cs[0].CheckSignatureFrom(ca.Intermediate.Cert) != nil || cs[0].Subject.CommonName != code {
				t.Fatalf("stdout PEM: %v", err)
			}
		}},
		{args: []string{"verification-cert", "--code", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "--cert-file", "v2.pem", "--key-file", "v2.key"}, check: func(r result) {
			if _, err := certs.ReadPrivateKey(filepath.Join(dir, "v2.key")); err != nil {
				t.Fatal(err)
			}
		}},
		// The code as an argument still works.
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "--cert-file", "v4.pem"}, check: func(r result) {
			cs, err := certs.ReadFile(filepath.Join(dir, "v4.pem"))
			if err != nil || cs[0].Subject.CommonName != code {
				t.Fatalf("v4.pem: %v", err)
			}
		}},
		{args: []string{"verification-cert", "--code", code, "--ca", ca.RootCertPath, "--ca-key", ca.IntermediateKeyPath, "--cert-file", "v3.pem"}, wantErr: "does not belong"},
		{args: []string{"verification-cert", "--code", strings.Repeat("A", 65), "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "--cert-file", "v5.pem"}, wantErr: "limited to 64"},
		{args: []string{"verification-cert", "--code", code, "--ca", ca.RootCertPath}, usage: true},
		{args: []string{"verification-cert", "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath}, usage: true},
		{args: []string{"verification-cert", "X", "--code", "Y", "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath}, usage: true},
	}
	for _, st := range steps {
		r := run(t, nil, dir, "", st.args...)
		switch {
		case st.usage:
			if !isUsage(r.err) {
				t.Fatalf("%v: err = %v, want usage error", st.args, r.err)
			}
		case st.wantErr != "":
			if r.err == nil || !strings.Contains(r.err.Error(), st.wantErr) {
				t.Fatalf("%v: err = %v, want %q", st.args, r.err, st.wantErr)
			}
		case r.err != nil:
			t.Fatalf("%v: %v", st.args, r.err)
		default:
			st.check(r)
		}
	}
}
