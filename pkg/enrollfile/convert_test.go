package enrollfile

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// writeDevice writes a self-signed device certificate with CN cn, valid
// from nb to na, to dir/name.
func writeDevice(t *testing.T, dir, name, cn string, nb, na time.Time) *certs.Pair {
	t.Helper()
	p, err := certs.NewDevice(nil, cn, certs.Options{NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteCertificates(filepath.Join(dir, name), []*x509.Certificate{p.Cert}, true); err != nil {
		t.Fatal(err)
	}
	return p
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// checkFile reads a CSV text, checks every row and runs the duplicate
// pass, returning the problems in the order an import reports them.
func checkFile(t *testing.T, text, dir string) []string {
	t.Helper()
	var out []string
	c := &Checker{File: "enrollments.csv", Dir: dir, Now: func() time.Time { return testNow }}
	r, err := NewCSVReader(strings.NewReader(text), c.File)
	if err != nil {
		t.Fatal(err)
	}
	dups := NewDuplicateIndex()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !IsRowError(err) {
				t.Fatal(err)
			}
			out = append(out, err.Error())
			continue
		}
		if rec.Get(RegistrationID) != "" {
			dups.Add(rec.Get(RegistrationID))
		}
		_, errs := c.Check(rec)
		for _, e := range errs {
			out = append(out, e.Error())
		}
	}
	if dc := dups.Checker(); dc != nil {
		r, _ := NewCSVReader(strings.NewReader(text), c.File)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			if e := dc.Check(c.File, rec.Line, rec.Get(RegistrationID)); e != nil {
				out = append(out, e.Error())
			}
		}
	}
	return out
}

// TestCheckErrors is the catalogue of row problems and how they read.
func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	valid := testNow.Add(-24 * time.Hour)
	writeDevice(t, certDir, "dev-x509.pem", "dev-x509", valid, valid.Add(365*24*time.Hour))
	writeDevice(t, certDir, "other.pem", "someone-else", valid, valid.Add(365*24*time.Hour))
	writeDevice(t, certDir, "old.pem", "dev-old", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	inline := writeDevice(t, certDir, "inline.pem", "dev-inline", valid, valid.Add(365*24*time.Hour))
	inline2 := writeDevice(t, certDir, "inline2.pem", "dev-inline2", valid, valid.Add(365*24*time.Hour))
	if err := os.WriteFile(filepath.Join(certDir, "garbage.pem"), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 65)
	ek := enrollfiletest.SampleEK
	rows := []string{
		"registrationId,attestation,endorsementKey,certificate,primaryKey,secondaryKey,deviceId,iotHubs,allocationPolicy,webhookUrl,webhookApiVersion,provisioningStatus,reprovisionPolicy,iotEdge,tags,desiredProperties",
		"dev-tpm,tpm," + ek + ",,,,,,,,,,,,,",
		"dev-x509,x509,,certs/dev-x509.pem,,,,,,,,,,,,",
		"dev-inline,x509,," + strings.ReplaceAll(certs.EncodePEM(inline.Cert), "\n", `\n`) + ",,,,,,,,,,,,",
		"dev-sym,symmetricKey,,,MDEyMzQ1Njc4OWFiY2RlZg==,,dev-sym!,hub1.example;hub2.example,hashed,,,disabled,never,true,\"{\"\"site\"\":\"\"lab\"\"}\",{}",
		",tpm," + ek + ",,,,,,,,,,,,,",
		"dev 1,symmetric-key,,,,,,,,,,,,,,",
		"dev-no-att,,,,,,,,,,,,,,,",
		"dev-psk,psk,,,,,,,,,,,,,,",
		"dev-tpm-no-ek,tpm,,,,,,,,,,,,,,",
		"dev-tpm-bad-ek,tpm,AAAA,,,,,,,,,,,,,",
		"dev-tpm-key,TPM," + ek + ",,MDEyMzQ1Njc4OWFiY2RlZg==,,,,,,,,,,,",
		"dev-x509-none,x509,,,,,,,,,,,,,,",
		"dev-missing,x509,,certs/missing.pem,,,,,,,,,,,,",
		"dev-x509b,x509,,certs/other.pem,,,,,,,,,,,,",
		"dev-old,x509,,certs/old.pem,,,,,,,,,,,,",
		long + ",x509,,certs/dev-x509.pem,,,,,,,,,,,,",
		"dev-garbage,x509,,certs/garbage.pem,,,,,,,,,,,,",
		"dev-bad-pem,x509,," + csvQuote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----") + ",,,,,,,,,,,,",
		"dev-key-b64,symmetricKey,,,not base64!,,,,,,,,,,,",
		"dev-key-short,symmetricKey,,,c2hvcnQ=,***,,,,,,,,,,",
		"dev-device-id,symmetricKey,,,,,dev/1,,,,,,,,,",
		"dev-hubs,symmetricKey,,,,,,hub1.example;bad host;HUB1.example;a_b,,,,,,,,",
		"dev-static,symmetricKey,,,,,,hub1.example;hub2.example,static,,,,,,,",
		"dev-static-none,symmetricKey,,,,,,,Static,,,,,,,",
		"dev-custom,symmetricKey,,,,,,,custom,,,,,,,",
		"dev-custom-url,symmetricKey,,,,,,,custom,ftp://hook,,,,,,",
		"dev-hook,symmetricKey,,,,,,,hashed,https://hook.example/x,2021-10-01,,,,,",
		"dev-policy,symmetricKey,,,,,,,round-robin,,,,,,,",
		"dev-status,symmetricKey,,,,,,,,,,on,,,,",
		"dev-reprov,symmetricKey,,,,,,,,,,,always,,,",
		"dev-edge,symmetricKey,,,,,,,,,,,,maybe,,",
		"dev-tags,symmetricKey,,,,,,,,,,,,,[1],",
		"dev-props,symmetricKey,,,,,,,,,,,,,,\"{\"\"a\"\":}\"",
		"DEV-TPM,tpm," + ek + ",,,,,,,,,,,,,",
		"dev-short,tpm",
		"dev-x509,symmetricKey,,,,,,,,,,,,,,",
		// a quoted certificate over several lines, last so its length moves no line number
		"dev-inline2,x509,," + csvQuote(certs.EncodePEM(inline2.Cert)) + ",,,,,,,,,,,,",
	}
	got := checkFile(t, strings.Join(rows, "\n")+"\n", dir)
	golden(t, "check_errors.golden", strings.ReplaceAll(strings.Join(got, "\n")+"\n", dir, "$DIR"))
}

