package importcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestReportFailureStopsTheCheck: when the report cannot be written while
// the rows are checked, the import stops with the error.
func TestReportFailureStopsTheCheck(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fail the report's writes")
	}
	e := newEnv(t, false)
	var rows strings.Builder
	rows.WriteString(header)
	for i := range 200 { // several times the report's buffer
		fmt.Fprintf(&rows, "dev-%d,tpm,AAAA,,,,,\n", i)
	}
	err := e.run(e.write("bad.csv", rows.String()), "--report", "/dev/full")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want %v", err, syscall.ENOSPC)
	}
	if n := strings.Count(e.s.ErrOut.String(), "invalid endorsement key"); n == 0 || n >= 200 {
		t.Errorf("%d problems printed; the check should have stopped part way", n)
	}
}
