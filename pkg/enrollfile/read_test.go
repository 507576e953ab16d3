package enrollfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll reads every record and row error of a file.
func readAll(t testing.TB, r Reader) (recs []*Record, rowErrs []string, err error) {
	t.Helper()
	for range 1 << 20 {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, rowErrs, nil
		}
		if err != nil {
			if IsRowError(err) {
				rowErrs = append(rowErrs, err.Error())
				continue
			}
			return recs, rowErrs, err
		}
		recs = append(recs, rec)
	}
	t.Fatal("reader did not end")
	return nil, nil, nil
}

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // error; "" for success
		cols     []Column
	}{
		{"minimal", "registrationId,attestation\n", "", []Column{RegistrationID, Attestation}},
		{"any order and case, BOM, spaces", "\ufeffAttestation , REGISTRATIONID,tags\n", "", []Column{Attestation, RegistrationID, Tags}},
		{"comment before header", "# enrollments\nregistrationId,attestation\n", "", []Column{RegistrationID, Attestation}},
		{"empty file", "", "f.csv: the file is empty; it needs a header row naming the columns (registrationId, attestation, endorsementKey, …)", nil},
		{"unknown column with suggestion", "registrationId,attestation,iotHub\n", `f.csv:1: header: unknown column "iotHub" (did you mean "iotHubs"?); the columns are registrationId, attestation, endorsementKey, certificate, secondaryCertificate, primaryKey, secondaryKey, deviceId, iotHubs, allocationPolicy, webhookUrl, webhookApiVersion, provisioningStatus, reprovisionPolicy, iotEdge, tags, desiredProperties`, nil},
		{"unknown column far from any", "registrationId,attestation,colour\n", `f.csv:1: header: unknown column "colour"; the columns are registrationId, attestation, endorsementKey, certificate, secondaryCertificate, primaryKey, secondaryKey, deviceId, iotHubs, allocationPolicy, webhookUrl, webhookApiVersion, provisioningStatus, reprovisionPolicy, iotEdge, tags, desiredProperties`, nil},
		{"missing required", "registrationId,endorsementKey\n", `f.csv:1: header: the required column "attestation" is missing`, nil},
		{"twice", "registrationId,attestation,registrationid\n", `f.csv:1: header: column "registrationId" appears twice (fields 1 and 3)`, nil},
		{"empty name", "registrationId,,attestation\n", "f.csv:1: header: column 2 has no name", nil},
		{"bad quoting", "registrationId,\"attestation\n", "f.csv: header: a quoted field is not closed (extraneous or missing \")", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCSVReader(strings.NewReader(tt.in), "f.csv")
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Fatalf("error\n got %v\nwant %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Columns(); !equalCols(got, tt.cols) {
				t.Fatalf("columns %v, want %v", got, tt.cols)
			}
		})
	}
}

