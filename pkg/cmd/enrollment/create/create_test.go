package create

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// sampleEK is the endorsement key published with the Azure IoT SDK samples.
const sampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
	"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
	"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
	"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
	"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

func TestNewCmdCreate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantID  string
		check   func(t *testing.T, o *CreateOptions)
		wantErr string // substring of a usage error
	}{
		{
			name: "symmetric key", args: []string{"dev-1", "--attestation", "symmetric-key"}, wantID: "dev-1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.Attestation != "symmetric-key" || !o.Flags.Given("attestation") || o.Flags.Given("primary-key") {
					t.Errorf("flags %+v", o.Flags)
				}
			},
		},
		{
			name: "wire attestation name", args: []string{"dev-1", "--attestation", "symmetricKey"}, wantID: "dev-1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.Attestation != "symmetric-key" {
					t.Errorf("attestation %q", o.Flags.Attestation)
				}
			},
		},
		{
			name: "hubs and twin", args: []string{"dev-1", "--attestation", "tpm", "--endorsement-key", sampleEK, "--iot-hubs", "a.net,b.net", "--edge", "--initial-twin-tags", `{"site":"lab"}`, "--reprovision-policy", "never"}, wantID: "dev-1",
			check: func(t *testing.T, o *CreateOptions) {
				if strings.Join(o.Flags.IoTHubs, " ") != "a.net b.net" || !o.Flags.Edge || o.Flags.InitialTwinTags != `{"site":"lab"}` || o.Flags.ReprovisionPolicy != "never" {
					t.Errorf("flags %+v", o.Flags)
				}
			},
		},
		{name: "no ID", args: []string{"--attestation", "tpm", "--endorsement-key", sampleEK}, wantID: ""},
		{name: "two IDs", args: []string{"a", "b"}, wantErr: "at most one registration ID"},
		{name: "bad ID", args: []string{"bad/id", "--attestation", "tpm"}, wantErr: `registration ID "bad/id"`},
		{name: "bad attestation", args: []string{"x", "--attestation", "password"}, wantErr: "valid values are tpm, x509, symmetric-key"},
		{name: "bad key", args: []string{"x", "--primary-key", "c2hvcnQ="}, wantErr: "--primary-key: key decodes to 5 bytes"},
		{name: "bad twin", args: []string{"x", "--initial-twin-properties", "{nope"}, wantErr: "--initial-twin-properties is not valid JSON"},
		{name: "twin not an object", args: []string{"x", "--initial-twin-tags", "[1]"}, wantErr: "--initial-twin-tags is not valid JSON"},
		{name: "bad EK", args: []string{"--endorsement-key", "AAAA"}, wantErr: "--endorsement-key: invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow (--skip-checks sends it anyway)"},
		{name: "bad EK skipped", args: []string{"--endorsement-key", "AAAA", "--skip-checks", "--registration-id", "dev-1"}, wantID: "dev-1",
			check: func(t *testing.T, o *CreateOptions) {
				if !o.SkipChecks || o.Flags.EndorsementKey != "AAAA" {
					t.Errorf("options %+v", o)
				}
			},
		},
		{name: "ID flag", args: []string{"--registration-id", "dev-7", "--attestation", "symmetric-key"}, wantID: "dev-7"},
		{name: "ID flag and argument agree", args: []string{"dev-7", "--registration-id", "dev-7", "--attestation", "symmetric-key"}, wantID: "dev-7"},
		{name: "ID flag and argument differ", args: []string{"dev-7", "--registration-id", "dev-8"}, wantErr: "given twice"},
		{name: "bad ID flag", args: []string{"--registration-id", "a b"}, wantErr: `registration ID "a b"`},
		{name: "bad allocation", args: []string{"x", "--allocation-policy", "random"}, wantErr: "valid values are hashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdCreate, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.RegistrationID != tt.wantID {
				t.Errorf("ID %q, want %q", got.RegistrationID, tt.wantID)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func run(t *testing.T, c *dps.Client, tty bool, args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, tty)
	err := cmdtest.Run(t, f, NewCmdCreate(f, nil), args...)
	return s.Out.String(), s.ErrOut.String(), err
}

