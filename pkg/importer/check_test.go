package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	importbench "github.com/dpsctl/dpsctl/bench/import"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
)

// mixedRows is the size of the file of TestCheckOrder.
const mixedRows = 2000

var mixedFile struct {
	once sync.Once
	rows []*enrollfile.Record
	err  error
}

// mixedRecords returns the rows of a valid file of mixedRows enrollments,
// a third each TPM, X.509 and symmetric key (the import benchmark's
// workload), made once per test binary. Row i (from 0) has the ID
// mix-<i+1>, and attestation tpm, x509 or symmetricKey as i%3 is 0, 1 or 2.
func mixedRecords(t *testing.T) []*enrollfile.Record {
	t.Helper()
	mixedFile.once.Do(func() {
		var buf bytes.Buffer
		if mixedFile.err = importbench.Write(&buf, mixedRows, "mix"); mixedFile.err != nil {
			return
		}
		rd, err := enrollfile.NewCSVReader(&buf, "mix.csv")
		if err != nil {
			mixedFile.err = err
			return
		}
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				mixedFile.err = err
				return
			}
			mixedFile.rows = append(mixedFile.rows, rec)
		}
	})
	if mixedFile.err != nil {
		t.Fatal(mixedFile.err)
	}
	return mixedFile.rows
}

// badRow is a way of spoiling a row of the mixed file, with the problems
// (column: reason) it is then reported with. raw, when set, replaces the
// whole line.
type badRow struct {
	spoil    func(r *enrollfile.Record)
	raw      string
	problems func(r *enrollfile.Record) []string
}

// badRows are the ways of spoiling a row, by attestation.
var badRows = map[string][]badRow{
	"tpm": {
		{
			spoil: func(r *enrollfile.Record) { r.Set(enrollfile.EndorsementKey, "AAAA") },
			problems: func(*enrollfile.Record) []string {
				return []string{"endorsementKey: invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow"}
			},
		},
		{
			raw:      "short,tpm",
			problems: func(*enrollfile.Record) []string { return []string{"the row has 2 fields; the header (line 1) has 17"} },
		},
	},
	"x509": {
		{
			spoil: func(r *enrollfile.Record) {
				r.Set(enrollfile.RegistrationID, strings.Replace(r.Get(enrollfile.RegistrationID), "mix-", "other-", 1))
			},
			problems: func(r *enrollfile.Record) []string {
				id := r.Get(enrollfile.RegistrationID)
				cn := strings.Replace(id, "other-", "mix-", 1)
				return []string{fmt.Sprintf("certificate: certificate CN=%s cannot authenticate the device: CN %q does not match the registration ID %q", cn, cn, id)}
			},
		},
		{
			spoil: func(r *enrollfile.Record) { r.Set(enrollfile.IoTHubs, "hub1.example,hub2.example") },
			problems: func(*enrollfile.Record) []string {
				return []string{`iotHubs: "hub1.example,hub2.example": separate hubs with ';'`}
			},
		},
	},
	"symmetricKey": {
		{
			spoil: func(r *enrollfile.Record) { r.Set(enrollfile.PrimaryKey, "***") },
			problems: func(*enrollfile.Record) []string {
				return []string{"primaryKey: the key is masked (***); export with --show-keys, or leave the column empty to keep the service's key"}
			},
		},
		{
			spoil: func(r *enrollfile.Record) {
				r.Set(enrollfile.Attestation, "carrier-pigeon")
				r.Set(enrollfile.ProvisioningStatus, "maybe")
			},
			problems: func(*enrollfile.Record) []string {
				return []string{
					`attestation: "carrier-pigeon" is not an attestation; use tpm, x509 or symmetricKey (or symmetric-key)`,
					`provisioningStatus: "maybe" is not a status; use enabled or disabled`,
				}
			},
		},
		{
			spoil: func(r *enrollfile.Record) {
				r.Set(enrollfile.IoTHubs, "")
				r.Set(enrollfile.AllocationPolicy, "static")
				r.Set(enrollfile.Tags, "")
			},
			problems: func(*enrollfile.Record) []string {
				return []string{"allocationPolicy: static allocation needs exactly one hub in iotHubs; the row lists 0"}
			},
		},
	},
}

