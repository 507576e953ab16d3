package enroll

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// Kinds as the nouns describe them, without the service calls.
var (
	enrollments = &Kind[model.IndividualEnrollment, *model.IndividualEnrollment]{}
	groups      = &Kind[model.EnrollmentGroup, *model.EnrollmentGroup]{
		SameCertificate: func(exported, held *model.X509CertificateWithInfo) bool {
			return held != nil && (exported.Info == nil || held.Info == nil || exported.Info.SHA256Thumbprint == held.Info.SHA256Thumbprint)
		}}
)

// fill sets the ID and every shared field of e to a value naming it.
func fill(e model.Enrollable) {
	switch x := e.(type) {
	case *model.IndividualEnrollment:
		x.RegistrationID = "id"
	case *model.EnrollmentGroup:
		x.EnrollmentGroupID = "id"
	}
	c := e.Common()
	c.Attestation = &model.AttestationMechanism{Type: model.AttestationX509}
	c.Capabilities = &model.DeviceCapabilities{IoTEdge: true}
	c.InitialTwin = &model.InitialTwin{Tags: json.RawMessage(`{"t":1}`)}
	c.ETag = "etag"
	c.ProvisioningStatus = "status"
	c.ReprovisionPolicy = &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}
	c.CreatedDateTimeUTC = "created"
	c.LastUpdatedDateTimeUTC = "updated"
	c.AllocationPolicy = "allocation"
	c.IoTHubs = []string{"hub"}
	c.CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: "url"}
}

// Common must reach each shared member, whatever the kind, and messages
// name each kind by its command.
func TestCommon(t *testing.T) {
	want := func(idMember string) string {
		return `{"` + idMember + `":"id","attestation":{"type":"x509"},"capabilities":{"iotEdge":true},` +
			`"initialTwin":{"tags":{"t":1}},"etag":"etag","provisioningStatus":"status",` +
			`"reprovisionPolicy":{"updateHubAssignment":true,"migrateDeviceData":true},` +
			`"createdDateTimeUtc":"created","lastUpdatedDateTimeUtc":"updated","allocationPolicy":"allocation",` +
			`"iotHubs":["hub"],"customAllocationDefinition":{"webhookUrl":"url","apiVersion":""}}`
	}
	e := &model.IndividualEnrollment{}
	fill(e)
	g := &model.EnrollmentGroup{}
	fill(g)
	for _, tt := range []struct {
		name, wantName string
		v              any
		want           string
	}{
		{"enrollment", "enrollment", e, want("registrationId")},
		{"group", "group", g, want("enrollmentGroupId")},
	} {
		got, err := json.Marshal(tt.v)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s:\n got %s, %v\nwant %s", tt.name, got, err, tt.want)
		}
	}
	if command(e.Kind()) != "enrollment" || command(g.Kind()) != "group" {
		t.Errorf("names %q, %q", command(e.Kind()), command(g.Kind()))
	}
}

func TestClearServerFields(t *testing.T) {
	e := &model.IndividualEnrollment{RegistrationState: &model.DeviceRegistrationState{Status: "assigned"}}
	fill(e)
	ClearServerFields(e)
	g := &model.EnrollmentGroup{}
	fill(g)
	ClearServerFields(g)
	for name, v := range map[string]model.Enrollable{"enrollment": e, "group": g} {
		c := v.Common()
		if c.ETag != "" || c.CreatedDateTimeUTC != "" || c.LastUpdatedDateTimeUTC != "" {
			t.Errorf("%s: server fields kept", name)
		}
		if v.ID() != "id" || c.ProvisioningStatus != "status" || len(c.IoTHubs) != 1 {
			t.Errorf("%s: other fields cleared", name)
		}
	}
	if e.RegistrationState != nil {
		t.Error("registration state kept")
	}
}

