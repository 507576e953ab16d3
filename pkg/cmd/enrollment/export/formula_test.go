package export_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/enrollment/import"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// formulaEnrollments are enrollments whose cells a spreadsheet would take
// for formulas: a registration ID starting with '-', device IDs starting
// with '=', '@', '-' or a quote and '=', keys starting with '+'.
func formulaEnrollments() []*model.IndividualEnrollment {
	key := func(first byte) string {
		b := make([]byte, 32)
		b[0] = first
		return base64.StdEncoding.EncodeToString(b)
	}
	sym := func(id, device, primary, secondary string) *model.IndividualEnrollment {
		return &model.IndividualEnrollment{
			RegistrationID: id,
			DeviceID:       device,
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: primary, SecondaryKey: secondary}}},
		}
	}
	return []*model.IndividualEnrollment{
		sym("-dev-1", "=HYPERLINK(x)", key(0xf8), key(0x01)),
		sym("dev-2", "@SUM(1)", key(0x01), key(0xfb)),
		sym("dev-3", "-device", key(0x02), key(0x03)),
		sym("dev-4", "'=already", key(0x04), key(0x05)),
		sym("dev-5", "''", key(0x06), key(0x07)),
		sym("dev-6", "plain", key(0x08), key(0x09)),
	}
}

// TestRoundTripFormulaCells: the CSV export neutralises every
// formula-looking cell, and importing it gives every value back exactly,
// into the same service (all unchanged) and into another one.
func TestRoundTripFormulaCells(t *testing.T) {
	ctx := context.Background()
	_, c := cmdtest.NewServer(t)
	want := formulaEnrollments()
	for _, e := range want {
		if _, err := c.PutEnrollment(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	out := runExport(t, c, "--show-keys")
	cells := parseCSV(t, out)
	if len(cells) != len(want)+1 {
		t.Fatalf("export:\n%s", out)
	}
	quoted := 0
	for _, row := range cells {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
			if strings.HasPrefix(cell, "'") {
				quoted++
			}
		}
	}
	// "-dev-1", "=HYPERLINK(x)", two '+' keys, "@SUM(1)", "-device",
	// "'=already" and "''".
	if quoted != 8 {
		t.Errorf("%d cells quoted, want 8:\n%s", quoted, out)
	}
	if !strings.Contains(out, "\n'-dev-1,symmetricKey,") || !strings.Contains(out, ",'@SUM(1),") || !strings.Contains(out, ",''=already,") {
		t.Errorf("export:\n%s", out)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	stderr, err := runImport(t, c, path)
	if err != nil || !strings.Contains(stderr, "  unchanged           6\n") {
		t.Fatalf("same service: %v\n%s", err, stderr)
	}
	_, other := cmdtest.NewServer(t)
	stderr, err = runImport(t, other, path)
	if err != nil || !strings.Contains(stderr, "  created             6\n") {
		t.Fatalf("new service: %v\n%s", err, stderr)
	}
	for _, e := range want {
		got, err := other.GetEnrollment(ctx, e.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := other.GetEnrollmentAttestation(ctx, e.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DeviceID != e.DeviceID || *keys.SymmetricKey != *e.Attestation.SymmetricKey {
			t.Errorf("%s: device %q keys %+v, want %q %+v", e.RegistrationID, got.DeviceID, *keys.SymmetricKey, e.DeviceID, *e.Attestation.SymmetricKey)
		}
	}
}

// TestRawCSV: --raw-csv writes the cells as stored, and import --raw-csv
// reads them so.
func TestRawCSV(t *testing.T) {
	ctx := context.Background()
	_, c := cmdtest.NewServer(t)
	for _, e := range formulaEnrollments() {
		if _, err := c.PutEnrollment(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	out := runExport(t, c, "--show-keys", "--raw-csv")
	if !strings.Contains(out, "\n-dev-1,symmetricKey,") || !strings.Contains(out, ",@SUM(1),") || !strings.Contains(out, ",'=already,") {
		t.Fatalf("export --raw-csv:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	_, other := cmdtest.NewServer(t)
	f, s := cmdtest.NewFactory(t, other, false)
	if err := cmdtest.Run(t, f, importcmd.NewCmdImport(f, nil), path, "--raw-csv"); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	for _, id := range []string{"dev-4", "dev-5"} {
		got, err := other.GetEnrollment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"dev-4": "'=already", "dev-5": "''"}[id]; got.DeviceID != want {
			t.Errorf("%s: device ID %q, want %q", id, got.DeviceID, want)
		}
	}
	// JSON Lines is never escaped.
	if out := runExport(t, c, "-o", "jsonl"); !strings.Contains(out, `"registrationId":"-dev-1"`) || !strings.Contains(out, `"deviceId":"=HYPERLINK(x)"`) || !strings.Contains(out, `"deviceId":"'=already"`) {
		t.Fatalf("jsonl:\n%s", out)
	}
}

func parseCSV(t *testing.T, text string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return rows
}
