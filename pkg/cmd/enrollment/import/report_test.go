package importcmd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

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