func TestExplain(t *testing.T) {
	other := errors.New("boom")
	tests := []struct {
		err            error
		wantEnrollment string
		wantGroup      string
	}{
		{err: nil},
		{err: &dps.Error{StatusCode: 404}, wantEnrollment: `enrollment "x" not found`, wantGroup: `enrollment group "x" not found`},
		{err: &dps.Error{StatusCode: 409}, wantEnrollment: `enrollment "x" already exists (use "dpsctl enrollment update")`,
			wantGroup: `enrollment group "x" already exists (use "dpsctl group update")`},
		{err: &dps.Error{StatusCode: 412}, wantEnrollment: `enrollment "x" was changed since it was read (its etag no longer matches); read it again, or use --force to overwrite`,
			wantGroup: `enrollment group "x" was changed since it was read (its etag no longer matches); read it again, or use --force to overwrite`},
		{err: other, wantEnrollment: "boom", wantGroup: "boom"},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			got  error
			want string
		}{{enrollments.Explain(tt.err, "x"), tt.wantEnrollment}, {groups.Explain(tt.err, "x"), tt.wantGroup}} {
			if tt.err == nil {
				if c.got != nil {
					t.Errorf("Explain(nil) = %v", c.got)
				}
				continue
			}
			if c.got == nil || c.got.Error() != c.want || !errors.Is(c.got, tt.err) {
				t.Errorf("Explain(%v) = %v, want %q wrapping it", tt.err, c.got, c.want)
			}
		}
	}
}

func TestParseFile(t *testing.T) {
	e, err := enrollments.ParseFile("e.json", []byte(` {"registrationId":"dev-1","iotHubs":["a.net"]} `))
	if err != nil || e.RegistrationID != "dev-1" || e.IoTHubs[0] != "a.net" {
		t.Fatalf("enrollment: %+v %v", e, err)
	}
	tests := []struct {
		in, wantEnrollment, wantGroup string
	}{
		{"", "--from-file f: empty", "--from-file f: empty"},
		{"[]", "--from-file f: want one enrollment as a JSON object", "--from-file f: want one enrollment group as a JSON object"},
		{`{"a":1} {}`, "--from-file f: trailing data after the enrollment", "--from-file f: trailing data after the enrollment group"},
		{`{"iotHubs":1}`, "cannot unmarshal", "cannot unmarshal"},
	}
	for _, tt := range tests {
		if _, err := enrollments.ParseFile("f", []byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.wantEnrollment) {
			t.Errorf("enrollment %q: %v, want %q", tt.in, err, tt.wantEnrollment)
		}
		if _, err := groups.ParseFile("f", []byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.wantGroup) {
			t.Errorf("group %q: %v, want %q", tt.in, err, tt.wantGroup)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"***"}}}`))
	f.Add([]byte(`{"enrollmentGroupId":"g","initialTwin":{"tags":{"version":1}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, errE := enrollments.ParseFile("f", data)
		g, errG := groups.ParseFile("f", data)
		if (errE == nil && e == nil) || (errG == nil && g == nil) {
			t.Fatal("nil entity without error")
		}
		// Whatever parses must survive the write path's re-encoding.
		if errE == nil {
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("parsed enrollment does not marshal: %v", err)
			}
		}
	})
}

func TestRequireCertificates(t *testing.T) {
	details := &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{}}
	withCert := &model.X509CertificateWithInfo{Certificate: "PEM"}
	x509 := func(client, signing *model.X509Certificates) *model.AttestationMechanism {
		return &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{ClientCertificates: client, SigningCertificates: signing}}
	}
	tests := []struct {
		name           string
		a              *model.AttestationMechanism
		wantEnrollment string
		wantGroup      string
	}{
		{name: "no attestation"},
		{name: "keys", a: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}},
		{name: "certificates given", a: x509(&model.X509Certificates{Primary: withCert}, &model.X509Certificates{Primary: withCert, Secondary: withCert})},
		{name: "primary client details", a: x509(&model.X509Certificates{Primary: details}, nil),
			wantEnrollment: "the enrollment has no certificate for --certificate (the service returns only certificate details); give --certificate"},
		{name: "secondary signing details", a: x509(nil, &model.X509Certificates{Primary: withCert, Secondary: details}),
			wantGroup: "the group has no certificate for --secondary-certificate (the service returns only certificate details); give --secondary-certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				err  error
				want string
			}{
				{enrollments.RequireCertificates(&model.IndividualEnrollment{EnrollmentCommon: model.EnrollmentCommon{Attestation: tt.a}}), tt.wantEnrollment},
				{groups.RequireCertificates(&model.EnrollmentGroup{EnrollmentCommon: model.EnrollmentCommon{Attestation: tt.a}}), tt.wantGroup},
			} {
				var fe *cmdutil.FlagError
				if c.want == "" && c.err != nil || c.want != "" && (!errors.As(c.err, &fe) || c.err.Error() != c.want) {
					t.Errorf("err = %v, want %q", c.err, c.want)
				}
			}
		})
	}
}

