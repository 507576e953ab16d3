package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	key3 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="
)

func seed(t *testing.T, c *dps.Client) *model.IndividualEnrollment {
	t.Helper()
	e, err := c.PutEnrollment(context.Background(), &model.IndividualEnrollment{
		RegistrationID: "dev-1",
		DeviceID:       "device-one",
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}},
			IoTHubs:          []string{"hub1.azure-devices.net", "hub2.azure-devices.net"},
			AllocationPolicy: model.AllocationHashed,
			InitialTwin: &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`),
				Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}},
			Capabilities: &model.DeviceCapabilities{IoTEdge: true},
		},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// current reads an enrollment with its keys.
func current(t *testing.T, c *dps.Client, id string) *model.IndividualEnrollment {
	t.Helper()
	e, err := c.GetEnrollment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.GetEnrollmentAttestation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	e.Attestation = a
	return e
}

func TestNewCmdUpdate(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(*UpdateOptions) bool
		wantErr string
	}{
		{args: []string{"dev-1", "--provisioning-status", "disabled"}, check: func(o *UpdateOptions) bool {
			return o.RegistrationID == "dev-1" && o.Flags.ProvisioningStatus == "disabled" && o.Flags.Given("provisioning-status") && !o.Flags.Given("device-id")
		}},
		{args: []string{"dev-1", "--add-iot-hub", "a.net,b.net", "--add-iot-hub", "c.net", "--remove-iot-hub", "d.net"}, check: func(o *UpdateOptions) bool {
			return strings.Join(o.Flags.AddIoTHubs, " ") == "a.net b.net c.net" && strings.Join(o.Flags.RemoveIoTHubs, " ") == "d.net"
		}},
		{args: []string{"dev-1", "--edge=false", "--force"}, check: func(o *UpdateOptions) bool { return o.Flags.Given("edge") && !o.Flags.Edge && o.Force }},
		{args: []string{"dev-1", "--device-id", "x", "--etag", "E"}, check: func(o *UpdateOptions) bool { return o.ETag == "E" && o.Flags.DeviceID == "x" }},
		{args: []string{"dev-1"}, wantErr: "nothing to update"},
		{args: []string{"dev-1", "--force"}, wantErr: "nothing to update"},
		{args: []string{"dev-1", "--device-id", "x", "--etag", "E", "--force"}, wantErr: "--etag and --force cannot be combined"},
		{args: []string{"dev-1", "--iot-hubs", "a", "--add-iot-hub", "b"}, wantErr: "--iot-hubs replaces the list"},
		{args: []string{"--device-id", "x"}, wantErr: "give one registration ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdUpdate, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Fatalf("options %+v", got)
			}
		})
	}
}

func run(t *testing.T, c *dps.Client, tty bool, args ...string) (string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, tty)
	err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), args...)
	return s.Out.String(), err
}

func TestUpdateRun(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		args  []string
		check func(t *testing.T, before, after *model.IndividualEnrollment)
	}{
		{
			name: "status only keeps everything else", tty: true,
			args: []string{"dev-1", "--provisioning-status", "disabled"},
			check: func(t *testing.T, before, after *model.IndividualEnrollment) {
				if after.ProvisioningStatus != "disabled" {
					t.Errorf("status %q", after.ProvisioningStatus)
				}
			},
		},
		{
			name: "hubs added and removed json",
			args: []string{"dev-1", "--add-iot-hub", "hub3.azure-devices.net", "--remove-iot-hub", "HUB1.azure-devices.net", "-o", "json"},
			check: func(t *testing.T, before, after *model.IndividualEnrollment) {
				if strings.Join(after.IoTHubs, ",") != "hub2.azure-devices.net,hub3.azure-devices.net" {
					t.Errorf("hubs %v", after.IoTHubs)
				}
			},
		},
		{
			name: "new primary key yaml",
			args: []string{"dev-1", "--primary-key", key3, "-o", "yaml", "--show-keys"},
			check: func(t *testing.T, before, after *model.IndividualEnrollment) {
				if after.Attestation.SymmetricKey.PrimaryKey != key3 || after.Attestation.SymmetricKey.SecondaryKey != key2 {
					t.Errorf("keys %+v", after.Attestation.SymmetricKey)
				}
			},
		},
		{
			name: "twin cleared and edge off",
			args: []string{"dev-1", "--initial-twin-tags", "", "--edge=false", "--query", "[initialTwin, capabilities]", "-o", "json"},
			check: func(t *testing.T, before, after *model.IndividualEnrollment) {
				if after.InitialTwin == nil || after.InitialTwin.Tags != nil || string(after.InitialTwin.Properties.Desired) != `{"interval":30}` {
					t.Errorf("twin %+v", after.InitialTwin)
				}
				if after.Capabilities.IoTEdge {
					t.Error("still edge")
				}
			},
		},
		{
			name: "custom allocation",
			args: []string{"dev-1", "--allocation-policy", "custom", "--webhook-url", "https://example.net/a", "--webhook-api-version", "2021-10-01", "--query", "customAllocationDefinition.webhookUrl"},
			check: func(t *testing.T, before, after *model.IndividualEnrollment) {
				if after.AllocationPolicy != "custom" || after.CustomAllocationDefinition == nil || after.CustomAllocationDefinition.APIVersion != "2021-10-01" {
					t.Errorf("allocation %q %+v", after.AllocationPolicy, after.CustomAllocationDefinition)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			seed(t, c)
			before := current(t, c, "dev-1")
			out, err := run(t, c, tt.tty, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			after := current(t, c, "dev-1")
			tt.check(t, before, after)
			// Nothing the flags did not name may change.
			unchanged(t, before, after, tt.args)
			cmdtest.Golden(t, cmdtest.ScrubETags(out))
		})
	}
}

// unchanged compares the fields no flag of args names.
func unchanged(t *testing.T, before, after *model.IndividualEnrollment, args []string) {
	t.Helper()
	named := strings.Join(args, " ")
	eq := func(field string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s changed: %s -> %s", field, ja, jb)
		}
	}
	if !strings.Contains(named, "-key") {
		eq("attestation", before.Attestation, after.Attestation)
	}
	if !strings.Contains(named, "iot-hub") {
		eq("iotHubs", before.IoTHubs, after.IoTHubs)
	}
	if !strings.Contains(named, "twin") {
		eq("initialTwin", before.InitialTwin, after.InitialTwin)
	}
	if !strings.Contains(named, "--edge") {
		eq("capabilities", before.Capabilities, after.Capabilities)
	}
	if !strings.Contains(named, "--device-id") {
		eq("deviceId", before.DeviceID, after.DeviceID)
	}
	if !strings.Contains(named, "allocation") {
		eq("allocationPolicy", before.AllocationPolicy, after.AllocationPolicy)
	}
	eq("reprovisionPolicy", before.ReprovisionPolicy, after.ReprovisionPolicy)
	eq("createdDateTimeUtc", before.CreatedDateTimeUTC, after.CreatedDateTimeUTC)
	if before.ETag == after.ETag {
		t.Error("etag did not change")
	}
}

func TestUpdateConcurrency(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	first := seed(t, c)
	// Someone else changes the enrollment after we read its etag.
	if _, err := run(t, c, false, "dev-1", "--device-id", "other"); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, c, false, "dev-1", "--provisioning-status", "disabled", "--etag", first.ETag)
	if !dps.IsPreconditionFailed(err) || !strings.Contains(err.Error(), `enrollment "dev-1" was changed since it was read`) {
		t.Fatalf("stale etag: %v", err)
	}
	if current(t, c, "dev-1").ProvisioningStatus == "disabled" {
		t.Fatal("stale write applied")
	}
	if _, err := run(t, c, false, "dev-1", "--provisioning-status", "disabled", "--force"); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if current(t, c, "dev-1").ProvisioningStatus != "disabled" {
		t.Fatal("--force did not write")
	}
}

func TestUpdateErrors(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c)
	tests := []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"nope", "--device-id", "x"}, `enrollment "nope" not found`, false},
		{[]string{"dev-1", "--attestation", "tpm"}, "uses symmetric-key attestation; it cannot change to tpm", true},
		{[]string{"dev-1", "--remove-iot-hub", "hub9.net"}, "does not list that hub", false},
		{[]string{"dev-1", "--certificate", "x.pem"}, "it cannot change to x509", true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := run(t, c, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var fe *cmdutil.FlagError
			if errors.As(err, &fe) != tt.usage {
				t.Errorf("usage error: %v", err)
			}
		})
	}
}

// An exported enrollment, edited and given back, changes only what was
// edited; masked keys stay as they are.
func TestUpdateFromFile(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c)
	before := current(t, c, "dev-1")
	f, s := cmdtest.NewFactory(t, c, false)
	// The export as "enrollment show -o json" prints it (keys stripped by
	// the service, then masked by the printer).
	exported, _ := json.Marshal(before)
	var doc map[string]any
	json.Unmarshal(exported, &doc)
	doc["deviceId"] = "renamed"
	doc["attestation"] = map[string]any{"type": "symmetricKey", "symmetricKey": map[string]any{"primaryKey": "***", "secondaryKey": "***"}}
	edited, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "dev-1.json")
	os.WriteFile(path, edited, 0o600)

	if err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), "dev-1", "--from-file", path, "--provisioning-status", "disabled"); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	after := current(t, c, "dev-1")
	if after.DeviceID != "renamed" || after.ProvisioningStatus != "disabled" {
		t.Errorf("edits not applied: %s %s", after.DeviceID, after.ProvisioningStatus)
	}
	if after.Attestation.SymmetricKey.PrimaryKey != key1 || after.Attestation.SymmetricKey.SecondaryKey != key2 {
		t.Errorf("keys changed: %+v", after.Attestation.SymmetricKey)
	}
	if strings.Join(after.IoTHubs, ",") != strings.Join(before.IoTHubs, ",") {
		t.Errorf("hubs changed: %v", after.IoTHubs)
	}

	doc["registrationId"] = "someone-else"
	other, _ := json.Marshal(doc)
	os.WriteFile(path, other, 0o600)
	f, _ = cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), "dev-1", "--from-file", path); err == nil || !strings.Contains(err.Error(), `is enrollment "someone-else"`) {
		t.Fatalf("mismatched ID: %v", err)
	}
}

// An X.509 enrollment keeps its certificate through an update that does
// not name it, although the service never returns the certificate itself.
func TestUpdateKeepsCertificate(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	dev := certstest.SelfSigned(t, "x509-dev")
	_, err := c.PutEnrollment(context.Background(), &model.IndividualEnrollment{
		RegistrationID: "x509-dev",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			ClientCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: dev.PEM()}}}}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := current(t, c, "x509-dev")
	if _, err := run(t, c, false, "x509-dev", "--provisioning-status", "disabled"); err != nil {
		t.Fatal(err)
	}
	after := current(t, c, "x509-dev")
	b, _ := json.Marshal(before.Attestation)
	a, _ := json.Marshal(after.Attestation)
	if string(a) != string(b) {
		t.Fatalf("attestation changed:\n%s\n%s", b, a)
	}

	// A new certificate replaces the old one.
	dev2 := certstest.SelfSigned(t, "x509-dev")
	if _, err := run(t, c, false, "x509-dev", "--certificate", dev2.CertPath); err != nil {
		t.Fatal(err)
	}
	after = current(t, c, "x509-dev")
	if after.Attestation.X509.ClientCertificates.Primary.Info.SHA256Thumbprint == before.Attestation.X509.ClientCertificates.Primary.Info.SHA256Thumbprint {
		t.Fatal("certificate not replaced")
	}
}

// An enrollment carrying members dpsctl does not model (those of a newer
// API version) keeps them, byte for byte, through an update by flags and
// one from a file: at the top level and in the attestation mechanism.
func TestUpdateKeepsUnknownMembers(t *testing.T) {
	const doc = `{"registrationId":"dev-1","credentialPolicyName":"policy-a","attestation":{"type":"symmetricKey",` +
		`"symmetricKey":{"primaryKey":"` + key1 + `","secondaryKey":"` + key2 + `"},"keyRotation":{"days":30,"next":"2027-01-01T00:00:00Z"}},` +
		`"futureSetting":{"a":[1,2.50,null],"b":"x"}}`
	wantTop := map[string]string{"credentialPolicyName": `"policy-a"`, "futureSetting": `{"a":[1,2.50,null],"b":"x"}`}
	wantAttestation := map[string]string{"keyRotation": `{"days":30,"next":"2027-01-01T00:00:00Z"}`}
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{name: "flags", args: []string{"dev-1", "--provisioning-status", "disabled", "-o", "json"}},
		{name: "from file", args: []string{"dev-1", "--from-file", "-", "-o", "json"}, stdin: `{"provisioningStatus":"disabled"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			var e model.IndividualEnrollment
			if err := json.Unmarshal([]byte(doc), &e); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutEnrollment(context.Background(), &e, ""); err != nil {
				t.Fatal(err)
			}
			f, s := cmdtest.NewFactory(t, c, false)
			s.In.WriteString(tt.stdin)
			if err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			after := current(t, c, "dev-1")
			if after.ProvisioningStatus != model.StatusDisabled {
				t.Errorf("status %q", after.ProvisioningStatus)
			}
			checkMembers(t, "enrollment", after.Unknown, wantTop)
			checkMembers(t, "attestation", after.Attestation.Unknown, wantAttestation)
			// The printed enrollment shows them as well.
			var printed map[string]json.RawMessage
			if err := json.Unmarshal(s.Out.Bytes(), &printed); err != nil {
				t.Fatal(err)
			}
			for name, want := range wantTop {
				var c bytes.Buffer
				if err := json.Compact(&c, printed[name]); err != nil || c.String() != want {
					t.Errorf("printed %s = %s, want %s", name, printed[name], want)
				}
			}
		})
	}
}

func checkMembers(t *testing.T, where string, got model.Unknown, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d unknown members, want %d", where, len(got), len(want))
	}
	for _, m := range got {
		if w, ok := want[m.Name()]; !ok || string(m.Value) != w {
			t.Errorf("%s: member %s = %s, want %s", where, m.Key, m.Value, w)
		}
	}
}