func TestCreateRun(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"symmetric key table tty", true, []string{"dev-1", "--attestation", "symmetric-key", "--primary-key", key1, "--secondary-key", key2, "--iot-hubs", "hub1.azure-devices.net,hub2.azure-devices.net", "--allocation-policy", "hashed", "--device-id", "device-one"}},
		{"symmetric key table not tty", false, []string{"dev-1", "--attestation", "symmetric-key", "--primary-key", key1, "--secondary-key", key2, "--iot-hubs", "hub1.azure-devices.net"}},
		{"symmetric key json show keys", false, []string{"dev-1", "--attestation", "symmetric-key", "--primary-key", key1, "--secondary-key", key2, "-o", "json", "--show-keys"}},
		{"generated keys yaml masked", false, []string{"dev-1", "--attestation", "symmetric-key", "-o", "yaml"}},
		{"tpm derives ID json", false, []string{"--attestation", "tpm", "--endorsement-key", sampleEK, "-o", "json", "--edge", "--initial-twin-tags", `{"site":"lab","floor":2}`, "--initial-twin-properties", `{"interval":30}`, "--reprovision-policy", "reprovision-and-reset", "--provisioning-status", "disabled"}},
		{"attestation implied by keys", false, []string{"dev-2", "--primary-key", key1, "--query", "attestation.type"}},
		{"custom allocation json", false, []string{"dev-3", "--attestation", "symmetric-key", "--allocation-policy", "custom", "--webhook-url", "https://example.net/alloc", "-o", "json", "--query", "customAllocationDefinition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			out, errOut, err := run(t, c, tt.tty, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(out))
		})
	}
}

