package shared

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// parse runs the bundle's flags over args as "group create" or "update"
// would and returns the captured flags.
func parse(t *testing.T, update bool, args ...string) (*Flags, error) {
	t.Helper()
	fl := &Flags{}
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		fl.Capture(cmd)
		return fl.Validate()
	}}
	fl.Register(cmd, update)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(&strings.Builder{})
	return fl, cmd.Execute()
}

func symmetricGroup() *model.EnrollmentGroup {
	return &model.EnrollmentGroup{
		EnrollmentGroupID: "g",
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}},
			IoTHubs: []string{"a.net", "b.net"},
		},
	}
}

func refGroup() *model.EnrollmentGroup {
	return &model.EnrollmentGroup{
		EnrollmentGroupID: "g",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509,
			X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "root-1", Secondary: "root-2"}}}},
	}
}

func TestApply(t *testing.T) {
	ca := certstest.New(t)
	tests := []struct {
		name    string
		update  bool
		start   func() *model.EnrollmentGroup
		args    []string
		check   func(t *testing.T, g *model.EnrollmentGroup)
		wantErr string
	}{
		{
			name: "symmetric key generated", args: []string{"--attestation", "symmetric-key"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if g.Attestation.Type != model.AttestationSymmetricKey || *g.Attestation.SymmetricKey != (model.SymmetricKeyAttestation{}) {
					t.Errorf("attestation %+v", g.Attestation)
				}
			},
		},
		{
			name: "keys imply symmetric key", args: []string{"--primary-key", key1},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if g.Attestation.SymmetricKey.PrimaryKey != key1 {
					t.Errorf("attestation %+v", g.Attestation.SymmetricKey)
				}
			},
		},
		{
			name: "certificate implies x509", args: []string{"--certificate", ca.IntermediateCertPath, "--secondary-certificate", ca.RootCertPath},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				sc := g.Attestation.X509.SigningCertificates
				if g.Attestation.Type != model.AttestationX509 || sc.Primary.Certificate != certs.EncodePEM(ca.Intermediate.Cert) || sc.Secondary.Certificate != certs.EncodePEM(ca.Root.Cert) {
					t.Errorf("signing certificates %+v", sc)
				}
			},
		},
		{
			name: "ca reference", args: []string{"--ca-reference", " root-1 ", "--secondary-ca-reference", "root-2"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if r := g.Attestation.X509.CAReferences; r.Primary != "root-1" || r.Secondary != "root-2" {
					t.Errorf("references %+v", r)
				}
			},
		},
		{name: "nothing chosen", args: []string{"--edge"}, wantErr: "choose the attestation"},
		{name: "x509 without certificate", args: []string{"--attestation", "x509"}, wantErr: "x509 attestation needs --certificate"},
		{name: "mixed mechanisms", args: []string{"--certificate", ca.RootCertPath, "--primary-key", key1}, wantErr: "different attestation mechanisms"},
		{name: "key flag on x509", args: []string{"--attestation", "x509", "--primary-key", key1}, wantErr: "--primary-key does not apply to x509"},
		{name: "certificate and reference", args: []string{"--certificate", ca.RootCertPath, "--ca-reference", "r"}, wantErr: "not both"},
		{name: "missing certificate file", args: []string{"--certificate", filepath.Join(t.TempDir(), "none.pem")}, wantErr: "--certificate"},
		{name: "secondary only on new group", args: []string{"--secondary-certificate", ca.RootCertPath}, wantErr: "--secondary-certificate needs --certificate"},
		{
			name: "update keeps keys and hubs", update: true, start: symmetricGroup, args: []string{"--provisioning-status", "disabled"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if k := g.Attestation.SymmetricKey; k.PrimaryKey != key1 || k.SecondaryKey != key2 || len(g.IoTHubs) != 2 || g.ProvisioningStatus != "disabled" {
					t.Errorf("group %+v", g)
				}
			},
		},
		{
			name: "update replaces one key", update: true, start: symmetricGroup, args: []string{"--secondary-key", key1},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if k := g.Attestation.SymmetricKey; k.PrimaryKey != key1 || k.SecondaryKey != key1 {
					t.Errorf("keys %+v", k)
				}
			},
		},
		{
			name: "add and remove hubs", update: true, start: symmetricGroup, args: []string{"--add-iot-hub", "c.net,A.NET", "--remove-iot-hub", "b.net"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if strings.Join(g.IoTHubs, " ") != "a.net c.net" {
					t.Errorf("hubs %v", g.IoTHubs)
				}
			},
		},
		{name: "remove unknown hub", update: true, start: symmetricGroup, args: []string{"--remove-iot-hub", "z.net"}, wantErr: "does not list that hub (it lists a.net, b.net)"},
		{name: "hubs and add", update: true, start: symmetricGroup, args: []string{"--iot-hubs", "a.net", "--add-iot-hub", "b.net"}, wantErr: "replaces the list"},
		{name: "change type", update: true, start: symmetricGroup, args: []string{"--certificate", ca.RootCertPath}, wantErr: "cannot change to x509"},
		{
			name: "reference to certificate", update: true, start: refGroup, args: []string{"--certificate", ca.RootCertPath},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				x := g.Attestation.X509
				if x.CAReferences != nil || x.SigningCertificates == nil || x.SigningCertificates.Primary == nil {
					t.Errorf("x509 %+v", x)
				}
			},
		},
		{
			name: "remove secondary reference", update: true, start: refGroup, args: []string{"--secondary-ca-reference", ""},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if r := g.Attestation.X509.CAReferences; r.Primary != "root-1" || r.Secondary != "" {
					t.Errorf("references %+v", r)
				}
			},
		},
		{name: "secondary certificate on reference group", update: true, start: refGroup, args: []string{"--secondary-certificate", ca.RootCertPath}, wantErr: "--secondary-certificate needs --certificate"},
		{
			name: "custom allocation", args: []string{"--attestation", "symmetric-key", "--allocation-policy", "custom", "--webhook-url", "https://example.net/a"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if d := g.CustomAllocationDefinition; d == nil || d.WebhookURL != "https://example.net/a" || d.APIVersion != enroll.DefaultWebhookAPIVersion {
					t.Errorf("webhook %+v", d)
				}
			},
		},
		{name: "webhook without custom", args: []string{"--attestation", "symmetric-key", "--webhook-url", "https://example.net/a"}, wantErr: "need --allocation-policy custom"},
		{name: "custom without webhook", args: []string{"--attestation", "symmetric-key", "--allocation-policy", "custom"}, wantErr: "needs --webhook-url"},
		{
			name: "twin, edge and policy", args: []string{"--attestation", "symmetric-key", "--initial-twin-tags", `{ "site": "lab" }`, "--initial-twin-properties", `{"n":1}`, "--edge", "--reprovision-policy", "never"},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if string(g.InitialTwin.Tags) != `{"site":"lab"}` || string(g.InitialTwin.Properties.Desired) != `{"n":1}` || !g.Capabilities.IoTEdge || g.ReprovisionPolicy.Name() != "never" {
					t.Errorf("group %+v", g)
				}
			},
		},
		{
			name: "clear twin", update: true,
			start: func() *model.EnrollmentGroup {
				g := symmetricGroup()
				g.InitialTwin = &model.InitialTwin{Tags: []byte(`{"a":1}`)}
				return g
			},
			args: []string{"--initial-twin-tags", ""},
			check: func(t *testing.T, g *model.EnrollmentGroup) {
				if g.InitialTwin != nil {
					t.Errorf("twin %+v", g.InitialTwin)
				}
			},
		},
		{name: "bad twin", args: []string{"--initial-twin-tags", "[]"}, wantErr: "--initial-twin-tags is not valid JSON"},
		{name: "bad key", args: []string{"--primary-key", "abc"}, wantErr: "--primary-key"},
		{
			name: "masked key from a file", update: true,
			start: func() *model.EnrollmentGroup {
				g := symmetricGroup()
				g.Attestation.SymmetricKey.PrimaryKey = "***"
				return g
			},
			args: []string{"--edge"}, wantErr: "the primary key is masked",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl, err := parse(t, tt.update, tt.args...)
			if err == nil {
				g := &model.EnrollmentGroup{EnrollmentGroupID: "g"}
				if tt.start != nil {
					g = tt.start()
				}
				if err = fl.Apply(g, tt.update); err == nil {
					if tt.wantErr != "" {
						t.Fatalf("no error, want %q", tt.wantErr)
					}
					tt.check(t, g)
					return
				}
			}
			if tt.wantErr == "" || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckCertificates(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	expired := certstest.NewWithOptions(t, certs.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "root", args: []string{"--certificate", ca.RootCertPath}},
		{name: "intermediate and root", args: []string{"--certificate", ca.IntermediateCertPath, "--secondary-certificate", ca.RootCertPath}},
		{name: "device certificate", args: []string{"--certificate", dev.CertPath}, wantErr: "--certificate " + dev.CertPath + " cannot sign device certificates: signing certificate CN=dev-1: is not a CA"},
		{name: "expired secondary", args: []string{"--certificate", ca.RootCertPath, "--secondary-certificate", expired.RootCertPath}, wantErr: "--secondary-certificate " + expired.RootCertPath + " cannot sign device certificates: signing certificate CN=Test Root CA: expired at"},
		{name: "skip checks", args: []string{"--certificate", dev.CertPath, "--skip-checks"}},
		{name: "references need no check", args: []string{"--ca-reference", "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl, err := parse(t, false, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			g := &model.EnrollmentGroup{EnrollmentGroupID: "g"}
			if err := fl.Apply(g, false); err != nil {
				t.Fatal(err)
			}
			err = fl.CheckCertificates(g)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *cmdutil.VerificationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--skip-checks") {
				t.Fatalf("err = %v, want a verification error with %q", err, tt.wantErr)
			}
		})
	}

	// Certificates of --from-file are checked too and named by slot.
	fl := &Flags{FromFile: "group.json", Now: time.Now}
	g := &model.EnrollmentGroup{
		EnrollmentGroupID: "g",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			SigningCertificates: &model.X509Certificates{
				Primary:   &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(ca.Root.Cert)},
				Secondary: &model.X509CertificateWithInfo{Certificate: certs.EncodeBase64DER(dev.Cert)},
			},
		}}},
	}
	err := fl.CheckCertificates(g)
	if err == nil || !strings.Contains(err.Error(), "--from-file group.json (secondary signing certificate) cannot sign") {
		t.Fatalf("from file: %v", err)
	}
	// Details without the certificate (an update keeping it) are not checked.
	g.Attestation.X509.SigningCertificates.Secondary = &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{SubjectName: "CN=x"}}
	if err := fl.CheckCertificates(g); err != nil {
		t.Fatalf("details only: %v", err)
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "g.json")
	os.WriteFile(good, []byte(`{"enrollmentGroupId":"g1","attestation":{"type":"symmetricKey"},"iotHubs":["a.net"]}`), 0o600)
	data, _ := os.ReadFile(good)
	g, err := Kind.ParseFile(good, data)
	if err != nil || g.EnrollmentGroupID != "g1" || g.IoTHubs[0] != "a.net" {
		t.Fatalf("good: %+v %v", g, err)
	}
	for in, want := range map[string]string{
		"":              "empty",
		"[]":            "want one enrollment group as a JSON object",
		`{"a":1} {}`:    "trailing data",
		`{"iotHubs":1}`: "cannot unmarshal",
	} {
		if _, err := Kind.ParseFile("f", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"enrollmentGroupId":"g1","attestation":{"type":"x509","x509":{"caReferences":{"primary":"r"}}}}`))
	f.Add([]byte(`{"enrollmentGroupId":"g","initialTwin":{"tags":{"version":1}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Kind.ParseFile("f", data)
		if err == nil && g == nil {
			t.Fatal("nil group without error")
		}
	})
}

func TestRequireCertificates(t *testing.T) {
	g := &model.EnrollmentGroup{
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{}}},
		}}},
	}
	if err := Kind.RequireCertificates(g); err == nil || !strings.Contains(err.Error(), "give --certificate") {
		t.Fatalf("err = %v", err)
	}
	g.Attestation.X509.SigningCertificates.Primary.Certificate = "PEM"
	if err := Kind.RequireCertificates(g); err != nil {
		t.Fatal(err)
	}
}

func TestAttestationSummary(t *testing.T) {
	for want, a := range map[string]*model.AttestationMechanism{
		"":                           nil,
		"symmetricKey":               {Type: model.AttestationSymmetricKey},
		"x509 (signing certificate)": {Type: model.AttestationX509, X509: &model.X509Attestation{SigningCertificates: &model.X509Certificates{}}},
		"x509 (CA reference)":        {Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{}}},
		"x509":                       {Type: model.AttestationX509},
	} {
		if got := AttestationSummary(a); got != want {
			t.Errorf("AttestationSummary(%+v) = %q, want %q", a, got, want)
		}
	}
}
