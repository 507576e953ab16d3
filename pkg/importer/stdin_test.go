package importer

import (
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

// watchDir is a reader that lists a directory whenever it is read: the
// names seen while the import copies stdin.
type watchDir struct {
	t    *testing.T
	dir  string
	r    io.Reader
	seen []string
}

func (w *watchDir) Read(p []byte) (int, error) {
	es, err := os.ReadDir(w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range es {
		w.seen = append(w.seen, e.Name())
	}
	return w.r.Read(p)
}

// TestStdinCopyIsUnlinked: the copy of stdin, keys included, has no name
// in the temporary directory from before its first byte is written, and
// each pass reads it whole.
func TestStdinCopyIsUnlinked(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("open files cannot be unlinked on Windows; the copy is removed at the end")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	const text = "registrationId,attestation,primaryKey\ndev-1,symmetricKey,MDEyMzQ1Njc4OWFiY2RlZg==\ndev-2,symmetricKey,\n"
	w := &watchDir{t: t, dir: tmp, r: iotest(strings.NewReader(text))}
	in, err := ReadInput(w, InputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if len(w.seen) > 0 {
		t.Fatalf("the copy of stdin had a name while it was written: %q", w.seen)
	}
	if es, _ := os.ReadDir(tmp); len(es) > 0 {
		t.Fatalf("files in the temporary directory: %v", es)
	}
	if in.name != "stdin" || in.dir != "" || in.format != enrollfile.FormatCSV || in.size != int64(len(text)) {
		t.Fatalf("input %+v", in)
	}
	for pass := range 2 {
		var n int64
		rd, closeFn, err := in.open(&n)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rec.Get(enrollfile.RegistrationID))
		}
		closeFn()
		if strings.Join(ids, ",") != "dev-1,dev-2" || n != int64(len(text)) {
			t.Fatalf("pass %d: ids %v, %d bytes", pass, ids, n)
		}
	}
}

// iotest hands out a few bytes per Read, so that the copy takes several.
func iotest(r io.Reader) io.Reader { return &smallReads{r: r} }

type smallReads struct{ r io.Reader }

func (s *smallReads) Read(p []byte) (int, error) {
	if len(p) > 16 {
		p = p[:16]
	}
	return s.r.Read(p)
}
