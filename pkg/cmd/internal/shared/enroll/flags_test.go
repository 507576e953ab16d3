package enroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

func TestJSONObject(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: `{"a": 1, "b": {"c": [1, 2]}}`, want: `{"a":1,"b":{"c":[1,2]}}`},
		{in: `{"big": 12345678901234567890}`, want: `{"big":12345678901234567890}`},
		{in: `[1]`, bad: true},
		{in: `null`, bad: true},
		{in: `"s"`, bad: true},
		{in: `{"a":1} {"b":2}`, bad: true},
		{in: `{a:1}`, bad: true},
	}
	for _, tt := range tests {
		got, err := jsonObject(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("jsonObject(%q) accepted", tt.in)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("jsonObject(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func FuzzJSONObject(f *testing.F) {
	f.Add(`{"a":1}`)
	f.Add(`{"a":{"b":[1,2,"c"]}}`)
	f.Add(``)
	f.Add(`{"a":1}x`)
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := jsonObject(s)
		if err != nil || raw == nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			t.Fatalf("jsonObject(%q) = %s: not an object (%v)", s, raw, err)
		}
	})
}

// parse runs the shared flags over args as an update would and returns
// them captured, with own naming the noun's own flags.
func parse(t *testing.T, update bool, args ...string) (*Flags, error) {
	t.Helper()
	fl := &Flags{}
	var fromFile, own string
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		fl.Capture(cmd, "own")
		return fl.Validate()
	}}
	fl.Register(cmd, update, &fromFile, Help{Attestations: []string{"tpm", "x509", "symmetric-key"}})
	cmd.Flags().StringVar(&own, "own", "", "")
	cmd.Flags().StringVar(&own, "other", "", "")
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(&strings.Builder{})
	return fl, cmd.Execute()
}

func TestCaptureAndValidate(t *testing.T) {
	tests := []struct {
		args    []string
		update  bool
		changed string
		wantErr string
	}{
		{args: []string{"--edge", "--from-file", "f.json", "--own", "x", "--other", "y"}, changed: "edge from-file own"},
		{args: []string{"--primary-key", key1, "--secondary-key", ""}, changed: "primary-key secondary-key"},
		{args: []string{"--primary-key", "abc", "--secondary-key", "abc"}, wantErr: "--primary-key: "},
		{args: []string{"--initial-twin-tags", "[1]"}, wantErr: "--initial-twin-tags is not valid JSON"},
		{args: []string{"--initial-twin-properties", "{"}, wantErr: "--initial-twin-properties is not valid JSON"},
		{args: []string{"--iot-hubs", "a", "--remove-iot-hub", "b"}, update: true, wantErr: "--iot-hubs replaces the list; do not combine it with --add-iot-hub or --remove-iot-hub"},
		{args: []string{"--add-iot-hub", "a"}, wantErr: "unknown flag: --add-iot-hub"},
		{args: []string{"--attestation", "ek"}, wantErr: "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fl, err := parse(t, tt.update, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, name := range append(slices.Clone(bundle), FlagFromFile, "own", "other") {
				if fl.Given(name) {
					got = append(got, name)
				}
			}
			if strings.Join(got, " ") != tt.changed {
				t.Fatalf("changed %v, want %s", got, tt.changed)
			}
		})
	}
}

