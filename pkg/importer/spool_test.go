package importer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

func spoolItems(t *testing.T, sp *spool) []Item {
	t.Helper()
	seq, err := sp.items()
	if err != nil {
		t.Fatal(err)
	}
	var out []Item
	for it := range seq {
		out = append(out, it)
	}
	return out
}

func TestSpoolRoundTrip(t *testing.T) {
	sp, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	big := bytes.Repeat([]byte("x"), 300<<10) // beyond the buffers
	want := []Item{
		{Line: 2, ID: "dev-1", JSON: []byte(`{"registrationId":"dev-1"}`)},
		{Line: 3, ID: "", JSON: []byte(`{}`)},
		{Line: 1 << 40, ID: "ü-ñ", JSON: big},
		{Line: 5, ID: "dev-5", JSON: []byte{}},
	}
	for _, it := range want {
		sp.add(it.Line, it.ID, it.JSON)
	}
	got := spoolItems(t, sp)
	if len(got) != len(want) {
		t.Fatalf("%d items, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Line != want[i].Line || got[i].ID != want[i].ID || !bytes.Equal(got[i].JSON, want[i].JSON) || got[i].Err != nil {
			t.Errorf("item %d: line %d id %q %d bytes (%v), want line %d id %q %d bytes", i, got[i].Line, got[i].ID, len(got[i].JSON), got[i].Err, want[i].Line, want[i].ID, len(want[i].JSON))
		}
	}
	// The file is gone from the directory while it is in use (where the
	// system allows it) and after close.
	sp.close()
	if sp.name != "" {
		if _, err := os.Stat(sp.name); !os.IsNotExist(err) {
			t.Errorf("spool file %s left behind: %v", sp.name, err)
		}
	}
}

// TestSpoolTruncated: a spool cut short ends with an item carrying the
// error instead of passing a broken row on.
func TestSpoolTruncated(t *testing.T) {
	sp, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	sp.add(2, "a", []byte(`{"registrationId":"a"}`))
	sp.add(3, "b", []byte(`{"registrationId":"b"}`))
	if err := sp.w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := sp.f.Stat()
	if err := sp.f.Truncate(fi.Size() - 5); err != nil {
		t.Fatal(err)
	}
	got := spoolItems(t, sp)
	if len(got) != 2 || got[0].ID != "a" || got[0].Err != nil || got[1].Err == nil || !strings.Contains(got[1].Err.Error(), io.ErrUnexpectedEOF.Error()) {
		t.Fatalf("%+v", got)
	}
}

// TestCheckSpoolsAcceptedRows: pass 1 for a mode that writes enrollments
// keeps every row in its spool, in file order, encoded as the import would
// send its enrollment, whatever the number of checking goroutines.
func TestCheckSpoolsAcceptedRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "good.csv")
	var buf bytes.Buffer
	w := enrollfile.NewCSVWriter(&buf)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	recs := mixedRecords(t)[:700]
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	in := fileInput(t, path)
	checker := &enrollfile.Checker{File: in.name, Dir: in.dir, Now: time.Now}
	for _, workers := range []int{1, 2, maxCheckWorkers} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			c, err := Check(context.Background(), in, CheckOptions{Mode: ModeCreate, Now: time.Now, Workers: workers})
			if err != nil || c.Rows != len(recs) || c.Bad != 0 {
				t.Fatalf("%d rows, %d bad, %v", c.Rows, c.Bad, err)
			}
			defer c.Close()
			if c.spool == nil {
				t.Fatal("nothing spooled")
			}
			got := spoolItems(t, c.spool)
			if len(got) != len(recs) {
				t.Fatalf("%d rows spooled, want %d", len(got), len(recs))
			}
			for i, r := range recs {
				e, err := checker.Build(r)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := dps.EncodeEnrollment(e)
				if got[i].Line != i+2 || got[i].ID != r.Get(enrollfile.RegistrationID) || !bytes.Equal(got[i].JSON, want) {
					t.Fatalf("row %d: line %d id %q\n%s\nwant\n%s", i, got[i].Line, got[i].ID, got[i].JSON, want)
				}
			}
		})
	}
}
