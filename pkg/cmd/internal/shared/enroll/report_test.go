package enroll

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/importer"
)

// TestReportNeutralisesFormulas: the report is meant for spreadsheets too,
// so its cells are escaped like an export's, unless --raw-csv.
func TestReportNeutralisesFormulas(t *testing.T) {
	res := importer.Result{Line: 7, RegistrationID: "-dev-1", Outcome: importer.Failed, ErrorCode: "400004", Message: "=HYPERLINK(\"http://x.example\")"}
	for _, tt := range []struct {
		raw  bool
		want string
	}{
		{false, "line,registrationId,outcome,errorCode,message\n7,'-dev-1,failed,400004,\"'=HYPERLINK(\"\"http://x.example\"\")\"\n"},
		{true, "line,registrationId,outcome,errorCode,message\n7,-dev-1,failed,400004,\"=HYPERLINK(\"\"http://x.example\"\")\"\n"},
	} {
		path := filepath.Join(t.TempDir(), "report.csv")
		r, err := newReport(path)
		if err != nil {
			t.Fatal(err)
		}
		r.raw = tt.raw
		if err := r.write(res); err != nil {
			t.Fatal(err)
		}
		if err := r.close(); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != tt.want {
			t.Errorf("raw %v:\n got %q\nwant %q", tt.raw, got, tt.want)
		}
	}
}