// apply runs the shared flags over args, then ApplyFields to an
// enrollment and a group made by start, and checks both the same way.
func TestApplyFields(t *testing.T) {
	tests := []struct {
		name      string
		start     func(e model.Enrollable)
		args      []string
		check     func(e model.Enrollable) string // "" when right
		wantError string                          // with %s for "enrollment" or "group"
	}{
		{
			name:  "unnamed fields kept",
			start: fill,
			args:  []string{"--provisioning-status", "disabled"},
			check: func(e model.Enrollable) string {
				if e.Common().ProvisioningStatus != "disabled" || e.ID() != "id" || e.Common().IoTHubs[0] != "hub" || e.Common().AllocationPolicy != "allocation" ||
					string(e.Common().InitialTwin.Tags) != `{"t":1}` || !e.Common().Capabilities.IoTEdge || e.Common().ReprovisionPolicy.Name() != "reprovision-and-migrate" {
					return "fields changed"
				}
				return ""
			},
		},
		{
			name:  "hubs added and removed",
			start: func(e model.Enrollable) { e.Common().IoTHubs = []string{"a.net", "b.net"} },
			args:  []string{"--add-iot-hub", "c.net,A.NET", "--add-iot-hub", " ", "--remove-iot-hub", "B.NET"},
			check: func(e model.Enrollable) string {
				if strings.Join(e.Common().IoTHubs, ",") != "a.net,c.net" {
					return strings.Join(e.Common().IoTHubs, ",")
				}
				return ""
			},
		},
		{
			name:  "hubs cleared",
			start: func(e model.Enrollable) { e.Common().IoTHubs = []string{"a.net"} },
			args:  []string{"--iot-hubs", ""},
			check: func(e model.Enrollable) string {
				if e.Common().IoTHubs != nil {
					return "not cleared"
				}
				return ""
			},
		},
		{
			name:      "unknown hub",
			start:     func(e model.Enrollable) { e.Common().IoTHubs = []string{"a.net", "b.net"} },
			args:      []string{"--remove-iot-hub", "z.net"},
			wantError: "--remove-iot-hub z.net: the %s does not list that hub (it lists a.net, b.net)",
		},
		{
			name:      "unknown hub of none",
			args:      []string{"--remove-iot-hub", "z.net"},
			wantError: "--remove-iot-hub z.net: the %s does not list that hub (it lists none)",
		},
		{
			name: "custom allocation",
			args: []string{"--allocation-policy", "custom", "--webhook-url", "https://example.net/a"},
			check: func(e model.Enrollable) string {
				if d := e.Common().CustomAllocationDefinition; d == nil || d.WebhookURL != "https://example.net/a" || d.APIVersion != DefaultWebhookAPIVersion {
					return "webhook not set"
				}
				return ""
			},
		},
		{
			name: "webhook version kept on a custom entity",
			start: func(e model.Enrollable) {
				e.Common().AllocationPolicy = model.AllocationCustom
				e.Common().CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: "u", APIVersion: "v"}
			},
			args: []string{"--webhook-url", "w"},
			check: func(e model.Enrollable) string {
				if d := e.Common().CustomAllocationDefinition; d.WebhookURL != "w" || d.APIVersion != "v" {
					return "webhook " + d.WebhookURL + " " + d.APIVersion
				}
				return ""
			},
		},
		{
			name: "webhook dropped when the policy changes",
			start: func(e model.Enrollable) {
				e.Common().AllocationPolicy = model.AllocationCustom
				e.Common().CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: "u", APIVersion: "v"}
			},
			args: []string{"--allocation-policy", "hashed"},
			check: func(e model.Enrollable) string {
				if e.Common().CustomAllocationDefinition != nil {
					return "webhook kept"
				}
				return ""
			},
		},
		{name: "webhook without custom", args: []string{"--webhook-api-version", "v"}, wantError: "--webhook-url and --webhook-api-version need --allocation-policy custom"},
		{name: "custom without webhook", args: []string{"--allocation-policy", "custom"}, wantError: "--allocation-policy custom needs --webhook-url"},
		{
			name: "twin, edge and policy",
			args: []string{"--initial-twin-tags", `{ "site": "lab" }`, "--initial-twin-properties", `{"n":1}`, "--edge", "--reprovision-policy", "reprovisionandresetdata"},
			check: func(e model.Enrollable) string {
				tw := e.Common().InitialTwin
				if string(tw.Tags) != `{"site":"lab"}` || string(tw.Properties.Desired) != `{"n":1}` || !e.Common().Capabilities.IoTEdge || e.Common().ReprovisionPolicy.Name() != "reprovision-and-reset" {
					return "not applied"
				}
				return ""
			},
		},
		{
			name:  "twin cleared",
			start: fill,
			args:  []string{"--initial-twin-tags", "", "--edge=false"},
			check: func(e model.Enrollable) string {
				if e.Common().InitialTwin != nil || e.Common().Capabilities.IoTEdge {
					return "twin or edge kept"
				}
				return ""
			},
		},
		{
			name: "twin properties cleared, tags kept",
			start: func(e model.Enrollable) {
				e.Common().InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"a":1}`), Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"b":2}`)}}
			},
			args: []string{"--initial-twin-properties", " "},
			check: func(e model.Enrollable) string {
				if tw := e.Common().InitialTwin; tw == nil || tw.Properties != nil || string(tw.Tags) != `{"a":1}` {
					return "twin wrong"
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range []model.Enrollable{&model.IndividualEnrollment{}, &model.EnrollmentGroup{}} {
				if tt.start != nil {
					tt.start(e)
				}
				fl, err := parse(t, true, tt.args...)
				if err == nil {
					err = fl.ApplyFields(e)
				}
				if tt.wantError != "" {
					want := tt.wantError
					if strings.Contains(want, "%s") {
						want = fmt.Sprintf(want, command(e.Kind()))
					}
					if err == nil || err.Error() != want {
						t.Fatalf("%s: err = %v, want %q", command(e.Kind()), err, want)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", command(e.Kind()), err)
				}
				if msg := tt.check(e); msg != "" {
					t.Fatalf("%s: %s", command(e.Kind()), msg)
				}
			}
		})
	}
}

