package enroll

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// What "enrollment import" and "group import" share: the run of an import
// from the file to the summary.

// ImportOptions are the inputs of an import ("enrollment import", "group import").
type ImportOptions struct {
	// Kind is what the file holds: individual enrollments (the zero
	// value) or enrollment groups.
	Kind   model.EnrollmentKind
	IO     *iostreams.IOStreams
	Client func(context.Context) (importer.Client, error)
	// GroupClient is the client of an import of groups.
	GroupClient func(context.Context) (importer.GroupClient, error)
	Printer     func() (*output.Printer, error)
	Now         func() time.Time

	File        string // "-" is stdin
	Format      string // "" guesses from the file name
	Mode        string
	DryRun      bool
	Concurrency int
	Rate        float64
	Retries     int
	Report      string
	// RawCSV reads CSV cells as they are (--raw-csv), without removing the
	// quote an export puts in front of formula-like cells.
	RawCSV bool

	// Backoff overrides the wait between retries (tests).
	Backoff func(n int) time.Duration
}

// OnceClient is the service client of an import: one that returns every
// throttled answer instead of retrying it, for the import paces and
// retries its calls itself.
func OnceClient(ctx context.Context, f *cmdutil.Factory) (*dps.Client, error) {
	c, err := f.Client(ctx)
	if err != nil {
		return nil, err
	}
	return c.WithoutRetries(), nil
}

// openInput opens the input of the flags: a named file, or a copy of
// stdin for "-".
func openInput(opts *ImportOptions) (*importer.Input, error) {
	inOpts := importer.InputOptions{RawCSV: opts.RawCSV, Kind: opts.Kind}
	if opts.Format != "" {
		inOpts.Format, _ = enrollfile.ParseFormat(opts.Format)
	}
	if opts.File == "-" {
		return importer.ReadInput(opts.IO.In, inOpts)
	}
	return importer.OpenInput(opts.File, inOpts)
}

// reportWriter writes the per-row report. Its cells are escaped like an
// export's (enrollfile.EscapeCell) unless raw is set: registration IDs may
// start with '-', and messages come from the service.
type reportWriter struct {
	f   *os.File
	w   *csv.Writer
	raw bool
}

func newReport(path string) (*reportWriter, error) {
	return newReportOf(path, model.KindEnrollment)
}

// newReportOf starts the report of an import of kind k, whose ID column
// is named as in its files.
func newReportOf(path string, k model.EnrollmentKind) (*reportWriter, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--report: %w", err)
	}
	r := &reportWriter{f: f, w: csv.NewWriter(f)}
	return r, r.w.Write([]string{"line", k.IDMember(), "outcome", "errorCode", "message"})
}

func (r *reportWriter) write(res importer.Result) error {
	if r == nil {
		return nil
	}
	cells := []string{strconv.Itoa(res.Line), res.RegistrationID, string(res.Outcome), res.ErrorCode, res.Message}
	if !r.raw {
		for i, c := range cells {
			cells[i] = enrollfile.EscapeCell(c)
		}
	}
	return r.w.Write(cells)
}

