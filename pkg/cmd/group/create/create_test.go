package create

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
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
			name: "symmetric key", args: []string{"g1", "--attestation", "symmetric-key"}, wantID: "g1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.Attestation != "symmetric-key" || !o.Flags.Given("attestation") || o.Flags.Given("primary-key") {
					t.Errorf("flags %+v", o.Flags)
				}
			},
		},
		{
			name: "wire attestation name", args: []string{"g1", "--attestation", "symmetricKey"}, wantID: "g1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.Attestation != "symmetric-key" {
					t.Errorf("attestation %q", o.Flags.Attestation)
				}
			},
		},
		{
			name: "certificates", args: []string{"g1", "--certificate", "ca.pem", "--secondary-certificate", "ca2.cer", "--skip-checks"}, wantID: "g1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.Certificate != "ca.pem" || o.Flags.SecondaryCertificate != "ca2.cer" || !o.Flags.SkipChecks || o.Flags.Given("skip-checks") {
					t.Errorf("flags %+v", o.Flags)
				}
			},
		},
		{
			name: "references and fields", args: []string{"g1", "--ca-reference", "root", "--secondary-ca-reference", "root2", "--iot-hubs", "a.net,b.net", "--allocation-policy", "geoLatency", "--provisioning-status", "disabled", "--reprovision-policy", "reprovision-and-reset", "--edge", "--initial-twin-tags", `{"a":1}`, "--initial-twin-properties", `{"b":2}`}, wantID: "g1",
			check: func(t *testing.T, o *CreateOptions) {
				fl := o.Flags
				if fl.CAReference != "root" || fl.SecondaryCAReference != "root2" || strings.Join(fl.IoTHubs, " ") != "a.net b.net" ||
					fl.AllocationPolicy != "geoLatency" || fl.ProvisioningStatus != "disabled" || fl.ReprovisionPolicy != "reprovision-and-reset" ||
					!fl.Edge || fl.InitialTwinTags != `{"a":1}` || fl.InitialTwinProperties != `{"b":2}` {
					t.Errorf("flags %+v", fl)
				}
			},
		},
		{
			name: "webhook", args: []string{"g1", "--attestation", "x509", "--ca-reference", "r", "--allocation-policy", "custom", "--webhook-url", "https://x.net/a", "--webhook-api-version", "2021-10-01"}, wantID: "g1",
			check: func(t *testing.T, o *CreateOptions) {
				if o.Flags.WebhookURL != "https://x.net/a" || o.Flags.WebhookAPIVersion != "2021-10-01" {
					t.Errorf("flags %+v", o.Flags)
				}
			},
		},
		{name: "from file without ID", args: []string{"--from-file", "g.json"}, wantID: ""},
		{name: "no ID", args: []string{"--attestation", "symmetric-key"}, wantErr: "give a group ID"},
		{name: "two IDs", args: []string{"a", "b"}, wantErr: "create takes one group ID"},
		{name: "bad ID", args: []string{"bad/id", "--attestation", "x509"}, wantErr: `group ID "bad/id"`},
		{name: "tpm", args: []string{"g", "--attestation", "tpm"}, wantErr: "valid values are x509, symmetric-key"},
		{name: "bad key", args: []string{"g", "--primary-key", "c2hvcnQ="}, wantErr: "--primary-key: key decodes to 5 bytes"},
		{name: "bad twin", args: []string{"g", "--initial-twin-properties", "{nope"}, wantErr: "--initial-twin-properties is not valid JSON"},
		{name: "certificate and reference", args: []string{"g", "--certificate", "a.pem", "--ca-reference", "r"}, wantErr: "not both"},
		{name: "bad reprovision", args: []string{"g", "--reprovision-policy", "sometimes"}, wantErr: "valid values are reprovision-and-migrate"},
		{name: "update flag", args: []string{"g", "--add-iot-hub", "a.net"}, wantErr: "unknown flag: --add-iot-hub"},
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
			if got.GroupID != tt.wantID {
				t.Errorf("ID %q, want %q", got.GroupID, tt.wantID)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func run(t *testing.T, c *dps.Client, tty bool, stdin string, args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, tty)
	s.In.WriteString(stdin)
	err := cmdtest.Run(t, f, NewCmdCreate(f, nil), args...)
	return s.Out.String(), s.ErrOut.String(), err
}

func TestCreateRun(t *testing.T) {
	ca := grouptest.NewCA(t)
	scrub := grouptest.CertScrubs(ca.Root.Cert, ca.Intermediate.Cert)
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"symmetric key table tty", true, []string{"g1", "--attestation", "symmetric-key", "--primary-key", grouptest.Key1, "--secondary-key", grouptest.Key2, "--iot-hubs", "hub1.azure-devices.net,hub2.azure-devices.net", "--allocation-policy", "hashed"}},
		{"symmetric key table not tty", false, []string{"g1", "--attestation", "symmetric-key", "--primary-key", grouptest.Key1, "--iot-hubs", "hub1.azure-devices.net"}},
		{"symmetric key json show keys", false, []string{"g1", "--primary-key", grouptest.Key1, "--secondary-key", grouptest.Key2, "-o", "json", "--show-keys"}},
		{"generated keys yaml masked", false, []string{"g1", "--attestation", "symmetric-key", "-o", "yaml", "--edge", "--initial-twin-tags", `{"site":"lab","floor":2}`, "--initial-twin-properties", `{"interval":30}`, "--reprovision-policy", "never", "--provisioning-status", "disabled"}},
		{"signing certificates table tty", true, []string{"g1", "--certificate", ca.IntermediateCertPath, "--secondary-certificate", ca.RootCertPath}},
		{"signing certificate json", false, []string{"g1", "--certificate", ca.RootCertPath, "-o", "json"}},
		{"ca references table tty", true, []string{"g1", "--ca-reference", "contoso-root", "--secondary-ca-reference", "contoso-root-2"}},
		{"custom allocation", false, []string{"g1", "--ca-reference", "r", "--allocation-policy", "custom", "--webhook-url", "https://example.net/alloc", "-o", "json", "--query", "[allocationPolicy, customAllocationDefinition]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			out, errOut, err := run(t, c, tt.tty, "", tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(out), scrub...)
		})
	}
}

