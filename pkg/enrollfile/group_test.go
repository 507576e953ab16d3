package enrollfile

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

var groups = SchemaOf(model.KindGroup)

func TestGroupSchema(t *testing.T) {
	want := "enrollmentGroupId attestation certificate secondaryCertificate primaryKey secondaryKey iotHubs allocationPolicy webhookUrl webhookApiVersion provisioningStatus reprovisionPolicy iotEdge tags desiredProperties"
	if got := strings.Join(groups.Names(), " "); got != want {
		t.Fatalf("group columns:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(SchemaOf(model.KindEnrollment).Names(), " "); got != strings.Join(ColumnNames(), " ") {
		t.Fatalf("enrollment columns changed: %s", got)
	}
	for _, tt := range []struct {
		name string
		col  Column
		ok   bool
	}{
		{"EnrollmentGroupID", RegistrationID, true},
		{"registrationId", 0, false},
		{"deviceId", 0, false},
		{"endorsementKey", 0, false},
		{"certificate", Certificate, true},
	} {
		col, ok := groups.Lookup(tt.name)
		if ok != tt.ok || ok && col != tt.col {
			t.Errorf("Lookup(%q) = %v, %v", tt.name, col, ok)
		}
	}
}

func TestGroupHeaderErrors(t *testing.T) {
	for _, tt := range []struct {
		header, want string
	}{
		{"registrationId,attestation", `g.csv:1: header: "registrationId" is a column of individual enrollment files, not of enrollment group files`},
		{"enrollmentGroupId,attestation,deviceId", `g.csv:1: header: "deviceId" is a column of individual enrollment files`},
		{"enrollmentGroupId,primaryKey", `g.csv:1: header: the required column "attestation" is missing`},
		{"attestation,primaryKey", `g.csv:1: header: the required column "enrollmentGroupId" is missing`},
		{"enrollmentGroupId,atestation", `(did you mean "attestation"?)`},
	} {
		_, err := NewCSVReaderOf(groups, strings.NewReader(tt.header+"\n"), "g.csv")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("header %q: %v; want %q", tt.header, err, tt.want)
		}
	}
	r := NewJSONLReaderOf(groups, strings.NewReader(`{"enrollmentGroupId":"g","attestation":"x509","registrationId":"d"}`+"\n"), "g.jsonl")
	if _, err := r.Next(); err == nil || !strings.HasPrefix(err.Error(), `g.jsonl:1: registrationId: "registrationId" is a column of individual enrollment files`) {
		t.Errorf("JSONL member of the other kind: %v", err)
	}
}

// TestGroupRows checks group rows: each problem is FILE:LINE: column:
// reason, with the group's column names.
func TestGroupRows(t *testing.T) {
	ca := certstest.New(t)
	dev := ca.Device(t, "dev-1")
	dir := filepath.Dir(ca.IntermediateCertPath)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	tests := []struct {
		name string
		row  string
		want []string // errors; none means the row is good
		test func(t *testing.T, g *model.EnrollmentGroup)
	}{
		{name: "symmetric key", row: "sym-group,symmetricKey,,," + key + ",,hub.example,static,,,disabled,never,true,\"{\"\"site\"\":\"\"a\"\"}\",",
			test: func(t *testing.T, g *model.EnrollmentGroup) {
				if g.EnrollmentGroupID != "sym-group" || g.Attestation.SymmetricKey.PrimaryKey != key || g.ProvisioningStatus != "disabled" ||
					g.AllocationPolicy != "static" || !g.Capabilities.IoTEdge || string(g.InitialTwin.Tags) != `{"site":"a"}` {
					t.Errorf("group %+v", g)
				}
			}},
		{name: "signing certificate", row: "x-group,x509," + filepath.Base(ca.IntermediateCertPath) + ",,,,,,,,,,,,",
			test: func(t *testing.T, g *model.EnrollmentGroup) {
				x := g.Attestation.X509
				if x == nil || x.SigningCertificates == nil || x.SigningCertificates.Primary == nil || x.ClientCertificates != nil {
					t.Errorf("attestation %+v", x)
				}
			}},
		{name: "a device certificate cannot sign", row: "x-group,x509," + dev.CertPath + ",,,,,,,,,,,,",
			want: []string{"g.csv:2: certificate: certificate CN=dev-1 cannot sign the group's device certificates"}},
		{name: "no TPM groups", row: "t-group,tpm,,,,,,,,,,,,,",
			want: []string{"g.csv:2: attestation: an enrollment group takes x509 or symmetricKey attestation"}},
		{name: "bad ID and key", row: "bad id!,symmetricKey,,,not-base64,,,,,,,,,,",
			want: []string{"g.csv:2: enrollmentGroupId: ", "g.csv:2: primaryKey: "}},
		{name: "missing ID", row: ",symmetricKey,,,,,,,,,,,,,",
			want: []string{"g.csv:2: enrollmentGroupId: required"}},
		{name: "key column on an X.509 group", row: "x-group,x509," + filepath.Base(ca.IntermediateCertPath) + ",," + key + ",,,,,,,,,,",
			want: []string{"g.csv:2: primaryKey: only symmetricKey attestation takes this column"}},
	}
	header := strings.Join(groups.Names(), ",")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := NewCSVReaderOf(groups, strings.NewReader(header+"\n"+tt.row+"\n"), "g.csv")
			if err != nil {
				t.Fatal(err)
			}
			rec, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			c := &Checker{File: "g.csv", Dir: dir, Kind: model.KindGroup, Now: time.Now}
			ent, errs := c.CheckEntity(rec)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v; want %d like %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d: %v; want it to start with %q", i, errs[i], w)
				}
			}
			if tt.test != nil {
				tt.test(t, ent.(*model.EnrollmentGroup))
			}
		})
	}
}

