// Package importcmd is "dpsctl enrollment import".
package importcmd

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// ImportOptions are the inputs of "enrollment import".
type ImportOptions struct {
	IO      *iostreams.IOStreams
	Client  func(context.Context) (importer.Client, error)
	Printer func() (*output.Printer, error)
	Now     func() time.Time

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

// DefaultRetries is the default of --retries.
const DefaultRetries = importer.DefaultAttempts - 1

// NewCmdImport builds "dpsctl enrollment import".
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{
		IO:      f.IOStreams,
		Client:  func(ctx context.Context) (importer.Client, error) { return onceClient(ctx, f) },
		Printer: f.Printer,
		Now:     time.Now,
	}
	cmd := &cobra.Command{
		Use:   "import {<file> | -} [flags]",
		Short: "Create, update or delete many individual enrollments from a CSV or JSON Lines file",
		Long: `Import individual enrollments from a CSV file with a header row, or from JSON
Lines (--format jsonl, or a .jsonl file), one enrollment per row. The columns
are described in docs/csv-schema.md; "dpsctl enrollment export" writes the
same schema.

Every row is checked before anything is written, and the file is read as a
stream, so files of millions of rows take little memory: endorsement keys,
certificates (parsed, CN equal to the registration ID, within their validity),
symmetric keys, IDs, duplicate IDs, allocation policy against the hubs. Each
problem is reported as FILE:LINE: column: reason; if any row is bad nothing
is written and the exit status is 1. --dry-run stops after the checks.

The rows are then written through the bulk API, ten per call, at most
--concurrency calls at a time and --rate calls per minute. Below those
ceilings the import finds by itself the pace a throttling service allows:
each throttled answer (429) slows it down by a tenth, and it speeds up a
little every second while the service takes its calls, so that it runs
close to the service's quota (DPS allows 1,000 operations a minute per
unit) with few calls throttled. Throttled calls are retried after the
Retry-After the service asks for, service errors (5xx) after a backoff;
--retries bounds the attempts of one call. Between the two
steps the checked rows wait in a temporary file (about the size of the
input, in $TMPDIR), so the input is not read and converted twice. That file,
and the copy of standard input that "import -" makes, are removed from the
directory as soon as they are created, so nothing with keys in it is left
behind however the import ends.

A certificate column may name a file: an absolute path, or one relative to
the directory of the imported file (to the working directory for "-"). It
must be a regular file of at most 1 MB.

A CSV cell that starts with a single quote followed by =, +, -, @, a tab, a
carriage return or another quote loses that first quote: "dpsctl enrollment
export" adds it so that spreadsheets run no formula, and a spreadsheet user
may type it. --raw-csv reads cells as they are.

--mode says what to do:
  create   create new enrollments; an existing identical one is "unchanged",
           an existing different one fails as a conflict (the default)
  upsert   as create, but update an existing different one (under its etag)
  update   update existing enrollments only (under their etags)
  delete   delete the enrollments named by registrationId

An import can be run again: enrollments already written are found identical
and left alone, so re-running an import that was interrupted (a crash,
Ctrl-C, the network) finishes it without changing anything else.

--report writes one CSV line per row: line, registrationId, outcome
(created, updated, unchanged, deleted or failed), errorCode and message. A
summary is printed on stderr at the end (on stdout with -o json or yaml); a
progress line is shown on stderr when it is a terminal.`,
		Example: `  # check a file without writing anything
  dpsctl enrollment import devices.csv --dry-run

  # import it, keeping a per-row report
  dpsctl enrollment import devices.csv --report devices-report.csv

  # JSON Lines from another program, at most 800 calls a minute
  generate-devices | dpsctl enrollment import - --format jsonl --rate 800

  # bring enrollments in line with a file, or remove them
  dpsctl enrollment import devices.csv --mode upsert
  dpsctl enrollment import retired.csv --mode delete`,
		Args: cmdutil.ExactArgs(1, "import takes one file name (or - for stdin)"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"csv", "jsonl"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
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
			if runF != nil {
				return runF(opts)
			}
			return importRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	cmdutil.StringEnumFlag(cmd, &opts.Format, "format", "", "", enrollfile.Formats(), "File format (default: jsonl for .jsonl/.ndjson files, csv otherwise)")
	cmdutil.StringEnumFlag(cmd, &opts.Mode, "mode", "", string(importer.ModeCreate), importer.Modes(), "What to do with each row")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "Check every row and stop; write nothing")
	fs.IntVar(&opts.Concurrency, "concurrency", importer.DefaultConcurrency, "Bulk calls in flight at once")
	fs.Float64Var(&opts.Rate, "rate", 0, "At most this many service calls per minute (0: no ceiling; the import finds the pace a throttling service allows by itself)")
	fs.IntVar(&opts.Retries, "retries", DefaultRetries, "Retries of a call that keeps being throttled or failing before the import stops")
	fs.StringVar(&opts.Report, "report", "", "Write the outcome of every row to this CSV file")
	fs.BoolVar(&opts.RawCSV, "raw-csv", false, "Read CSV cells as they are: keep a leading ' before =, +, -, @, tab, CR or ' (and write the report's cells as they are)")
	cmdutil.FileFlag(cmd, "report", "csv")
	for _, name := range []string{"concurrency", "rate", "retries"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// onceClient is the service client of an import: one that returns every
// throttled answer instead of retrying it, for the import paces and
// retries its calls itself.
func onceClient(ctx context.Context, f *cmdutil.Factory) (importer.Client, error) {
	c, err := f.Client(ctx)
	if err != nil {
		return nil, err
	}
	return c.WithoutRetries(), nil
}

// openInput opens the input of the flags: a named file, or a copy of
// stdin for "-".
func openInput(opts *ImportOptions) (*importer.Input, error) {
	inOpts := importer.InputOptions{RawCSV: opts.RawCSV}
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
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--report: %w", err)
	}
	r := &reportWriter{f: f, w: csv.NewWriter(f)}
	return r, r.w.Write([]string{"line", "registrationId", "outcome", "errorCode", "message"})
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

func importRun(ctx context.Context, opts *ImportOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	in, err := openInput(opts)
	if err != nil {
		return err
	}
	defer in.Close()
	report, err := newReport(opts.Report)
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
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
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
	sum, runErr := importer.Run(ctx, c, items, importer.Options{
		Mode:        mode,
		Concurrency: opts.Concurrency,
		Rate:        opts.Rate,
		Attempts:    opts.Retries + 1,
		Backoff:     opts.Backoff,
	}, emit)
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
