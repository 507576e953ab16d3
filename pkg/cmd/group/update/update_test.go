package update

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
)

const key3 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="

func seed(t *testing.T, c *dps.Client) *model.EnrollmentGroup {
	t.Helper()
	return grouptest.SymmetricGroup(t, c, "g1", func(g *model.EnrollmentGroup) {
		g.IoTHubs = []string{"hub1.azure-devices.net", "hub2.azure-devices.net"}
		g.AllocationPolicy = model.AllocationHashed
		g.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`),
			Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}}
		g.Capabilities = &model.DeviceCapabilities{IoTEdge: true}
	})
}

// current reads a group with its keys.
func current(t *testing.T, c *dps.Client, id string) *model.EnrollmentGroup {
	t.Helper()
	g, err := c.GetGroup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.GetGroupAttestation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	g.Attestation = a
	return g
}

func TestNewCmdUpdate(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(*UpdateOptions) bool
		wantErr string
	}{
		{args: []string{"g1", "--provisioning-status", "disabled"}, check: func(o *UpdateOptions) bool {
			return o.GroupID == "g1" && o.Flags.ProvisioningStatus == "disabled" && o.Flags.Given("provisioning-status") && !o.Flags.Given("edge")
		}},
		{args: []string{"g1", "--add-iot-hub", "a.net,b.net", "--add-iot-hub", "c.net", "--remove-iot-hub", "d.net"}, check: func(o *UpdateOptions) bool {
			return strings.Join(o.Flags.AddIoTHubs, " ") == "a.net b.net c.net" && strings.Join(o.Flags.RemoveIoTHubs, " ") == "d.net"
		}},
		{args: []string{"g1", "--edge=false", "--force"}, check: func(o *UpdateOptions) bool { return o.Flags.Given("edge") && !o.Flags.Edge && o.Force }},
		{args: []string{"g1", "--secondary-certificate", "ca.pem", "--skip-checks", "--etag", "E"}, check: func(o *UpdateOptions) bool {
			return o.ETag == "E" && o.Flags.SecondaryCertificate == "ca.pem" && o.Flags.SkipChecks
		}},
		{args: []string{"g1"}, wantErr: "nothing to update"},
		{args: []string{"g1", "--skip-checks"}, wantErr: "nothing to update"},
		{args: []string{"g1", "--edge", "--etag", "E", "--force"}, wantErr: "--etag and --force cannot be combined"},
		{args: []string{"g1", "--iot-hubs", "a", "--add-iot-hub", "b"}, wantErr: "--iot-hubs replaces the list"},
		{args: []string{"--edge"}, wantErr: "give one group ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdUpdate, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil || !tt.check(got) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func run(t *testing.T, c *dps.Client, tty bool, stdin string, args ...string) (string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, tty)
	s.In.WriteString(stdin)
	err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), args...)
	return s.Out.String(), err
}

func TestUpdateRun(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"status table tty", true, []string{"g1", "--provisioning-status", "disabled"}},
		{"hubs table not tty", false, []string{"g1", "--add-iot-hub", "hub3.azure-devices.net", "--remove-iot-hub", "HUB1.azure-devices.net"}},
		{"twin and edge json", false, []string{"g1", "--initial-twin-tags", "", "--edge=false", "--reprovision-policy", "never", "-o", "json"}},
		{"key yaml show keys", false, []string{"g1", "--secondary-key", key3, "-o", "yaml", "--show-keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			seed(t, c)
			out, err := run(t, c, tt.tty, "", tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(out))
		})
	}
}

// An update changes the fields named and nothing else: keys, hubs, twin
// and the creation time stay.
func TestUpdateKeepsTheRest(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	before := seed(t, c)
	if _, err := run(t, c, false, "", "g1", "--allocation-policy", "geoLatency"); err != nil {
		t.Fatal(err)
	}
	after := current(t, c, "g1")
	if after.AllocationPolicy != model.AllocationGeoLatency {
		t.Errorf("allocation %q", after.AllocationPolicy)
	}
	if after.ETag == before.ETag {
		t.Error("etag did not change")
	}
	want := *before
	want.AllocationPolicy, want.ETag, want.LastUpdatedDateTimeUTC = after.AllocationPolicy, after.ETag, after.LastUpdatedDateTimeUTC
	wb, _ := json.Marshal(want)
	ab, _ := json.Marshal(after)
	if string(wb) != string(ab) {
		t.Errorf("update lost something:\nbefore %s\nafter  %s", wb, ab)
	}
}

func TestUpdateSigningCertificates(t *testing.T) {
	ca := grouptest.NewCA(t)
	dev := ca.Device(t, "dev-1")
	_, c := cmdtest.NewServer(t)
	grouptest.SigningGroup(t, c, "x", ca.Intermediate.Cert, nil)

	// Adding a secondary keeps the primary the service holds.
	if _, err := run(t, c, false, "", "x", "--secondary-certificate", ca.RootCertPath); err != nil {
		t.Fatal(err)
	}
	sc := current(t, c, "x").Attestation.X509.SigningCertificates
	if sc.Primary.Info.SubjectName != "CN=Test Intermediate CA" || sc.Secondary == nil || sc.Secondary.Info.SubjectName != "CN=Test Root CA" {
		t.Fatalf("signing certificates %+v %+v", sc.Primary, sc.Secondary)
	}
	// A device certificate is refused before anything is sent.
	_, err := run(t, c, false, "", "x", "--certificate", dev.CertPath)
	var ve *cmdutil.VerificationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "--certificate "+dev.CertPath+" cannot sign device certificates") {
		t.Fatalf("err = %v", err)
	}
	// Removing the secondary, then moving to a CA reference.
	if _, err := run(t, c, false, "", "x", "--secondary-certificate", ""); err != nil {
		t.Fatal(err)
	}
	if sc := current(t, c, "x").Attestation.X509.SigningCertificates; sc.Secondary != nil {
		t.Fatalf("secondary kept: %+v", sc.Secondary)
	}
	if _, err := run(t, c, false, "", "x", "--ca-reference", "contoso-root"); err != nil {
		t.Fatal(err)
	}
	if x := current(t, c, "x").Attestation.X509; x.SigningCertificates != nil || x.CAReferences.Primary != "contoso-root" {
		t.Fatalf("x509 %+v", x)
	}
	// The attestation type cannot change.
	_, err = run(t, c, false, "", "x", "--attestation", "symmetric-key")
	if err == nil || !strings.Contains(err.Error(), "the group uses x509 attestation; it cannot change to symmetric-key") {
		t.Fatalf("err = %v", err)
	}
}

func TestUpdateETags(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	g := seed(t, c)
	_, err := run(t, c, false, "", "g1", "--edge=false", "--etag", "IjAwMDAi")
	if !dps.IsPreconditionFailed(err) || !strings.Contains(err.Error(), `enrollment group "g1" is no longer at --etag IjAwMDAi`) {
		t.Fatalf("stale etag: %v", err)
	}
	if _, err := run(t, c, false, "", "g1", "--edge=false", "--etag", g.ETag); err != nil {
		t.Fatalf("current etag: %v", err)
	}
	if _, err := run(t, c, false, "", "g1", "--edge", "--force"); err != nil {
		t.Fatalf("force: %v", err)
	}
	if _, err := run(t, c, false, "", "nope", "--edge"); !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
		t.Fatalf("not found: %v", err)
	}
}

func TestUpdateFromFile(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c)
	// An export with masked keys: the keys stay, the other members replace.
	f, s := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdUpdate(f, nil), "g1", "--edge", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(s.Out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["iotHubs"] = []string{"hub9.azure-devices.net"}
	delete(doc, "initialTwin")
	b, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "g.json")
	os.WriteFile(path, b, 0o600)
	if _, err := run(t, c, false, "", "g1", "--from-file", path, "--provisioning-status", "disabled"); err != nil {
		t.Fatal(err)
	}
	g := current(t, c, "g1")
	if k := g.Attestation.SymmetricKey; k.PrimaryKey != grouptest.Key1 || k.SecondaryKey != grouptest.Key2 {
		t.Errorf("keys %+v", k)
	}
	if len(g.IoTHubs) != 1 || g.IoTHubs[0] != "hub9.azure-devices.net" || g.ProvisioningStatus != "disabled" {
		t.Errorf("group %+v", g)
	}
	// Members the file leaves out are kept.
	if g.InitialTwin == nil || string(g.InitialTwin.Tags) != `{"site":"lab"}` {
		t.Errorf("twin %+v", g.InitialTwin)
	}
	// A file of another group is refused.
	if _, err := run(t, c, false, `{"enrollmentGroupId":"other"}`, "g1", "--from-file", "-"); err == nil || !strings.Contains(err.Error(), `is enrollment group "other", not "g1"`) {
		t.Fatalf("other group: %v", err)
	}
}

// interloper changes the group on the service just before the update's
// write reaches it.
type interloper struct {
	next   http.RoundTripper
	change func()
	done   bool
}

func (i *interloper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && !i.done {
		i.done = true
		i.change()
	}
	return i.next.RoundTrip(r)
}

// A change between the read and the write is not overwritten.
func TestUpdateLostUpdate(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	seed(t, c)
	tr := &interloper{next: server.Transport(inst.Handler()), change: func() {
		g := current(t, c, "g1")
		g.ProvisioningStatus = model.StatusDisabled
		if _, err := c.PutGroup(context.Background(), g, "*"); err != nil {
			t.Error(err)
		}
	}}
	racing, err := dps.New(dps.Options{ConnectionString: inst.Info().ConnectionString, HTTPClient: &http.Client{Transport: tr}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(t, racing, false, "", "g1", "--edge=false")
	if !dps.IsPreconditionFailed(err) || !strings.HasPrefix(err.Error(), `enrollment group "g1" was changed since it was read (its etag no longer matches); read it again, or use --force`) {
		t.Fatalf("err = %v", err)
	}
	if g := current(t, c, "g1"); g.ProvisioningStatus != model.StatusDisabled || !g.Capabilities.IoTEdge {
		t.Errorf("the other change was lost: %+v", g)
	}
}

// A group carrying members dpsctl does not model keeps them, byte for
// byte, through an update: at the top level and in the attestation.
func TestUpdateKeepsUnknownMembers(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c)
	g := current(t, c, "g1")
	g.Unknown = model.Unknown{{Key: []byte(`"credentialPolicyName"`), Value: []byte(`"policy-a"`)}}
	g.Attestation.Unknown = model.Unknown{{Key: []byte(`"keyRotation"`), Value: []byte(`{"days":30}`)}}
	if _, err := c.PutGroup(context.Background(), g, g.ETag); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, c, false, "", "g1", "--provisioning-status", "disabled"); err != nil {
		t.Fatal(err)
	}
	after := current(t, c, "g1")
	if after.ProvisioningStatus != model.StatusDisabled {
		t.Errorf("status %q", after.ProvisioningStatus)
	}
	if len(after.Unknown) != 1 || after.Unknown.Lookup("credentialPolicyName") == nil || string(after.Unknown[0].Value) != `"policy-a"` {
		t.Errorf("group members %q", after.Unknown)
	}
	if a := after.Attestation.Unknown; len(a) != 1 || string(a.Lookup("keyRotation")) != `{"days":30}` {
		t.Errorf("attestation members %q", a)
	}
}