func TestCheckUpdate(t *testing.T) {
	errBad := cmdutil.FlagErrorf("bad value")
	tests := []struct {
		name     string
		etag     string
		force    bool
		validate error
		changed  map[string]bool
		want     string
	}{
		{name: "fine", changed: map[string]bool{FlagEdge: true}},
		{name: "etag and force", etag: "E", force: true, validate: errBad, want: "--etag and --force cannot be combined"},
		{name: "invalid before nothing", validate: errBad, want: "bad value"},
		{name: "nothing", want: "nothing to update: give at least one field flag or --from-file"},
	}
	for _, tt := range tests {
		err := CheckUpdate(tt.etag, tt.force, func() error { return tt.validate }, tt.changed)
		var fe *cmdutil.FlagError
		if tt.want == "" && err != nil || tt.want != "" && (!errors.As(err, &fe) || err.Error() != tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestOverlay(t *testing.T) {
	certA := &model.X509CertificateWithInfo{Certificate: "A", Info: &model.X509CertificateInfo{SHA256Thumbprint: "aa"}}
	certB := &model.X509CertificateWithInfo{Certificate: "B", Info: &model.X509CertificateInfo{SHA256Thumbprint: "bb"}}
	currentEnrollment := func() *model.IndividualEnrollment {
		return &model.IndividualEnrollment{
			RegistrationID: "dev-1",
			EnrollmentCommon: model.EnrollmentCommon{
				ETag:               "E1",
				ProvisioningStatus: "enabled",
				Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
					ClientCertificates: &model.X509Certificates{Primary: certA, Secondary: certB}}},
			},
		}
	}
	currentGroup := func(a *model.AttestationMechanism) *model.EnrollmentGroup {
		return &model.EnrollmentGroup{EnrollmentGroupID: "g1", EnrollmentCommon: model.EnrollmentCommon{ETag: "E1", Attestation: a}}
	}
	keys := &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}}
	signing := &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
		SigningCertificates: &model.X509Certificates{Primary: certA, Secondary: certB}}}

	tests := []struct {
		name    string
		run     func(doc string) (any, error)
		doc     string
		want    string
		wantErr string
	}{
		{
			name: "enrollment fields replaced, server fields kept",
			run:  func(doc string) (any, error) { return enrollments.overlay(currentEnrollment(), "f", []byte(doc)) },
			doc:  `{"registrationId":"DEV-1","etag":"E9","provisioningStatus":"disabled","registrationState":{"status":"failed"},"iotHubs":["h"]}`,
			want: `"provisioningStatus":"disabled",`,
		},
		{
			name: "enrollment client certificate details keep the certificate held",
			run:  func(doc string) (any, error) { return enrollments.overlay(currentEnrollment(), "f", []byte(doc)) },
			doc:  `{"attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"info":{"sha256Thumbprint":"zz"}},"secondary":{"certificate":"C"}}}}}`,
			want: `"primary":{"certificate":"A"`,
		},
		{
			name:    "enrollment of another ID",
			run:     func(doc string) (any, error) { return enrollments.overlay(currentEnrollment(), "f", []byte(doc)) },
			doc:     `{"registrationId":"dev-2"}`,
			wantErr: `--from-file f is enrollment "dev-2", not "dev-1"`,
		},
		{
			name:    "group of another ID",
			run:     func(doc string) (any, error) { return groups.overlay(currentGroup(keys), "f", []byte(doc)) },
			doc:     `{"enrollmentGroupId":"g2"}`,
			wantErr: `--from-file f is enrollment group "g2", not "g1"`,
		},
		{
			name: "masked group keys keep the keys held",
			run:  func(doc string) (any, error) { return groups.overlay(currentGroup(keys), "f", []byte(doc)) },
			doc:  `{"attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"***","secondaryKey":"` + key1 + `"}}}`,
			want: `"symmetricKey":{"primaryKey":"` + key1 + `","secondaryKey":"` + key1 + `"}`,
		},
		{
			name: "group signing certificate details keep only the same certificate",
			run:  func(doc string) (any, error) { return groups.overlay(currentGroup(signing), "f", []byte(doc)) },
			doc:  `{"attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"info":{"sha256Thumbprint":"aa"}},"secondary":{"info":{"sha256Thumbprint":"cc"}}}}}}`,
			want: `"signingCertificates":{"primary":{"certificate":"A","info":{"subjectName":"","sha1Thumbprint":"","sha256Thumbprint":"aa",` +
				`"issuerName":"","notBeforeUtc":"","notAfterUtc":"","serialNumber":"","version":0}},"secondary":{"info":{"subjectName":"","sha1Thumbprint":"","sha256Thumbprint":"cc"`,
		},
		{
			name:    "not JSON",
			run:     func(doc string) (any, error) { return groups.overlay(currentGroup(keys), "f", []byte(doc)) },
			doc:     `{"attestation":`,
			wantErr: "--from-file f:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run(tt.doc)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %s\nwant it to contain %s", b, tt.want)
			}
		})
	}

	// Fields the document does not name keep their value; server-owned ones
	// are not taken from it.
	e, err := enrollments.overlay(currentEnrollment(), "f", []byte(`{"etag":"E9","provisioningStatus":"disabled","registrationState":{"status":"failed"}}`))
	if err != nil || e.ETag != "E1" || e.ProvisioningStatus != "disabled" || e.RegistrationState != nil || e.Attestation.X509.ClientCertificates.Primary.Certificate != "A" {
		t.Fatalf("overlay: %+v, %v", e, err)
	}
}