func (r *reportWriter) close() error {
	if r == nil {
		return nil
	}
	r.w.Flush()
	err := r.w.Error()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// maxPrintedFailures bounds the write failures printed on stderr; the
// report has them all.
const maxPrintedFailures = 20

// importMemoryLimit is the import's soft memory limit: beyond the few
// megabytes every import needs, only the duplicate-ID index grows with the
// file (8 bytes a row).
const importMemoryLimit = 32 << 20

// RunImport runs an import ("enrollment import", "group import") as
// opts say: the checking pass over the whole file, then, when every row is
// good and it is not a dry run, the writing pass, with the report, the
// progress line and the summary.
func RunImport(ctx context.Context, opts *ImportOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	in, err := openInput(opts)
	if err != nil {
		return err
	}
	defer in.Close()
	report, err := newReportOf(opts.Report, opts.Kind)
	if err != nil {
		return err
	}
	if report != nil {
		report.raw = opts.RawCSV
	}
	defer report.close()
	TuneGC()
	mode := importer.Mode(opts.Mode)
	bar := newProgress(opts.IO)

	// Pass 1: check every row (and, for the modes that send whole
	// enrollments, keep them encoded for pass 2), printing and reporting
	// the problems.
	start := time.Now()
	checked, err := importer.Check(ctx, in, importer.CheckOptions{
		Mode:   mode,
		DryRun: opts.DryRun,
		Now:    opts.Now,
		Problem: func(p importer.Problem) error {
			bar.clear()
			for _, e := range p.Errs {
				fmt.Fprintln(opts.IO.ErrOut, e)
			}
			return report.write(p.Result)
		},
		Progress: func(read int64) { bar.update("Checking", read, in.Size(), "bytes") },
	})
	bar.clear()
	if err != nil {
		return err
	}
	defer checked.Close()
	rows, bad := checked.Rows, checked.Bad
	if bad > 0 {
		if err := report.close(); err != nil {
			return err
		}
		return fmt.Errorf("%d of %d rows are invalid; nothing was written", bad, rows)
	}
	if rows == 0 {
		return fmt.Errorf("%s has no rows", in.Name())
	}
	if opts.DryRun {
		fmt.Fprintf(opts.IO.ErrOut, "%s: all %d rows are valid; nothing was written (--dry-run)\n", in.Name(), rows)
		return nil
	}

	// Pass 2: write.
	items, err := checked.Items(ctx)
	if err != nil {
		return err
	}
	printed, done := 0, 0
	emit := func(r importer.Result) error {
		done++
		if r.Outcome == importer.Failed && r.ErrorCode != importer.CodeNotAttempted && r.ErrorCode != importer.CodeInterrupted {
			if printed < maxPrintedFailures {
				bar.clear()
				fmt.Fprintf(opts.IO.ErrOut, "%s:%d: %s: %s (%s)\n", in.Name(), r.Line, r.RegistrationID, r.Message, r.ErrorCode)
			}
			printed++
		}
		bar.update("Importing", int64(done), int64(rows), "rows")
		return report.write(r)
	}
	writeStart := time.Now()
	runOpts := importer.Options{
		Mode:        mode,
		Concurrency: opts.Concurrency,
		Rate:        opts.Rate,
		Attempts:    opts.Retries + 1,
		Backoff:     opts.Backoff,
	}
	var sum importer.Summary
	var runErr error
	if opts.Kind == model.KindGroup {
		c, err := opts.GroupClient(ctx)
		if err != nil {
			return err
		}
		sum, runErr = importer.RunGroups(ctx, c, items, runOpts, emit)
	} else {
		c, err := opts.Client(ctx)
		if err != nil {
			return err
		}
		sum, runErr = importer.Run(ctx, c, items, runOpts, emit)
	}
	bar.clear()
	if printed > maxPrintedFailures {
		more := "see the report"
		if report == nil {
			more = "--report FILE lists them all"
		}
		fmt.Fprintf(opts.IO.ErrOut, "… and %d more failed rows (%s)\n", printed-maxPrintedFailures, more)
	}
	if err := report.close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("--report: %w", err)
	}
	s := newSummary(in.Name(), mode, sum, time.Since(start), time.Since(writeStart))
	if err := s.print(opts.IO, p); err != nil {
		return err
	}
	switch {
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		return runErr
	case sum.Stopped != nil:
		return fmt.Errorf("the import stopped (%v); %d rows failed or were not written; run the same command again to finish", sum.Stopped, sum.Failed())
	case runErr != nil:
		return runErr
	case sum.Failed() > 0:
		return fmt.Errorf("%d of %d rows failed", sum.Failed(), sum.Rows)
	}
	return nil
}

// AddImportFlags adds the flags of an import to cmd; concurrencyHelp says
// what --concurrency counts.
func AddImportFlags(cmd *cobra.Command, opts *ImportOptions, concurrencyHelp string) {
	fs := cmd.Flags()
	cmdutil.StringEnumFlag(cmd, &opts.Format, "format", "", "", enrollfile.Formats(), "File format (default: jsonl for .jsonl/.ndjson files, csv otherwise)")
	cmdutil.StringEnumFlag(cmd, &opts.Mode, "mode", "", string(importer.ModeCreate), importer.Modes(), "What to do with each row")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "Check every row and stop; write nothing")
	fs.IntVar(&opts.Concurrency, "concurrency", importer.DefaultConcurrency, concurrencyHelp)
	fs.Float64Var(&opts.Rate, "rate", 0, "At most this many service calls per minute (0: no ceiling; the import finds the pace a throttling service allows by itself)")
	fs.IntVar(&opts.Retries, "retries", importer.DefaultAttempts-1, "Retries of a call that keeps being throttled or failing before the import stops")
	fs.StringVar(&opts.Report, "report", "", "Write the outcome of every row to this CSV file")
	fs.BoolVar(&opts.RawCSV, "raw-csv", false, "Read CSV cells as they are: keep a leading ' before =, +, -, @, tab, CR or ' (and write the report's cells as they are)")
	cmdutil.FileFlag(cmd, "report", "csv")
	for _, name := range []string{"concurrency", "rate", "retries"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
}

// CheckImportFlags checks the values of the flags of an import.
func CheckImportFlags(opts *ImportOptions) error {
	if opts.Format != "" {
		if _, err := enrollfile.ParseFormat(opts.Format); err != nil {
			return cmdutil.FlagErrorf("--format: %v", err)
		}
	}
	if opts.Concurrency < 1 || opts.Concurrency > 64 {
		return cmdutil.FlagErrorf("--concurrency must be between 1 and 64")
	}
	if opts.Rate < 0 {
		return cmdutil.FlagErrorf("--rate must not be negative")
	}
	if opts.Retries < 0 {
		return cmdutil.FlagErrorf("--retries must not be negative")
	}
	return nil
}