func TestCreateX509(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	dev := certstest.SelfSigned(t, "x509-device")
	out, _, err := run(t, c, false, "--attestation", "x509", "--certificate", dev.CertPath, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var e model.IndividualEnrollment
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.RegistrationID != "x509-device" {
		t.Errorf("registration ID %q, want the certificate's CN", e.RegistrationID)
	}
	info := e.Attestation.X509.ClientCertificates.Primary.Info
	if info == nil || !strings.Contains(info.SubjectName, "x509-device") {
		t.Errorf("certificate info %+v", info)
	}

	// DER input is accepted too (the CN must be the registration ID).
	der := filepath.Join(t.TempDir(), "dev.cer")
	os.WriteFile(der, certstest.SelfSigned(t, "x509-der").Cert.Raw, 0o600)
	if _, _, err := run(t, c, false, "x509-der", "--certificate", der); err != nil {
		t.Fatalf("DER certificate: %v", err)
	}

	// An export has certificate details only; create asks for the file.
	exported := filepath.Join(t.TempDir(), "e.json")
	os.WriteFile(exported, []byte(out), 0o600)
	_, _, err = run(t, c, false, "x509-copy", "--from-file", exported)
	if err == nil || !strings.Contains(err.Error(), "give --certificate") {
		t.Fatalf("export without certificate: %v", err)
	}
	// The certificate's CN is not the new registration ID: refused, unless
	// the checks are skipped.
	_, _, err = run(t, c, false, "x509-copy", "--from-file", exported, "--certificate", dev.CertPath)
	var ve *cmdutil.VerificationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `CN "x509-device" does not match the registration ID "x509-copy"`) {
		t.Fatalf("export plus --certificate under another ID: %v", err)
	}
	if _, _, err := run(t, c, false, "x509-copy", "--from-file", exported, "--certificate", dev.CertPath, "--skip-checks"); err != nil {
		t.Fatalf("export plus --certificate --skip-checks: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	if _, _, err := run(t, c, false, "dev-1", "--attestation", "symmetric-key"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
		check func(error) bool
	}{
		{name: "exists", args: []string{"dev-1", "--attestation", "symmetric-key"}, want: `enrollment "dev-1" already exists (use "dpsctl enrollment update")`, check: dps.IsConflict},
		{name: "no attestation", args: []string{"dev-2"}, want: "--attestation is required", usage: true},
		{name: "no ID", args: []string{"--attestation", "symmetric-key"}, want: "give a registration ID", usage: true},
		{name: "tpm without EK", args: []string{"dev-2", "--attestation", "tpm"}, want: "tpm attestation needs --endorsement-key", usage: true},
		{name: "x509 without certificate", args: []string{"dev-2", "--attestation", "x509"}, want: "x509 attestation needs --certificate", usage: true},
		{name: "mixed mechanisms", args: []string{"dev-2", "--attestation", "x509", "--primary-key", key1}, want: "--primary-key does not apply to x509 attestation", usage: true},
		{name: "webhook without custom", args: []string{"dev-2", "--attestation", "symmetric-key", "--webhook-url", "https://x"}, want: "need --allocation-policy custom", usage: true},
		{name: "custom without webhook", args: []string{"dev-2", "--attestation", "symmetric-key", "--allocation-policy", "custom"}, want: "needs --webhook-url", usage: true},
		{name: "missing certificate file", args: []string{"dev-2", "--certificate", "/nonexistent.pem"}, want: "--certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, c, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var fe *cmdutil.FlagError
			if tt.usage != errors.As(err, &fe) {
				t.Errorf("usage error = %v, want %v", !tt.usage, tt.usage)
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("service error lost from %v", err)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
}

// What "-o json --show-keys" prints creates an equal enrollment; flags on top
// override the file.
func TestCreateFromFile(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	out, _, err := run(t, c, false, "dev-1", "--primary-key", key1, "--secondary-key", key2, "--iot-hubs", "h1.net,h2.net",
		"--initial-twin-tags", `{"a":{"b":[1,2]}}`, "--device-id", "d1", "-o", "json", "--show-keys")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dev-1.json")
	os.WriteFile(file, []byte(out), 0o600)

	out2, _, err := run(t, c, false, "dev-2", "--from-file", file, "--device-id", "d2", "-o", "json", "--show-keys")
	if err != nil {
		t.Fatal(err)
	}
	var a, b model.IndividualEnrollment
	json.Unmarshal([]byte(out), &a)
	json.Unmarshal([]byte(out2), &b)
	if b.RegistrationID != "dev-2" || b.DeviceID != "d2" {
		t.Errorf("overrides not applied: %s / %s", b.RegistrationID, b.DeviceID)
	}
	if b.Attestation.SymmetricKey.PrimaryKey != key1 || b.Attestation.SymmetricKey.SecondaryKey != key2 ||
		strings.Join(b.IoTHubs, ",") != "h1.net,h2.net" || string(b.InitialTwin.Tags) != string(a.InitialTwin.Tags) {
		t.Errorf("file content lost:\n%s", out2)
	}

	// stdin works as "-".
	f, s := cmdtest.NewFactory(t, c, false)
	s.In.WriteString(out)
	if err := cmdtest.Run(t, f, NewCmdCreate(f, nil), "dev-3", "--from-file", "-"); err != nil {
		t.Fatalf("stdin: %v", err)
	}

	// A masked export cannot recreate the keys.
	masked, _, _ := run(t, c, false, "dev-4", "--primary-key", key1, "-o", "json")
	os.WriteFile(file, []byte(masked), 0o600)
	_, _, err = run(t, c, false, "dev-5", "--from-file", file)
	if err == nil || !strings.Contains(err.Error(), "is masked") {
		t.Fatalf("masked keys: %v", err)
	}
	os.WriteFile(file, []byte("[]"), 0o600)
	if _, _, err := run(t, c, false, "dev-5", "--from-file", file); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Fatalf("array: %v", err)
	}
}

// leafFile writes a certificate for cn made from tmpl edits, signed by a
// fresh self-signed key, and returns its path.
func leafFile(t *testing.T, cn string, edit func(*x509.Certificate)) string {
	t.Helper()
	key, err := certs.GenerateKey(certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Create refuses, before sending, what would make the device fail.
func TestCreateChecks(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	now := time.Now()
	good := leafFile(t, "dev-ok", func(*x509.Certificate) {})
	expired := leafFile(t, "dev-old", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour) })
	future := leafFile(t, "dev-new", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(24*time.Hour), now.Add(48*time.Hour) })
	server := leafFile(t, "dev-srv", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	badEKFile := filepath.Join(t.TempDir(), "bad-ek.json")
	os.WriteFile(badEKFile, []byte(`{"registrationId":"dev-f","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAAA"}}}`), 0o644)
	certFile := filepath.Join(t.TempDir(), "cert.json")
	old, _ := os.ReadFile(expired)
	certJSON, _ := json.Marshal(map[string]any{"attestation": map[string]any{"type": "x509", "x509": map[string]any{"clientCertificates": map[string]any{"primary": map[string]string{"certificate": string(old)}}}}})
	os.WriteFile(certFile, certJSON, 0o644)

	tests := []struct {
		name       string
		args       []string
		wantErr    string // substring; "" means created
		kind       string // "usage", "verification" or "" (runtime)
		wantID     string
		wantErrOut string
	}{
		{name: "expired", args: []string{"--certificate", expired}, kind: "verification",
			wantErr: "--certificate " + expired + ` cannot authenticate registration ID "dev-old": leaf CN=dev-old: expired at`},
		{name: "not yet valid", args: []string{"--certificate", future}, kind: "verification", wantErr: "leaf CN=dev-new: not valid before"},
		{name: "no client auth", args: []string{"--certificate", server}, kind: "verification", wantErr: "does not include clientAuth"},
		{name: "CN mismatch", args: []string{"--registration-id", "dev-9", "--certificate", good}, kind: "verification", wantErr: `CN "dev-ok" does not match the registration ID "dev-9"`},
		{name: "secondary mismatch", args: []string{"--certificate", good, "--secondary-certificate", expired}, kind: "verification", wantErr: "--secondary-certificate " + expired},
		{name: "malformed certificate", args: []string{"dev-x", "--certificate", garbage}, wantErr: "--certificate: " + garbage},
		{name: "certificate from file", args: []string{"dev-old", "--from-file", certFile}, kind: "verification", wantErr: "--from-file " + certFile + " (primary certificate) cannot authenticate"},
		{name: "malformed EK", args: []string{"--endorsement-key", "AAAA"}, kind: "usage", wantErr: "--endorsement-key: invalid endorsement key"},
		{name: "malformed EK from file", args: []string{"--from-file", badEKFile}, kind: "usage", wantErr: "--from-file " + badEKFile + " (attestation.tpm.endorsementKey): invalid endorsement key"},
		{name: "matching CN", args: []string{"--certificate", good}, wantID: "dev-ok"},
		{name: "expired skipped", args: []string{"--certificate", expired, "--skip-checks"}, wantID: "dev-old"},
		{name: "mismatch skipped", args: []string{"--registration-id", "dev-9", "--certificate", good, "--skip-checks"}, wantID: "dev-9"},
		{name: "malformed EK skipped", args: []string{"dev-ek", "--endorsement-key", "AAAA", "--skip-checks"}, wantID: "dev-ek"},
		{name: "own ID for a TPM", args: []string{"--registration-id", "lab-7", "--endorsement-key", sampleEK}, wantID: "lab-7",
			wantErrOut: `Note: the registration ID "lab-7" is not the one the device SDKs derive from this endorsement key (sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := run(t, c, false, append(tt.args, "-o", "json")...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, errOut)
				}
				var e model.IndividualEnrollment
				if err := json.Unmarshal([]byte(out), &e); err != nil || e.RegistrationID != tt.wantID {
					t.Errorf("created %q (%v), want %q", e.RegistrationID, err, tt.wantID)
				}
				if !strings.Contains(errOut, tt.wantErrOut) {
					t.Errorf("stderr %q, want %q", errOut, tt.wantErrOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var fe *cmdutil.FlagError
			var ve *cmdutil.VerificationError
			if got := map[bool]string{true: "usage"}[errors.As(err, &fe)] + map[bool]string{true: "verification"}[errors.As(err, &ve)]; got != tt.kind {
				t.Errorf("error kind %q, want %q", got, tt.kind)
			}
			if tt.kind != "" && !strings.Contains(err.Error(), "--skip-checks sends it anyway") {
				t.Errorf("no hint at --skip-checks: %v", err)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
}