// TestGroupRoundTrip writes groups as an export does and reads them back
// in both formats.
func TestGroupRoundTrip(t *testing.T) {
	ca := certstest.New(t)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	in := []*model.EnrollmentGroup{
		{EnrollmentGroupID: "sym", EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}},
			IoTHubs:     []string{"a.example", "b.example"}, AllocationPolicy: model.AllocationHashed,
			ReprovisionPolicy: &model.ReprovisionPolicy{UpdateHubAssignment: true},
			InitialTwin:       &model.InitialTwin{Tags: []byte(`{"x": 1}`)},
		}},
		{EnrollmentGroupID: "x", EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
				SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(ca.Intermediate.Cert)}},
			}},
		}},
	}
	keys := map[string]*model.SymmetricKeyAttestation{"sym": {PrimaryKey: key, SecondaryKey: key}}
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriterOf(groups, f, &buf)
			for _, g := range in {
				if err := w.Write(FromEntity(g, keys[g.EnrollmentGroupID])); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "registrationId") || strings.Contains(buf.String(), "deviceId") {
				t.Fatalf("enrollment columns in a group file:\n%s", buf.String())
			}
			pem := certs.EncodePEM(ca.Intermediate.Cert)
			esc, _ := json.Marshal(pem)
			out := strings.ReplaceAll(buf.String(), pem, "<PEM>")
			out = strings.ReplaceAll(out, string(esc[1:len(esc)-1]), "<PEM>")
			golden(t, "groups."+string(f), out)
			rd, err := NewReaderOf(groups, f, &buf, "g")
			if err != nil {
				t.Fatal(err)
			}
			c := &Checker{File: "g", Kind: model.KindGroup}
			for i, want := range in {
				rec, err := rd.Next()
				if err != nil {
					t.Fatal(err)
				}
				ent, errs := c.CheckEntity(rec)
				if len(errs) > 0 {
					t.Fatalf("row %d: %v", i, errs)
				}
				g := ent.(*model.EnrollmentGroup)
				if g.EnrollmentGroupID != want.EnrollmentGroupID || g.Attestation.Type != want.Attestation.Type {
					t.Fatalf("row %d: %+v", i, g)
				}
				if i == 0 && (g.Attestation.SymmetricKey.PrimaryKey != key || strings.Join(g.IoTHubs, ";") != "a.example;b.example" ||
					g.ReprovisionPolicy.MigrateDeviceData || string(g.InitialTwin.Tags) != `{"x":1}`) {
					t.Fatalf("row %d: %+v", i, g)
				}
			}
		})
	}
}

// FuzzReadGroupFile reads arbitrary bytes as a group file, in both formats,
// and checks every row read: nothing panics, records come in line order,
// only group columns are set, and every problem names the file and line.
func FuzzReadGroupFile(f *testing.F) {
	f.Add([]byte("enrollmentGroupId,attestation,primaryKey,tags\ng-1,symmetricKey,AAAAAAAAAAAAAAAAAAAAAA==,\"{\"\"a\"\":1}\"\n"), false)
	f.Add([]byte("enrollmentGroupId,attestation,certificate\ng,x509,sha256:00\nG,tpm,\n"), false)
	f.Add([]byte(`{"enrollmentGroupId":"g","attestation":"x509","certificate":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"}`+"\n"+`{"registrationId":"d"}`+"\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		format := FormatCSV
		if jsonl {
			format = FormatJSONL
		}
		r, err := NewReaderOf(groups, format, bytes.NewReader(data), "g")
		if err != nil {
			return
		}
		c := &Checker{File: "g", Kind: model.KindGroup, Dir: t.TempDir()}
		last := 0
		for range 10000 {
			rec, err := r.Next()
			if err != nil {
				if IsRowError(err) {
					if !strings.HasPrefix(err.Error(), "g:") {
						t.Fatalf("row error without the file: %v", err)
					}
					continue
				}
				return
			}
			if rec.Line < last || rec.Line < 1 {
				t.Fatalf("line %d after %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Get(EndorsementKey) != "" || rec.Get(DeviceID) != "" {
				t.Fatalf("a group row with enrollment columns: %q", rec.Values)
			}
			ent, errs := c.CheckEntity(rec)
			for _, e := range errs {
				if e.File != "g" || e.Line != rec.Line {
					t.Fatalf("problem %v on line %d", e, rec.Line)
				}
			}
			if _, ok := ent.(*model.EnrollmentGroup); !ok {
				t.Fatalf("CheckEntity made a %T", ent)
			}
		}
	})
}