func TestCreateStoresCertificate(t *testing.T) {
	ca := grouptest.NewCA(t)
	_, c := cmdtest.NewServer(t)
	// DER input is sent as PEM; the service computes the details.
	der := filepath.Join(t.TempDir(), "intermediate.cer")
	if err := os.WriteFile(der, ca.Intermediate.Cert.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, c, false, "", "g1", "--certificate", der, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var g model.EnrollmentGroup
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	info := g.Attestation.X509.SigningCertificates.Primary.Info
	if info == nil || info.SubjectName != "CN=Test Intermediate CA" {
		t.Fatalf("info %+v", info)
	}
}

func TestCreateRefusals(t *testing.T) {
	ca := grouptest.NewCA(t)
	dev := ca.Device(t, "dev-1")
	_, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "taken", nil)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(error) bool
	}{
		{name: "exists", args: []string{"TAKEN", "--attestation", "symmetric-key"}, wantErr: `enrollment group "TAKEN" already exists (use "dpsctl group update")`, check: dps.IsConflict},
		{name: "leaf as signing certificate", args: []string{"g2", "--certificate", dev.CertPath},
			wantErr: "--certificate " + dev.CertPath + " cannot sign device certificates: signing certificate CN=dev-1: is not a CA: basicConstraints has CA=false; signing certificate CN=dev-1: the key usage does not include keyCertSign (--skip-checks sends it anyway)",
			check:   func(err error) bool { var ve *cmdutil.VerificationError; return errors.As(err, &ve) }},
		{name: "masked key in file", args: []string{"g3", "--from-file", "-"}, wantErr: "the primary key is masked"},
		{name: "certificate details only in file", args: []string{"g4", "--from-file", "-"}, wantErr: "give --certificate"},
	}
	stdin := map[string]string{
		"masked key in file":               `{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"***"}}}`,
		"certificate details only in file": `{"attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"info":{"subjectName":"CN=x"}}}}}}`,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, c, false, stdin[tt.name], tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("err %T does not carry the expected kind", err)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
	if _, err := c.GetGroup(t.Context(), "g2"); !dps.IsNotFound(err) {
		t.Errorf("refused group was sent: %v", err)
	}
	// --skip-checks sends it; the service stores what it is given.
	if _, _, err := run(t, c, false, "", "g2", "--certificate", dev.CertPath, "--skip-checks"); err != nil {
		t.Fatalf("--skip-checks: %v", err)
	}
}

func TestCreateFromFile(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	src := grouptest.SymmetricGroup(t, c, "src", func(g *model.EnrollmentGroup) {
		g.IoTHubs = []string{"hub1.azure-devices.net"}
		g.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`)}
	})
	src.Attestation = &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: grouptest.Key2, SecondaryKey: grouptest.Key1}}
	doc, _ := json.Marshal(src)
	path := filepath.Join(t.TempDir(), "g.json")
	os.WriteFile(path, doc, 0o600)

	// The argument overrides the file's ID, flags override its fields, the
	// service's etag and timestamps are dropped.
	out, _, err := run(t, c, false, "", "copy", "--from-file", path, "--provisioning-status", "disabled", "-o", "json", "--show-keys")
	if err != nil {
		t.Fatal(err)
	}
	var g model.EnrollmentGroup
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	if g.EnrollmentGroupID != "copy" || g.ProvisioningStatus != "disabled" || g.IoTHubs[0] != "hub1.azure-devices.net" ||
		!strings.Contains(string(g.InitialTwin.Tags), `"site": "lab"`) || g.Attestation.SymmetricKey.PrimaryKey != grouptest.Key2 || g.ETag == src.ETag {
		t.Fatalf("copy %s", out)
	}
	// Without an argument the file names the group: here one that exists.
	if _, _, err := run(t, c, false, string(doc), "--from-file", "-"); !dps.IsConflict(err) {
		t.Fatalf("from stdin: %v", err)
	}
	if _, _, err := run(t, c, false, `{"attestation":{"type":"symmetricKey"}}`, "--from-file", "-"); err == nil || !strings.Contains(err.Error(), "has no enrollmentGroupId") {
		t.Fatalf("no ID: %v", err)
	}
}

// The service never takes a group without attestation; the local checks
// fail before any call is made.
func TestCreateNoClientNeeded(t *testing.T) {
	f, _ := cmdtest.NewFactory(t, nil, false)
	err := cmdtest.Run(t, f, NewCmdCreate(f, nil), "g1", "--edge")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "choose the attestation") {
		t.Fatalf("err = %v", err)
	}
}
