package importbench

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

// TestWorkloadIsValid: every generated row passes the import checks.
func TestWorkloadIsValid(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, 60, "w"); err != nil {
		t.Fatal(err)
	}
	rd, err := enrollfile.NewCSVReader(&buf, "w.csv")
	if err != nil {
		t.Fatal(err)
	}
	c := &enrollfile.Checker{File: "w.csv", Now: time.Now}
	kinds := map[string]int{}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e, errs := c.Check(rec)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		kinds[e.Attestation.Type]++
	}
	if kinds["tpm"] != 20 || kinds["x509"] != 20 || kinds["symmetricKey"] != 20 {
		t.Fatalf("kinds %v", kinds)
	}
}