func TestCheckBuildsEnrollments(t *testing.T) {
	dir := t.TempDir()
	valid := testNow.Add(-time.Hour)
	dev := writeDevice(t, filepath.Join(dir, "certs"), "dev-x509.pem", "dev-x509", valid, valid.Add(48*time.Hour))
	devPEM := certs.EncodePEM(dev.Cert)
	ecc := enrollfiletest.NewEK()
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(enrollfiletest.SampleEK, "="))
	rec := func(kv ...string) *Record {
		r := &Record{Line: 2}
		for i := 0; i < len(kv); i += 2 {
			c, ok := LookupColumn(kv[i])
			if !ok {
				t.Fatalf("no column %s", kv[i])
			}
			r.Set(c, kv[i+1])
		}
		return r
	}
	tests := []struct {
		name string
		rec  *Record
		want string // JSON of the enrollment
	}{
		{"tpm rsa", rec("registrationId", "dev-1", "attestation", "tpm", "endorsementKey", enrollfiletest.SampleEK),
			`{"registrationId":"dev-1","attestation":{"type":"tpm","tpm":{"endorsementKey":"` + enrollfiletest.SampleEK + `"}}}`},
		{"tpm ecc", rec("registrationId", "dev-1", "attestation", "TPM", "endorsementKey", ecc),
			`{"registrationId":"dev-1","attestation":{"type":"tpm","tpm":{"endorsementKey":"` + ecc + `"}}}`},
		{"tpm url-safe base64 made canonical", rec("registrationId", "dev-1", "attestation", "tpm", "endorsementKey", urlSafe),
			`{"registrationId":"dev-1","attestation":{"type":"tpm","tpm":{"endorsementKey":"` + enrollfiletest.SampleEK + `"}}}`},
		{"x509 file", rec("registrationId", "dev-x509", "attestation", "x509", "certificate", "certs/dev-x509.pem"),
			`{"registrationId":"dev-x509","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":` + jsonString(devPEM) + `}}}}}`},
		{"x509 inline PEM with \\n escapes", rec("registrationId", "dev-x509", "attestation", "x509", "certificate", strings.ReplaceAll(devPEM, "\n", `\n`)),
			`{"registrationId":"dev-x509","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":` + jsonString(devPEM) + `}}}}}`},
		{"x509 inline base64 DER and a thumbprint", rec("registrationId", "dev-x509", "attestation", "x509", "certificate", base64.StdEncoding.EncodeToString(dev.Cert.Raw), "secondaryCertificate", "SHA256:"+strings.ToLower(certs.Info(dev.Cert).SHA256Thumbprint)),
			`{"registrationId":"dev-x509","attestation":{"type":"x509","x509":{"clientCertificates":{"primary":{"certificate":"` + base64.StdEncoding.EncodeToString(dev.Cert.Raw) + `"},"secondary":{"info":{"subjectName":"","sha1Thumbprint":"","sha256Thumbprint":"` + certs.Info(dev.Cert).SHA256Thumbprint + `","issuerName":"","notBeforeUtc":"","notAfterUtc":"","serialNumber":"","version":0}}}}}}`},
		{"symmetric key, CLI spelling, every field", rec("registrationId", "dev-1", "attestation", "symmetric-key",
			"primaryKey", "MDEyMzQ1Njc4OWFiY2RlZg==", "deviceId", "device-one", "iotHubs", " hub1.example ; hub2.example;",
			"allocationPolicy", "GEOLATENCY", "provisioningStatus", "Disabled", "reprovisionPolicy", "reprovisionandresetdata",
			"iotEdge", "yes", "tags", `{ "site": "lab" }`, "desiredProperties", `{"interval":5}`),
			`{"registrationId":"dev-1","deviceId":"device-one","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"MDEyMzQ1Njc4OWFiY2RlZg=="}},"capabilities":{"iotEdge":true},"initialTwin":{"tags":{"site":"lab"},"properties":{"desired":{"interval":5}}},"provisioningStatus":"disabled","reprovisionPolicy":{"updateHubAssignment":true,"migrateDeviceData":false},"allocationPolicy":"geoLatency","iotHubs":["hub1.example","hub2.example"]}`},
		{"custom allocation with default API version", rec("registrationId", "dev-1", "attestation", "symmetricKey", "allocationPolicy", "custom", "webhookUrl", "https://hook.example/alloc"),
			`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{}},"allocationPolicy":"custom","customAllocationDefinition":{"webhookUrl":"https://hook.example/alloc","apiVersion":"2019-03-31"}}`},
		{"static with its hub, keep-hub-migrate-data", rec("registrationId", "dev-1", "attestation", "symmetricKey", "allocationPolicy", "static", "iotHubs", "hub1.example", "reprovisionPolicy", "keep-hub-migrate-data"),
			`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{}},"reprovisionPolicy":{"updateHubAssignment":false,"migrateDeviceData":true},"allocationPolicy":"static","iotHubs":["hub1.example"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{File: "f.csv", Dir: dir, Now: func() time.Time { return testNow }}
			e, errs := c.Check(tt.rec)
			if len(errs) > 0 {
				t.Fatalf("Check: %v", errs)
			}
			if got := mustJSON(t, e); got != tt.want {
				t.Errorf("Check\n got %s\nwant %s", got, tt.want)
			}
			b, err := c.Build(tt.rec)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !reflect.DeepEqual(b, e) {
				t.Errorf("Build differs from Check:\n%s\n%s", mustJSON(t, b), mustJSON(t, e))
			}
		})
	}
}

func TestIDsOnly(t *testing.T) {
	c := &Checker{File: "f.csv", IDsOnly: true}
	r := &Record{Line: 4}
	r.Set(RegistrationID, "dev-1")
	r.Set(Attestation, "nonsense")
	if e, errs := c.Check(r); len(errs) > 0 || e.RegistrationID != "dev-1" || e.Attestation != nil {
		t.Fatalf("%+v %v", e, errs)
	}
	r.Set(RegistrationID, "dev/1")
	if _, errs := c.Check(r); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "f.csv:4: registrationId: ID has the character '/'") {
		t.Fatalf("%v", errs)
	}
}

func TestFromEnrollmentRoundTrip(t *testing.T) {
	dir := t.TempDir()
	valid := testNow.Add(-time.Hour)
	dev := writeDevice(t, dir, "dev-x509.pem", "dev-x509", valid, valid.Add(48*time.Hour))
	info := certs.Info(dev.Cert)
	tests := []struct {
		name string
		e    model.IndividualEnrollment
		keys *model.SymmetricKeyAttestation
		want map[Column]string
	}{
		{"symmetric key with keys and everything", model.IndividualEnrollment{
			RegistrationID: "dev-1",
			DeviceID:       "d1",
			EnrollmentCommon: model.EnrollmentCommon{
				ETag:                       "x",
				CreatedDateTimeUTC:         "t",
				Attestation:                &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
				Capabilities:               &model.DeviceCapabilities{IoTEdge: true},
				InitialTwin:                &model.InitialTwin{Tags: json.RawMessage(`{ "a" : 1 }`), Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"b":2}`)}},
				ProvisioningStatus:         "enabled",
				ReprovisionPolicy:          &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true},
				AllocationPolicy:           "custom",
				IoTHubs:                    []string{"h1.example", "h2.example"},
				CustomAllocationDefinition: &model.CustomAllocationDefinition{WebhookURL: "https://w.example", APIVersion: "2021-10-01"},
			},
		}, &model.SymmetricKeyAttestation{PrimaryKey: "MDEyMzQ1Njc4OWFiY2RlZg==", SecondaryKey: "ZmVkY2JhOTg3NjU0MzIxMA=="},
			map[Column]string{RegistrationID: "dev-1", Attestation: "symmetricKey", PrimaryKey: "MDEyMzQ1Njc4OWFiY2RlZg==", SecondaryKey: "ZmVkY2JhOTg3NjU0MzIxMA==",
				DeviceID: "d1", IoTHubs: "h1.example;h2.example", AllocationPolicy: "custom", WebhookURL: "https://w.example", WebhookAPIVersion: "2021-10-01",
				ProvisioningStatus: "enabled", ReprovisionPolicy: "reprovision-and-migrate", IoTEdge: "true", Tags: `{"a":1}`, DesiredProperties: `{"b":2}`}},
		{"tpm", model.IndividualEnrollment{
			RegistrationID: "dev-2",
			EnrollmentCommon: model.EnrollmentCommon{
				Attestation:       &model.AttestationMechanism{Type: "tpm", TPM: &model.TPMAttestation{EndorsementKey: enrollfiletest.SampleEK}},
				Capabilities:      &model.DeviceCapabilities{},
				ReprovisionPolicy: &model.ReprovisionPolicy{},
			},
		},
			nil, map[Column]string{RegistrationID: "dev-2", Attestation: "tpm", EndorsementKey: enrollfiletest.SampleEK, ReprovisionPolicy: "never"}},
		{"x509 exports a thumbprint", model.IndividualEnrollment{
			RegistrationID: "dev-x509",
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: "x509",
				X509: &model.X509Attestation{ClientCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Info: &info}}}}},
		},
			nil, map[Column]string{RegistrationID: "dev-x509", Attestation: "x509", Certificate: "sha256:" + info.SHA256Thumbprint}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := FromEnrollment(&tt.e, tt.keys)
			var want [NumColumns]string
			for c, v := range tt.want {
				want[c] = v
			}
			if r.Values != want {
				t.Fatalf("\n got %q\nwant %q", r.Values, want)
			}
			// The exported record imports cleanly.
			r.Line = 2
			c := &Checker{File: "export.csv", Now: func() time.Time { return testNow }}
			if _, errs := c.Check(r); len(errs) > 0 {
				t.Fatalf("exported record does not check: %v", errs)
			}
		})
	}
}

