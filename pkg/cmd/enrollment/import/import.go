// Package importcmd is "dpsctl enrollment import".
package importcmd

import (
	"context"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/spf13/cobra"
)

// ImportOptions are the inputs of "enrollment import".
type ImportOptions = enroll.ImportOptions

// DefaultRetries is the default of --retries.
const DefaultRetries = importer.DefaultAttempts - 1

// NewCmdImport builds "dpsctl enrollment import".
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{
		IO:      f.IOStreams,
		Client:  func(ctx context.Context) (importer.Client, error) { return enroll.OnceClient(ctx, f) },
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
			if err := enroll.CheckImportFlags(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return enroll.RunImport(cmd.Context(), opts)
		},
	}
	enroll.AddImportFlags(cmd, opts, "Bulk calls in flight at once")
	return cmd
}

// importRun runs the import of opts.
func importRun(ctx context.Context, opts *ImportOptions) error { return enroll.RunImport(ctx, opts) }

// GCPercent is the import's garbage collector target (enroll.GCPercent).
const GCPercent = enroll.GCPercent

// TuneGC configures the process's collector for an import, as the command
// does (enroll.TuneGC); bench/import/prof calls it.
func TuneGC() { enroll.TuneGC() }