var testTypes = []TypeFlags{
	{Type: model.AttestationTPM, Flags: []string{"own"}},
	{Type: model.AttestationX509, Flags: []string{FlagCertificate, FlagSecondaryCertificate}},
	{Type: model.AttestationSymmetricKey, Flags: []string{FlagPrimaryKey, FlagSecondaryKey}},
}

func TestMechanism(t *testing.T) {
	missing, mixed := errors.New("missing"), errors.New("mixed")
	keys := &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1}}
	tests := []struct {
		name     string
		current  *model.AttestationMechanism
		update   bool
		args     []string
		wantType string
		kept     bool
		wantErr  string
	}{
		{name: "nothing", wantErr: "missing"},
		{name: "chosen", args: []string{"--attestation", "symmetric-key"}, wantType: model.AttestationSymmetricKey},
		{name: "implied by a flag", args: []string{"--own", "x"}, wantType: model.AttestationTPM},
		{name: "implied by two flags of a type", args: []string{"--primary-key", key1, "--secondary-key", key2}, wantType: model.AttestationSymmetricKey},
		{name: "two types", args: []string{"--own", "x", "--certificate", "c.pem"}, wantErr: "mixed"},
		{name: "flag of another type", args: []string{"--attestation", "x509", "--primary-key", key1}, wantErr: "--primary-key does not apply to x509 attestation"},
		{name: "current kept", current: keys, update: true, args: []string{"--edge"}, wantType: model.AttestationSymmetricKey, kept: true},
		{name: "current of the type asked kept", current: keys, update: true, args: []string{"--secondary-key", key2}, wantType: model.AttestationSymmetricKey, kept: true},
		{name: "type changed on update", current: keys, update: true, args: []string{"--attestation", "tpm"},
			wantErr: "the %s uses symmetric-key attestation; it cannot change to tpm (delete it and create it again)"},
		{name: "type replaced on create", current: keys, args: []string{"--attestation", "x509"}, wantType: model.AttestationX509},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range []model.Enrollable{&model.IndividualEnrollment{EnrollmentCommon: model.EnrollmentCommon{Attestation: tt.current}}, &model.EnrollmentGroup{EnrollmentCommon: model.EnrollmentCommon{Attestation: tt.current}}} {
				fl, err := parse(t, tt.update, tt.args...)
				if err != nil {
					t.Fatal(err)
				}
				a, err := fl.Mechanism(e, tt.update, testTypes, missing, mixed)
				if tt.wantErr != "" {
					want := tt.wantErr
					if strings.Contains(want, "%s") {
						want = fmt.Sprintf(want, command(e.Kind()))
					}
					if err == nil || err.Error() != want {
						t.Fatalf("%s: err = %v, want %q", command(e.Kind()), err, want)
					}
					continue
				}
				if err != nil || a.Type != tt.wantType || (a == tt.current) != tt.kept {
					t.Fatalf("%s: %+v (kept %v), %v; want %s, kept %v", command(e.Kind()), a, a == tt.current, err, tt.wantType, tt.kept)
				}
			}
		})
	}
}

func TestApplySymmetricKey(t *testing.T) {
	tests := []struct {
		name    string
		current *model.SymmetricKeyAttestation
		args    []string
		want    model.SymmetricKeyAttestation
		wantErr string
	}{
		{name: "generated", want: model.SymmetricKeyAttestation{}},
		{name: "given", args: []string{"--primary-key", key1}, want: model.SymmetricKeyAttestation{PrimaryKey: key1}},
		{name: "one replaced", current: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}, args: []string{"--secondary-key", key1},
			want: model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key1}},
		{name: "one dropped", current: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}, args: []string{"--secondary-key", ""},
			want: model.SymmetricKeyAttestation{PrimaryKey: key1}},
		{name: "masked", current: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: output.Masked},
			wantErr: "the secondary key is masked (" + output.Masked + "); export with --show-keys, give --secondary-key, or drop it to have the service generate one"},
		{name: "invalid from a file", current: &model.SymmetricKeyAttestation{PrimaryKey: "abc"}, wantErr: "primary key: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl, err := parse(t, true, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			a := &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: tt.current}
			err = fl.ApplySymmetricKey(a)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || *a.SymmetricKey != tt.want {
				t.Fatalf("keys %+v, %v; want %+v", a.SymmetricKey, err, tt.want)
			}
		})
	}
}

func TestReadCertificate(t *testing.T) {
	ca := certstest.New(t)
	c, err := ReadCertificate(FlagCertificate, ca.IntermediateCertPath)
	if err != nil || c.Certificate != certs.EncodePEM(ca.Intermediate.Cert) {
		t.Fatalf("read: %+v, %v", c, err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(t.TempDir(), "none.pem"): "--certificate: ",
		empty:                                  "--certificate: ",
	} {
		if _, err := ReadCertificate(FlagCertificate, path); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
}
