package enrollfile

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode"
)

func TestEscapeCell(t *testing.T) {
	tests := []struct{ value, cell string }{
		{"", ""},
		{"dev-1", "dev-1"},
		{"=1+1", "'=1+1"},
		{"+MDEy", "'+MDEy"},
		{"-dev-1", "'-dev-1"},
		{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "'-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"'", "'"},
		{"'abc", "'abc"},
		{"'=1", "''=1"},
		{"''", "'''"},
		{"'''=", "''''="},
		{" =1", " =1"}, // white space first: not a formula
		{"a=1", "a=1"},
		{"{\"a\":\"=1\"}", "{\"a\":\"=1\"}"},
		{"sha256:00FF", "sha256:00FF"},
		{"\uff1d1", "\uff1d1"}, // a full-width '=' is text
	}
	for _, tt := range tests {
		if got := EscapeCell(tt.value); got != tt.cell {
			t.Errorf("EscapeCell(%q) = %q, want %q", tt.value, got, tt.cell)
		}
		if got := UnescapeCell(tt.cell); got != tt.value {
			t.Errorf("UnescapeCell(%q) = %q, want %q", tt.cell, got, tt.value)
		}
	}
}

// TestUnescapeHandWrittenCells: a file written by hand (or by a
// spreadsheet that kept the quote) reads as the value meant.
func TestUnescapeHandWrittenCells(t *testing.T) {
	for cell, want := range map[string]string{
		"'=1":    "=1",
		"'-dev":  "-dev",
		"'+key=": "+key=",
		"'@x":    "@x",
		"'abc":   "'abc",
		"'":      "'",
		"''":     "'",
		"dev-1":  "dev-1",
	} {
		if got := UnescapeCell(cell); got != want {
			t.Errorf("UnescapeCell(%q) = %q, want %q", cell, got, want)
		}
	}
}

// csvCells parses CSV text as plain RFC 4180, with no unescaping.
func csvCells(t *testing.T, text string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return rows
}

// TestCSVWriterNeutralisesFormulas writes formula-looking values in every
// column: no cell of the file starts with a formula character, and the
// file reads back exactly. With Raw on both sides the cells are the values.
func TestCSVWriterNeutralisesFormulas(t *testing.T) {
	values := []string{"=1+1", "+MDEy", "-dev", "@SUM(1)", "\t=1", "\r=1", "'=1", "''", "'", "=cmd|' /C calc'!A0", "plain"}
	var recs []*Record
	for i, v := range values {
		r := &Record{}
		for c := range NumColumns {
			r.Set(c, values[(i+int(c))%len(values)])
		}
		r.Set(RegistrationID, v)
		recs = append(recs, r)
	}
	for _, raw := range []bool{false, true} {
		var buf bytes.Buffer
		w := NewCSVWriter(&buf)
		w.Raw = raw
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rows := csvCells(t, buf.String())
		if len(rows) != len(recs)+1 {
			t.Fatalf("raw %v: %d rows", raw, len(rows))
		}
		for i, row := range rows[1:] {
			for j, cell := range row {
				want := recs[i].Values[j]
				if !raw {
					want = EscapeCell(want)
					if cell != "" && strings.IndexByte(formulaStarts, cell[0]) >= 0 {
						t.Errorf("row %d column %s starts a formula: %q", i, Column(j), cell)
					}
				}
				if cell != want {
					t.Errorf("raw %v: row %d column %s is %q, want %q", raw, i, Column(j), cell, want)
				}
			}
		}
		rd, err := NewCSVReader(bytes.NewReader(buf.Bytes()), "f.csv")
		if err != nil {
			t.Fatal(err)
		}
		rd.Raw = raw
		got, rowErrs, err := readAll(t, rd)
		if err != nil || len(rowErrs) > 0 || len(got) != len(recs) {
			t.Fatalf("raw %v: %v %q %d records", raw, err, rowErrs, len(got))
		}
		for i := range recs {
			want := recs[i].Values
			if raw {
				// A raw reader trims white space around cells.
				for c := range want {
					want[c] = strings.TrimSpace(want[c])
				}
			}
			if got[i].Values != want {
				t.Errorf("raw %v: record %d\n got %q\nwant %q", raw, i, got[i].Values, want)
			}
		}
	}
}

// FuzzEscapeCell: UnescapeCell∘EscapeCell is the identity, an escaped
// cell never starts with a formula character, and only cells that need it
// change.
func FuzzEscapeCell(f *testing.F) {
	for _, s := range []string{"", "=", "'", "''", "'=", "-dev", "+k", "@", "\t", "\r", "a", "'a", "''=", " =1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := EscapeCell(s)
		if u := UnescapeCell(e); u != s {
			t.Fatalf("UnescapeCell(EscapeCell(%q)) = %q", s, u)
		}
		if e != "" && strings.IndexByte(formulaStarts, e[0]) >= 0 {
			t.Fatalf("EscapeCell(%q) = %q starts a formula", s, e)
		}
		needs := s != "" && (strings.IndexByte(formulaStarts, s[0]) >= 0 || s[0] == '\'' && len(s) > 1 && (s[1] == '\'' || strings.IndexByte(formulaStarts, s[1]) >= 0))
		if needs != (e != s) || needs && e != "'"+s {
			t.Fatalf("EscapeCell(%q) = %q", s, e)
		}
	})
}

// FuzzCSVCellRoundTrip writes an arbitrary value in a cell and reads it
// back: the value comes back as it was, up to the white space the reader
// trims and the line breaks CSV normalises.
func FuzzCSVCellRoundTrip(f *testing.F) {
	for _, s := range []string{"=1", "'=1", "-----BEGIN X-----\nAB\n-----END X-----", "\t=1", "a,b", `"q"`, "#c", "''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// CSV turns \r\n into \n, and the reader trims white space around
		// a cell (a leading tab is kept by the quote in front of it).
		if strings.ContainsRune(s, '\r') || strings.TrimRightFunc(s, unicode.IsSpace) != s ||
			s != "" && s[0] != '\t' && strings.TrimLeftFunc(s, unicode.IsSpace) != s {
			return
		}
		rec := &Record{}
		rec.Set(RegistrationID, "dev-1")
		rec.Set(DeviceID, s)
		var buf bytes.Buffer
		w := NewCSVWriter(&buf, RegistrationID, Attestation, DeviceID)
		w.Write(rec)
		w.Flush()
		rd, err := NewCSVReader(&buf, "f.csv")
		if err != nil {
			t.Fatal(err)
		}
		got, rowErrs, err := readAll(t, rd)
		if err != nil || len(rowErrs) > 0 || len(got) != 1 {
			t.Fatalf("%v %q %d records\n%q", err, rowErrs, len(got), buf.String())
		}
		if got[0].Get(DeviceID) != s {
			t.Fatalf("%q came back as %q\n%q", s, got[0].Get(DeviceID), buf.String())
		}
	})
}
