package cert

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

type result struct {
	out, errOut string
	err         error
}

// run executes "cert <args>" in dir with stdin.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("DPSCTL_OUTPUT", "")
	t.Setenv("DPSCTL_QUIET", "")
	if dir != "" {
		t.Chdir(dir)
	}
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (*output.Printer, error) { return cmdutil.NewPrinter(f) }
	cmd := NewCmdCert(f)
	cmdutil.AddGlobalFlags(cmd, f)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{out.String(), errOut.String(), err}
}

func isUsage(err error) bool {
	var fe *cmdutil.FlagError
	return errors.As(err, &fe)
}

func isVerification(err error) bool {
	var ve *cmdutil.VerificationError
	return errors.As(err, &ve)
}

func TestInspect(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	tests := []struct {
		name    string
		args    []string
		stdin   string
		check   func(t *testing.T, r result)
		wantErr string
	}{
		{name: "json", args: []string{"inspect", dev.CertPath, "-o", "json"}, check: func(t *testing.T, r result) {
			var in certs.Inspection
			if err := json.Unmarshal([]byte(r.out), &in); err != nil {
				t.Fatal(err)
			}
			if in.Subject != "CN=dev-1" || in.Issuer != "CN=Test Intermediate CA" || in.IsCA || in.SHA256Thumbprint != certs.Info(dev.Cert).SHA256Thumbprint {
				t.Errorf("inspection %+v", in)
			}
		}},
		{name: "bundle", args: []string{"inspect", dev.CertPath, "--bundle", "-o", "tsv"}, check: func(t *testing.T, r result) {
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "CN=dev-1\t") || !strings.HasPrefix(lines[1], "CN=Test Intermediate CA\t") {
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
		{name: "not a certificate", args: []string{"inspect", dev.KeyPath}, wantErr: "holds only PRIVATE KEY"},
		{name: "no file", args: []string{"inspect"}, wantErr: "one certificate file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.stdin, tt.args...)
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			tt.check(t, r)
		})
	}
}

func TestVerify(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	self := certstest.SelfSigned(t, "dev-2")
	other := certstest.New(t)
	expired := ca.DeviceWithOptions(t, "dev-3", certs.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	tests := []struct {
		name       string
		args       []string
		wantOut    string // substring of stdout
		wantErrOut string // substring of stderr
		wantCodes  []string
		usage      bool
	}{
		{name: "valid chain", args: []string{"verify", dev.CertPath, "--roots", ca.RootCertPath, "--registration-id", "dev-1"}, wantErrOut: `CN=dev-1 passes the DPS checks for registration ID "dev-1"`},
		{name: "valid json is an empty list", args: []string{"verify", dev.CertPath, "--roots", ca.RootCertPath, "-o", "json"}, wantOut: "[]"},
		{name: "self-signed", args: []string{"verify", self.CertPath, "--roots", self.CertPath}, wantErrOut: "passes"},
		{name: "no roots", args: []string{"verify", dev.CertPath}, wantErrOut: "not anchored"},
		{name: "wrong root", args: []string{"verify", dev.CertPath, "--roots", other.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeWrongRoot}},
		{name: "wrong id", args: []string{"verify", dev.CertPath, "--roots", ca.RootCertPath, "--registration-id", "dev-9"}, wantOut: "cn-mismatch", wantCodes: []string{certs.CodeCNMismatch}},
		{name: "expired", args: []string{"verify", expired.CertPath, "--roots", ca.RootCertPath, "-o", "json"}, wantCodes: []string{certs.CodeExpired}},
		{name: "later", args: []string{"verify", dev.CertPath, "--roots", ca.RootCertPath, "--at", "3650d", "-o", "json"}, wantCodes: []string{certs.CodeExpired, certs.CodeExpired, certs.CodeExpired}},
		{name: "signing ok", args: []string{"verify", ca.IntermediateCertPath, "--signing"}, wantErrOut: "valid signing certificate"},
		{name: "signing device", args: []string{"verify", dev.CertPath, "--signing", "-o", "json"}, wantCodes: []string{certs.CodeNotCA, certs.CodeNoCertSign}},
		{name: "signing with roots", args: []string{"verify", dev.CertPath, "--signing", "--roots", ca.RootCertPath}, usage: true},
		{name: "bad id", args: []string{"verify", dev.CertPath, "--registration-id", "a b"}, usage: true},
		{name: "bad at", args: []string{"verify", dev.CertPath, "--at", "soon"}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", "", tt.args...)
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
			if len(tt.wantCodes) > 0 && strings.HasPrefix(strings.TrimSpace(r.out), "[") {
				var ps []certs.Problem
				if err := json.Unmarshal([]byte(r.out), &ps); err != nil {
					t.Fatal(err)
				}
				var codes []string
				for _, p := range ps {
					codes = append(codes, p.Code)
				}
				if strings.Join(codes, ",") != strings.Join(tt.wantCodes, ",") {
					t.Errorf("codes %v, want %v", codes, tt.wantCodes)
				}
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
		{args: []string{"create", "Test Root", "--type", "root", "--organization", "Contoso", "-o", "json"}},
		{args: []string{"create", "Test Inter", "--type", "intermediate", "--ca", "Test-Root.pem", "--ca-key", "Test-Root.key", "--key-type", "rsa", "--path-len", "0", "-o", "json"}},
		{args: []string{"create", "dev-1", "--ca", "Test-Inter.pem", "--ca-key", "Test-Inter.key", "-o", "json"}},
		{args: []string{"create", "dev-1", "--ca", "Test-Inter.pem", "--ca-key", "Test-Inter.key"}, wantErr: "already exists"},
		{args: []string{"create", "dev-1", "--ca", "Test-Inter.pem", "--ca-key", "Test-Inter.key", "--force", "--not-after", "30d", "-o", "json"}},
		{args: []string{"create", "dev-2", "-o", "json"}},
		{args: []string{"create", "dev-3", "--ca", "Test-Inter.pem", "--ca-key", "Test-Root.key"}, wantErr: "does not belong"},
		{args: []string{"create", "dev-3", "--ca", "dev-2.pem", "--ca-key", "dev-2.key"}, wantErr: "cannot issue certificates"},
		{args: []string{"create", "dev 4"}, usage: true},
		{args: []string{"create", "dev-4", "--ca", "x.pem"}, usage: true},
		{args: []string{"create", "R", "--type", "root", "--ca", "a", "--ca-key", "b"}, usage: true},
		{args: []string{"create", "I", "--type", "intermediate"}, usage: true},
		{args: []string{"create", "dev-4", "--rsa-bits", "4096"}, usage: true},
		{args: []string{"create", "dev-4", "--type", "leaf"}, usage: true},
		{args: []string{"create", "dev-4", "--not-after", "yesterday"}, usage: true},
		{args: []string{"create", "dev-4", "--ca", "Test-Inter.pem", "--ca-key", "Test-Inter.key", "--not-after", "36500d"}, usage: true},
	}
	for _, st := range steps {
		r := run(t, dir, "", st.args...)
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
	if len(chain) != 2 || chain[1].Subject.CommonName != "Test Inter" {
		t.Fatalf("device file holds %d certificates", len(chain))
	}
	if d := time.Until(chain[0].NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("device NotAfter in %v, want 30 days", d)
	}
	roots, _ := certs.ReadFile(filepath.Join(dir, "Test-Root.pem"))
	if ps := certs.Verify(chain[0], certs.VerifyOptions{Intermediates: chain[1:], Roots: roots, RegistrationID: "dev-1"}); len(ps) != 0 {
		t.Fatalf("created PKI does not verify: %v", certs.Error(ps))
	}
	if in := certs.Inspect(chain[1]); in.KeyType != "RSA" || in.PathLength == nil || *in.PathLength != 0 {
		t.Errorf("intermediate %+v", in)
	}
	if st, err := os.Stat(filepath.Join(dir, "dev-1.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", st, err)
	}
	// Verify through the command as well.
	r := run(t, dir, "", "verify", "dev-1.pem", "--roots", "Test-Root.pem", "--registration-id", "dev-1")
	if r.err != nil {
		t.Fatalf("verify: %v %s", r.err, r.out)
	}
}

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
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "-o", "json"}, check: func(r result) {
			cs, err := certs.ReadFile(filepath.Join(dir, "verification.pem"))
			if err != nil || cs[0].Subject.CommonName != code || cs[0].CheckSignatureFrom(ca.Root.Cert) != nil {
				t.Fatalf("verification.pem: %v", err)
			}
			if !strings.Contains(r.out, `"type": "verification"`) || strings.Contains(r.out, `"keyFile"`) {
				t.Errorf("out %q", r.out)
			}
		}},
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath}, wantErr: "already exists"},
		{args: []string{"verification-cert", code, "--ca", ca.IntermediateCertPath, "--ca-key", ca.IntermediateKeyPath, "--cert-file", "-"}, check: func(r result) {
			cs, err := certs.Parse([]byte(r.out))
			if err != nil || cs[0].CheckSignatureFrom(ca.Intermediate.Cert) != nil {
				t.Fatalf("stdout PEM: %v", err)
			}
		}},
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath, "--cert-file", "v2.pem", "--key-file", "v2.key"}, check: func(r result) {
			if _, err := certs.ReadPrivateKey(filepath.Join(dir, "v2.key")); err != nil {
				t.Fatal(err)
			}
		}},
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath, "--ca-key", ca.IntermediateKeyPath, "--cert-file", "v3.pem"}, wantErr: "does not belong"},
		{args: []string{"verification-cert", code, "--ca", ca.RootCertPath}, usage: true},
		{args: []string{"verification-cert", "--ca", ca.RootCertPath, "--ca-key", ca.RootKeyPath}, usage: true},
	}
	for _, st := range steps {
		r := run(t, dir, "", st.args...)
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