func enrollmentCommon(e model.IndividualEnrollment) model.EnrollmentCommon { return e.EnrollmentCommon }
func groupCommon(g model.EnrollmentGroup) model.EnrollmentCommon           { return g.EnrollmentCommon }

func TestColumns(t *testing.T) {
	e := model.IndividualEnrollment{}
	fill(&e)
	e.CreatedDateTimeUTC = "2025-01-02T03:04:05.1234567Z"
	g := model.EnrollmentGroup{}
	fill(&g)
	g.CreatedDateTimeUTC = "2025-01-02T03:04:05.1234567Z"
	g.InitialTwin.Properties = &model.InitialTwinProperties{Desired: json.RawMessage(`{"d":2}`)}
	cells := func(cols ...[]output.Column[model.IndividualEnrollment]) string {
		var out []string
		for _, cs := range cols {
			for _, c := range cs {
				out = append(out, c.Header+"="+c.Value(e))
			}
		}
		return strings.Join(out, "|")
	}
	got := cells([]output.Column[model.IndividualEnrollment]{TypeColumn(enrollmentCommon)}, AssignmentColumns(enrollmentCommon),
		SettingColumns(enrollmentCommon), VersionColumns(enrollmentCommon),
		[]output.Column[model.IndividualEnrollment]{LastUpdatedColumn(enrollmentCommon)})
	want := "ATTESTATION=x509|STATUS=status|ALLOCATION=allocation|IOT HUBS=hub|WEBHOOK=url (api-version )|REPROVISION=reprovision-and-migrate|" +
		`EDGE=true|TWIN TAGS={"t":1}|TWIN DESIRED=|ETAG=etag|CREATED=2025-01-02T03:04:05Z|LAST UPDATED=updated`
	if got != want {
		t.Errorf("enrollment cells\n got %s\nwant %s", got, want)
	}
	var groupCells []string
	for _, c := range SettingColumns(groupCommon) {
		groupCells = append(groupCells, c.Value(g))
	}
	if got, want := strings.Join(groupCells, "|"), `url (api-version )|reprovision-and-migrate|true|{"t":1}|{"d":2}`; got != want {
		t.Errorf("group cells %s, want %s", got, want)
	}
	var emptyCells []string
	for _, c := range SettingColumns(groupCommon) {
		emptyCells = append(emptyCells, c.Value(model.EnrollmentGroup{}))
	}
	if got := strings.Join(emptyCells, "|"); got != "||false||" {
		t.Errorf("cells of an empty group %q", got)
	}

	keys := KeyColumns(func(a model.AttestationMechanism) *model.AttestationMechanism { return &a })
	a := model.AttestationMechanism{SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}}
	if !keys[0].Secret || !keys[1].Secret || keys[0].Value(a) != key1 || keys[1].Value(a) != key2 || keys[0].Value(model.AttestationMechanism{}) != "" {
		t.Errorf("key columns %+v", keys)
	}
	c := &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{SubjectName: "CN=x", SHA256Thumbprint: "ab", NotAfterUTC: "2030-01-02T03:04:05.0000000Z"}}
	if got := CertificateSummary(Slot(&model.X509Certificates{Secondary: c}, true)); got != "CN=x (SHA-256 ab, expires 2030-01-02T03:04:05Z)" {
		t.Errorf("summary %q", got)
	}
	if CertificateSummary(Slot(nil, false)) != "" || CertificateSummary(&model.X509CertificateWithInfo{Certificate: "PEM"}) != "" {
		t.Error("summary of nothing")
	}
}
