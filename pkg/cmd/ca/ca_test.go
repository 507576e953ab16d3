package ca

import (
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
)

// localData points the configuration at a fresh data directory and
// returns a directory to write files in.
func localData(t *testing.T) string {
	t.Helper()
	t.Setenv(config.EnvDataDir, t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("DPSCTL_CONNECTION_STRING", "")
	return t.TempDir()
}

// writePair writes a certificate and its key as NAME.pem and NAME.key.
func writePair(t *testing.T, dir, name string, p *certs.Pair) {
	t.Helper()
	key, err := certs.EncodePrivateKeyPEM(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), []byte(certs.EncodePEM(p.Cert)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

type step struct {
	name       string
	tty        bool
	args       []string
	stdin      string
	wantOut    []string
	notOut     []string
	wantErrOut string
	wantErr    string
	usageErr   bool
	verifyErr  bool
}

func run(t *testing.T, steps []step) (outs []string) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, st.tty)
			s.In.WriteString(st.stdin)
			err := cmdtest.Run(t, f, NewCmdCA(f), st.args...)
			f.Close()
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatal(err)
			case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
				t.Fatalf("err = %v, want %q", err, st.wantErr)
			}
			var fe *cmdutil.FlagError
			if st.usageErr != errors.As(err, &fe) {
				t.Fatalf("usage error %v, want %v: %v", !st.usageErr, st.usageErr, err)
			}
			var ve *cmdutil.VerificationError
			if st.verifyErr != errors.As(err, &ve) {
				t.Fatalf("verification error %v, want %v: %v", !st.verifyErr, st.verifyErr, err)
			}
			for _, w := range st.wantOut {
				if !strings.Contains(s.Out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, s.Out)
				}
			}
			for _, w := range st.notOut {
				if strings.Contains(s.Out.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, s.Out)
				}
			}
			if !strings.Contains(s.ErrOut.String(), st.wantErrOut) {
				t.Errorf("stderr lacks %q:\n%s", st.wantErrOut, s.ErrOut)
			}
			outs = append(outs, s.Out.String())
		})
	}
	return outs
}

func TestCACommands(t *testing.T) {
	dir := localData(t)
	ca := certstest.New(t)
	other := certstest.New(t)
	writePair(t, dir, "root", ca.Root)
	writePair(t, dir, "inter", ca.Intermediate)
	writePair(t, dir, "other", other.Root)
	file := func(name string) string { return filepath.Join(dir, name) }
	sha1 := certs.Thumbprint(ca.Root.Cert, crypto.SHA1)
	sha256 := certs.Thumbprint(ca.Root.Cert, crypto.SHA256)
	subject := certs.Info(ca.Root.Cert).SubjectName

	run(t, []step{
		{name: "list nothing", args: []string{"list", "-o", "json"}, wantOut: []string{"[]"}},
		{name: "add unverified", args: []string{"add", file("root.pem")}, wantOut: []string{"root\t" + subject + "\t", "\tfalse\t", sha1, sha256},
			wantErrOut: `Added CA certificate "root" (` + subject + `), unverified: prove possession of its key with "dpsctl ca verify root --ca-key KEY"`},
		{name: "add again", args: []string{"add", file("root.pem")}, wantErr: `CA certificate "root" exists; use another --name, or --force`},
		{name: "--verify needs --ca-key", args: []string{"add", file("inter.pem"), "--verify"}, usageErr: true, wantErr: "--verify needs --ca-key"},
		{name: "bad name", args: []string{"add", file("inter.pem"), "--name", "lab root"}, usageErr: true, wantErr: "--name: certificate name"},
		{name: "not the CA's key", args: []string{"add", file("inter.pem"), "--ca-key", file("other.key")}, wantErr: "is not the key of"},
		{name: "a key is no certificate", args: []string{"add", file("root.key")}, wantErr: "root.key"},
		{name: "verify needs one way", args: []string{"verify", "root"}, usageErr: true, wantErr: "give one of --ca-key, --generate-code and --certificate"},
		{name: "verify with another key", args: []string{"verify", "root", "--ca-key", file("other.key")}, wantErr: "is not the key of CA certificate"},
		{name: "verify", args: []string{"verify", "root", "--ca-key", file("root.key")}, wantOut: []string{"\ttrue\t"}, wantErrOut: `Verified CA certificate "root"`},
		{name: "show json is ARM's", args: []string{"show", "ROOT", "-o", "json"}, wantOut: []string{`"name": "root"`, `"type": "Microsoft.Devices/provisioningServices/certificates"`,
			`"isVerified": true`, `"thumbprint": "` + sha1 + `"`, `"subject": "` + subject + `"`, `"etag": "`, `"expiry": "`, ` GMT"`, `"certificate": "`}},
		{name: "show tty", tty: true, args: []string{"show", "root"}, wantOut: []string{"SHA-1 THUMBPRINT", sha1, "SHA-256 THUMBPRINT", sha256, "VERIFIED", "true", "ETAG"}},
		{name: "show missing", args: []string{"show", "nothing"}, wantErr: `CA certificate "nothing" not found; see "dpsctl ca list"`},
		{name: "add and verify in one step", args: []string{"add", file("inter.pem"), "--name", "lab-inter", "--ca-key", file("inter.key"), "-o", "json"},
			wantOut: []string{`"name": "lab-inter"`, `"isVerified": true`}, wantErrOut: `Added and verified CA certificate "lab-inter"`},
		{name: "force replaces, unverified again", args: []string{"add", file("other.pem"), "--name", "lab-inter", "--force", "-o", "json"}, wantOut: []string{`"isVerified": false`}},
		{name: "list", args: []string{"list"}, wantOut: []string{"root\t" + subject + "\ttrue\t", "lab-inter\t"}},
		{name: "delete needs --yes", args: []string{"delete", "root"}, usageErr: true, wantErr: "--yes"},
		{name: "delete at a stale etag", args: []string{"delete", "root", "--etag", "stale", "--yes"}, wantErr: "changed since it was read"},
		{name: "--etag names one", args: []string{"delete", "root", "lab-inter", "--etag", "E", "--yes"}, usageErr: true, wantErr: "give one name"},
		{name: "delete", args: []string{"delete", "root", "nothing", "--yes"}, wantErrOut: `Deleted CA certificate "root"`, wantErr: `CA certificate "nothing" not found`},
		{name: "list after delete", args: []string{"list"}, wantOut: []string{"lab-inter\t"}, notOut: []string{"root\t"}},
	})
}