func TestDuplicateChecker(t *testing.T) {
	d := NewDuplicateIndex()
	for _, id := range []string{"a", "b", "c"} {
		d.Add(id)
	}
	if d.Checker() != nil {
		t.Fatal("no duplicates, but a checker")
	}
	d = NewDuplicateIndex()
	for _, id := range []string{"a", "B", "b", "c", "b"} {
		d.Add(id)
	}
	c := d.Checker()
	if c == nil {
		t.Fatal("duplicates not found")
	}
	var got []string
	for i, id := range []string{"a", "B", "b", "c", "b"} {
		if e := c.Check("f", i+2, id); e != nil {
			got = append(got, e.Error())
		}
	}
	want := []string{
		`f:4: registrationId: "b" is a duplicate of line 3 (IDs compare ignoring case)`,
		`f:6: registrationId: "b" is a duplicate of line 3 (IDs compare ignoring case)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q", got)
	}
	// A hash collision is a suspect only: distinct IDs are not reported.
	forced := &DuplicateChecker{idx: d, suspects: map[uint64]bool{d.hash("x"): true, d.hash("y"): true}, first: map[string]int{}}
	for i, id := range []string{"x", "y"} {
		if e := forced.Check("f", i+1, id); e != nil {
			t.Fatalf("distinct IDs reported: %v", e)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