// badFile writes the mixed file with some rows spoiled: a row every 37
// from the 6th, the first and last rows, rows on both sides of batch
// boundaries and a run of neighbours. It returns the file and the lines
// of stderr and of the report (line, registrationId, message) that
// checking it must give, in file order.
func badFile(t *testing.T, dir string) (path string, stderr []string, report [][]string) {
	t.Helper()
	bad := map[int]bool{0: true, checkBatchRows - 1: true, checkBatchRows: true, 2*checkBatchRows - 1: true, mixedRows - 1: true}
	for i := 5; i < mixedRows; i += 37 {
		bad[i] = true
	}
	for i := 1000; i < 1006; i++ {
		bad[i] = true
	}
	path = filepath.Join(dir, "bad.csv")
	var buf bytes.Buffer
	w := enrollfile.NewCSVWriter(&buf)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	raws := map[int]string{}
	nth := map[string]int{}
	for i, orig := range mixedRecords(t) {
		r := *orig
		line := i + 2
		if bad[i] {
			att := r.Get(enrollfile.Attestation)
			ways := badRows[att]
			way := ways[nth[att]%len(ways)]
			nth[att]++
			id := ""
			if way.raw != "" {
				raws[line] = way.raw
			} else {
				way.spoil(&r)
				id = r.Get(enrollfile.RegistrationID)
			}
			ps := way.problems(&r)
			for _, p := range ps {
				stderr = append(stderr, fmt.Sprintf("%s:%d: %s", path, line, p))
			}
			report = append(report, []string{strconv.Itoa(line), id, ps[0]})
		}
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	if len(lines) != mixedRows+2 { // the header, the rows and "" after the last "\n"
		t.Fatalf("%d lines", len(lines))
	}
	for line, raw := range raws {
		lines[line-1] = raw + "\n"
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, stderr, report
}

func fileInput(t *testing.T, path string) *Input {
	t.Helper()
	in, err := OpenInput(path, InputOptions{Format: enrollfile.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// lineOf returns LINE of a "FILE:LINE: …" message.
func lineOf(t *testing.T, file, msg string) int {
	t.Helper()
	rest, ok := strings.CutPrefix(msg, file+":")
	n, _, ok2 := strings.Cut(rest, ":")
	line, err := strconv.Atoi(n)
	if !ok || !ok2 || err != nil {
		t.Fatalf("not FILE:LINE: …: %q", msg)
	}
	return line
}

// problemLog keeps what the checking pass hands on: the lines a command
// prints (one per problem) and the rows of its report (line,
// registrationId, outcome, errorCode, message).
type problemLog struct {
	printed []string
	report  [][]string
}

func (l *problemLog) add(p Problem) error {
	for _, e := range p.Errs {
		l.printed = append(l.printed, e.Error())
	}
	l.report = append(l.report, []string{strconv.Itoa(p.Line), p.RegistrationID, string(p.Outcome), p.ErrorCode, p.Message})
	return nil
}

// TestCheckOrder checks a file with problems scattered through it on one
// goroutine and on several: the problems are handed on (to be printed and
// reported) in file order, with the same text either way.
func TestCheckOrder(t *testing.T) {
	dir := t.TempDir()
	path, wantStderr, wantReport := badFile(t, dir)
	in := fileInput(t, path)
	for _, workers := range []int{1, 2, 3, maxCheckWorkers} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			var log problemLog
			c, err := Check(context.Background(), in, CheckOptions{DryRun: true, Now: time.Now, Workers: workers, Problem: log.add})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if c.Rows != mixedRows || c.Bad != len(wantReport) {
				t.Errorf("%d rows, %d bad; want %d, %d", c.Rows, c.Bad, mixedRows, len(wantReport))
			}

			got := log.printed
			prev := 0
			for _, msg := range got {
				line := lineOf(t, path, msg)
				if line < prev {
					t.Fatalf("line %d printed after line %d:\n%s", line, prev, strings.Join(got, "\n"))
				}
				prev = line
			}
			if strings.Join(got, "\n") != strings.Join(wantStderr, "\n") {
				t.Fatalf("printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantStderr, "\n"))
			}

			recs := log.report
			if len(recs) != len(wantReport) {
				t.Fatalf("%d report lines, want %d", len(recs), len(wantReport))
			}
			prev = 0
			for i, rec := range recs {
				line, _ := strconv.Atoi(rec[0])
				if line <= prev {
					t.Fatalf("report row %d: row %d after row %d", i+1, line, prev)
				}
				prev = line
				want := wantReport[i]
				if rec[0] != want[0] || rec[1] != want[1] || rec[2] != "failed" || rec[3] != "invalid" || rec[4] != want[2] {
					t.Fatalf("report row %d: %q, want %q", i+1, rec, want)
				}
			}
		})
	}
}

// waitGoroutines waits (boundedly) for the number of goroutines to fall
// back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

// TestCheckCancel cancels the context while rows are being checked: the
// pass stops within a row or so on each goroutine, returns the context's
// error and leaves no goroutine behind.
func TestCheckCancel(t *testing.T) {
	dir := t.TempDir()
	path, _, _ := badFile(t, dir)
	in := fileInput(t, path)
	// X.509 rows read the clock once each; the 60th read cancels.
	const cancelAt = 60
	for _, workers := range []int{1, 2, maxCheckWorkers} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var clock atomic.Int64
			now := func() time.Time {
				if clock.Add(1) == cancelAt {
					cancel()
				}
				return time.Now()
			}
			c, err := Check(ctx, in, CheckOptions{DryRun: true, Now: now, Workers: workers})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want %v", err, context.Canceled)
			}
			// Each goroutine finishes the row it is on, and checks no more.
			if n := clock.Load(); n > cancelAt+int64(workers) {
				t.Errorf("%d rows checked after the cancel", n-cancelAt)
			}
			if c.Rows >= mixedRows {
				t.Errorf("%d rows counted", c.Rows)
			}
			waitGoroutines(t, before)
		})
	}
}

// TestCheckProblemFails: when a problem cannot be handed on (a command's
// report cannot be written) the pass stops with the error and leaves no
// goroutine behind.
func TestCheckProblemFails(t *testing.T) {
	dir := t.TempDir()
	path, _, _ := badFile(t, dir)
	in := fileInput(t, path)
	errFull := errors.New("report: no space left on device")
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			before := runtime.NumGoroutine()
			// The first problems go through, as into a report's buffer.
			handed := 0
			problem := func(Problem) error {
				if handed++; handed > 20 {
					return errFull
				}
				return nil
			}
			_, err := Check(context.Background(), in, CheckOptions{DryRun: true, Now: time.Now, Workers: workers, Problem: problem})
			if !errors.Is(err, errFull) {
				t.Fatalf("error %v, want %v", err, errFull)
			}
			if handed != 21 {
				t.Errorf("%d problems handed on; the pass should have stopped at the failing one, the 21st", handed)
			}
			waitGoroutines(t, before)
		})
	}
}
