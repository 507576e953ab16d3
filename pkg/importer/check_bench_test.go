package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	importbench "github.com/dpsctl/dpsctl/bench/import"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

// benchRows is the size of the file BenchmarkCheckPass checks: large
// enough that the per-file costs (opening, the duplicate index) are small
// beside the per-row ones.
const benchRows = 12000

var benchFile struct {
	once sync.Once
	data []byte
	err  error
}

// benchInput writes the benchmark workload (a third each TPM, X.509 and
// symmetric-key rows, as bench/import uses) to a file in dir, generating
// it once per test binary.
func benchInput(b *testing.B) *Input {
	b.Helper()
	benchFile.once.Do(func() {
		var buf bytes.Buffer
		benchFile.err = importbench.Write(&buf, benchRows, "bench")
		benchFile.data = buf.Bytes()
	})
	if benchFile.err != nil {
		b.Fatal(benchFile.err)
	}
	path := filepath.Join(b.TempDir(), "enrollments.csv")
	if err := os.WriteFile(path, benchFile.data, 0o644); err != nil {
		b.Fatal(err)
	}
	in, err := OpenInput(path, InputOptions{Format: enrollfile.FormatCSV})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkCheckPass is pass 1 of an import (read, check every row, look
// for duplicate IDs; nothing kept, as for a dry run) over a valid file of
// mixed rows. Run it with -cpu 1,2
// to see how the pass uses the cores; ns/row is the figure to compare. (It
// counts b.N rather than using b.Loop, which would run the whole benchmark
// before -cpu takes effect for its first value.)
func BenchmarkCheckPass(b *testing.B) {
	in := benchInput(b)
	opts := CheckOptions{DryRun: true, Now: time.Now}
	b.SetBytes(in.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := Check(context.Background(), in, opts)
		if err != nil || c.Bad != 0 || c.Rows != benchRows {
			b.Fatalf("%d rows, %d bad: %v", c.Rows, c.Bad, err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}