func equalCols(a, b []Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCSVRows(t *testing.T) {
	in := "registrationId,attestation,tags\n" +
		"dev-1, tpm ,\n" +
		"# a comment\n" +
		"\n" +
		"dev-2,x509,\"{\"\"a\"\":\n1}\"\n" + // a quoted field over two lines
		"dev-3,x509\n" + // too few fields
		"dev-4,sym\"bol,\n" + // bare quote
		"dev-5,symmetricKey,{}\n"
	r, err := NewCSVReader(strings.NewReader(in), "f.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, rowErrs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line      int
		id, att   string
		tags      string
		untouched bool
	}{
		{2, "dev-1", "tpm", "", false},
		{5, "dev-2", "x509", "{\"a\":\n1}", false},
		{9, "dev-5", "symmetricKey", "{}", false},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Line != w.line || r.Get(RegistrationID) != w.id || r.Get(Attestation) != w.att || r.Get(Tags) != w.tags {
			t.Errorf("record %d = line %d %q %q %q, want %+v", i, r.Line, r.Get(RegistrationID), r.Get(Attestation), r.Get(Tags), w)
		}
	}
	wantErrs := []string{
		"f.csv:7: the row has 2 fields; the header (line 1) has 3",
		`f.csv:8: a quote (") inside an unquoted field (character 10 of the line); quote the whole field and double the inner quotes`,
	}
	if strings.Join(rowErrs, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("row errors\n got %q\nwant %q", rowErrs, wantErrs)
	}
}

func TestJSONLRows(t *testing.T) {
	in := `{"registrationId":"dev-1","attestation":"tpm","iotHubs":["a.example","b.example"],"iotEdge":true,"tags":{"x": 1}}` + "\n" +
		"\n" +
		`{"registrationId":"dev-2","attestation":"x509","iotHubs":"a.example;b.example","iotEdge":"false","tags":"{\"x\":1}"}` + "\n" +
		`not json` + "\n" +
		`{"registrationId":"dev-3","colour":"red"}` + "\n" +
		`{"registrationId":"dev-4","attestation":7}` + "\n" +
		`{"registrationId":"dev-5","registrationID":"x"}` + "\n" +
		`{"registrationId":"dev-6"} {}` + "\n" +
		`{"registrationId":"dev-7","attestation":"symmetricKey","deviceId":null}`
	recs, rowErrs, err := readAll(t, NewJSONLReader(strings.NewReader(in), "f.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records", len(recs))
	}
	for _, r := range recs[:2] {
		if r.Get(IoTHubs) != "a.example;b.example" {
			t.Errorf("line %d: iotHubs %q", r.Line, r.Get(IoTHubs))
		}
	}
	if recs[0].Get(IoTEdge) != "true" || recs[0].Get(Tags) != `{"x":1}` || recs[1].Get(Tags) != `{"x":1}` {
		t.Errorf("values: %q %q %q", recs[0].Get(IoTEdge), recs[0].Get(Tags), recs[1].Get(Tags))
	}
	if recs[0].Line != 1 || recs[1].Line != 3 || recs[2].Line != 9 {
		t.Errorf("lines %d %d %d", recs[0].Line, recs[1].Line, recs[2].Line)
	}
	wantErrs := []string{
		"f.jsonl:4: want a JSON object ({…}) on each line",
		`f.jsonl:5: colour: unknown column "colour"; the columns are registrationId, attestation, endorsementKey, certificate, secondaryCertificate, primaryKey, secondaryKey, deviceId, iotHubs, allocationPolicy, webhookUrl, webhookApiVersion, provisioningStatus, reprovisionPolicy, iotEdge, tags, desiredProperties`,
		"f.jsonl:6: attestation: want a string, not 7",
		"f.jsonl:7: registration", // either spelling is named
		"f.jsonl:8: more than one JSON value on the line",
	}
	if len(rowErrs) != len(wantErrs) {
		t.Fatalf("row errors %q", rowErrs)
	}
	for i := range wantErrs {
		if !strings.HasPrefix(rowErrs[i], wantErrs[i]) {
			t.Errorf("row error %d\n got %s\nwant %s", i, rowErrs[i], wantErrs[i])
		}
	}
}

func TestJSONLLongLine(t *testing.T) {
	in := `{"registrationId":"` + strings.Repeat("a", MaxJSONLLine) + "\"}\n" + `{"registrationId":"ok","attestation":"tpm"}` + "\n"
	recs, rowErrs, err := readAll(t, NewJSONLReader(strings.NewReader(in), "f.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Line != 2 || len(rowErrs) != 1 || !strings.HasPrefix(rowErrs[0], "f.jsonl:1: the line is longer than") {
		t.Fatalf("records %v, errors %q", recs, rowErrs)
	}
}

func TestRowErrorFormat(t *testing.T) {
	tests := []struct {
		e    RowError
		want string
	}{
		{RowError{File: "a.csv", Line: 3, Column: "certificate", Err: errors.New("expired")}, "a.csv:3: certificate: expired"},
		{RowError{File: "-", Line: 12, Err: errors.New("the row has 2 fields")}, "-:12: the row has 2 fields"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	rec := &Record{}
	rec.Set(RegistrationID, "dev-1")
	rec.Set(Attestation, "x509")
	rec.Set(Certificate, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	rec.Set(IoTHubs, "a.example;b.example")
	rec.Set(IoTEdge, "true")
	rec.Set(Tags, `{"site":"lab, \"north\""}`)
	rec.Set(DesiredProperties, `{"n":1}`)
	hash := &Record{}
	hash.Set(RegistrationID, "#not-a-comment")
	hash.Set(Attestation, "tpm")
	// Cells a spreadsheet would take for formulas, and cells that look
	// escaped already.
	formula := &Record{}
	formula.Set(RegistrationID, "-dev-2")
	formula.Set(Attestation, "symmetricKey")
	formula.Set(PrimaryKey, "+MDEyMzQ1Njc4OWFiY2RlZg==")
	formula.Set(SecondaryKey, "'=not-a-key")
	formula.Set(DeviceID, `=HYPERLINK("http://x.example","x")`)
	formula.Set(IoTHubs, "@SUM(1)")
	formula.Set(WebhookURL, "=1+1")
	formula.Set(WebhookAPIVersion, "''")
	formula.Set(ProvisioningStatus, "'")
	formula.Set(ReprovisionPolicy, "'-")
	formula.Set(Tags, `{"x":"=1"}`)
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		var buf bytes.Buffer
		w := NewWriter(f, &buf)
		for _, r := range []*Record{rec, hash, formula} {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rd, err := NewReader(f, bytes.NewReader(buf.Bytes()), "f")
		if err != nil {
			t.Fatal(err)
		}
		got, rowErrs, err := readAll(t, rd)
		if err != nil || len(rowErrs) > 0 || len(got) != 3 {
			t.Fatalf("%s: %v %q %d records\n%s", f, err, rowErrs, len(got), buf.String())
		}
		for i, want := range []*Record{rec, hash, formula} {
			if got[i].Values != want.Values {
				t.Errorf("%s: record %d\n got %q\nwant %q", f, i, got[i].Values, want.Values)
			}
		}
	}
}

// FuzzReadCSV reads arbitrary bytes as an enrollment CSV file: the reader
// must not panic or loop, lines must not go backwards, and whatever it
// reads must survive being written and read again.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("registrationId,attestation,tags\ndev-1,tpm,\"{\"\"a\"\":1}\"\n"))
	f.Add([]byte("\ufeffattestation,registrationId\n# c\nx509,dev\n\"unterminated,\n"))
	f.Add([]byte("registrationId,attestation\n\"a\"b,c\nd\n,,\n"))
	f.Add([]byte("registrationId,attestation,iotHubs\n#x,tpm,a;b\n\" #y\",tpm,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewCSVReader(bytes.NewReader(data), "f.csv")
		if err != nil {
			return
		}
		recs, _, err := readAll(t, r)
		if err != nil {
			return
		}
		last := 0
		for _, rec := range recs {
			if rec.Line < last || rec.Line < 1 {
				t.Fatalf("line %d after %d", rec.Line, last)
			}
			last = rec.Line
		}
		var buf bytes.Buffer
		w := NewCSVWriter(&buf, r.Columns()...)
		w.WriteHeader()
		for _, rec := range recs {
			w.Write(rec)
		}
		w.Flush()
		r2, err := NewCSVReader(&buf, "again.csv")
		if err != nil {
			t.Fatalf("reading back: %v\n%q", err, buf.String())
		}
		again, rowErrs, err := readAll(t, r2)
		if err != nil || len(rowErrs) > 0 || len(again) != len(recs) {
			t.Fatalf("reading back: %v %q: %d records, want %d\n%q", err, rowErrs, len(again), len(recs), buf.String())
		}
		for i := range recs {
			if again[i].Values != recs[i].Values {
				t.Fatalf("record %d changed:\n%q\n%q", i, recs[i].Values, again[i].Values)
			}
		}
	})
}

// FuzzReadJSONL reads arbitrary bytes as JSON Lines, with the same
// properties as FuzzReadCSV (JSON object columns compared compacted).
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"registrationId":"dev-1","attestation":"tpm","iotHubs":["a","b"],"iotEdge":true,"tags":{"a":1}}` + "\n\n{\"x\":1}\n"))
	f.Add([]byte(`{"registrationId":"d","tags":"{ \"a\" : 1 }","iotHubs":"a; b;;c"}` + "\nnull\n[1]\n"))
	f.Add([]byte(`{"registrationId":"d","iotEdge":"yes","desiredProperties":{"x":[1,{"y":null}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := readAll(t, NewJSONLReader(bytes.NewReader(data), "f.jsonl"))
		if err != nil {
			t.Fatalf("JSONL reader failed on in-memory input: %v", err)
		}
		last := 0
		for _, rec := range recs {
			if rec.Line <= last {
				t.Fatalf("line %d after %d", rec.Line, last)
			}
			last = rec.Line
		}
		var buf bytes.Buffer
		w := NewJSONLWriter(&buf)
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		again, rowErrs, err := readAll(t, NewJSONLReader(&buf, "again.jsonl"))
		if err != nil || len(rowErrs) > 0 || len(again) != len(recs) {
			t.Fatalf("reading back: %v %q: %d records, want %d\n%s", err, rowErrs, len(again), len(recs), buf.String())
		}
		for i := range recs {
			a, b := normalized(recs[i]), normalized(again[i])
			if a != b {
				t.Fatalf("record %d changed:\n%q\n%q", i, a, b)
			}
		}
	})
}

// normalized compacts the JSON object columns of a record.
func normalized(r *Record) [NumColumns]string {
	v := r.Values
	for _, c := range []Column{Tags, DesiredProperties} {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(v[c])) == nil {
			v[c] = buf.String()
		}
	}
	return v
}