// The classic proof in three steps: a code, a verification certificate
// made elsewhere, and the answer with it.
func TestCAClassicVerification(t *testing.T) {
	dir := localData(t)
	ca := certstest.New(t)
	other := certstest.New(t)
	writePair(t, dir, "root", ca.Root)
	run(t, []step{{name: "add", args: []string{"add", filepath.Join(dir, "root.pem"), "--name", "classic"}}})
	outs := run(t, []step{{name: "code", args: []string{"verify", "classic", "--generate-code", "-o", "json"}, wantOut: []string{`"verificationCode": "`}, wantErrOut: "Sign a certificate with CN "}})
	var code struct {
		ETag       string `json:"etag"`
		Properties struct {
			VerificationCode string `json:"verificationCode"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(outs[0]), &code); err != nil || code.Properties.VerificationCode == "" {
		t.Fatalf("code %q: %v", outs[0], err)
	}
	wrong, err := certs.NewVerificationCertificate(other.Root.Cert, other.Root.Key, code.Properties.VerificationCode)
	if err != nil {
		t.Fatal(err)
	}
	right, err := certs.NewVerificationCertificate(ca.Root.Cert, ca.Root.Key, code.Properties.VerificationCode)
	if err != nil {
		t.Fatal(err)
	}
	run(t, []step{
		{name: "signed by another key", args: []string{"verify", "classic", "--certificate", "-"}, stdin: certs.EncodePEM(wrong.Cert), verifyErr: true, wantErr: "not signed by the key"},
		{name: "at a stale etag", args: []string{"verify", "classic", "--certificate", "-", "--etag", "stale"}, stdin: certs.EncodePEM(right.Cert), wantErr: "changed since it was read"},
		{name: "right", args: []string{"verify", "classic", "--certificate", "-", "--etag", code.ETag}, stdin: certs.EncodePEM(right.Cert), wantOut: []string{"\ttrue\t"}},
		{name: "a code is used once", args: []string{"verify", "classic", "--certificate", "-"}, stdin: certs.EncodePEM(right.Cert), verifyErr: true, wantErr: "no verification code was issued"},
	})
}

// With a connection string configured, the ca commands still manage the
// local service, and say so.
func TestCACommandsSayTheyAreLocal(t *testing.T) {
	localData(t)
	t.Setenv("DPSCTL_CONNECTION_STRING", "HostName=dps.example.test;SharedAccessKeyName=o;SharedAccessKey=a2V5")
	f, s := cmdtest.NewFactory(t, nil, false)
	defer f.Close()
	if err := cmdtest.Run(t, f, NewCmdCA(f), "list", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ErrOut.String(), "managing the CA certificates of the local provisioning service") {
		t.Fatalf("stderr %q", s.ErrOut)
	}
}
