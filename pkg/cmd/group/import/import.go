// Package importcmd is "dpsctl group import".
package importcmd

import (
	"context"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ImportOptions are the inputs of "group import".
type ImportOptions = enroll.ImportOptions

// NewCmdImport builds "dpsctl group import".
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{
		Kind:        model.KindGroup,
		IO:          f.IOStreams,
		GroupClient: func(ctx context.Context) (importer.GroupClient, error) { return enroll.OnceClient(ctx, f) },
		Printer:     f.Printer,
		Now:         time.Now,
	}
	cmd := &cobra.Command{
		Use:   "import {<file> | -} [flags]",
		Short: "Create, update or delete many enrollment groups from a CSV or JSON Lines file",
		Long: `Import enrollment groups from a CSV file with a header row, or from JSON
Lines (--format jsonl, or a .jsonl file), one group per row, in the schema
"dpsctl group export" writes: the columns of enrollment files
(docs/csv-schema.md), with enrollmentGroupId for the ID, the certificate
columns holding the group's signing certificates, and no endorsementKey or
deviceId.

Every row is checked before anything is written: IDs and duplicate IDs,
attestation (x509 or symmetricKey; groups take no TPM), signing certificates
(parsed, a CA able to sign device certificates, within their validity),
symmetric keys, allocation, twin. Each problem is reported as FILE:LINE:
column: reason; if any row is bad nothing is written and the exit status is
1. --dry-run stops after the checks.

DPS has no bulk API for groups that services agree on, so each group is
written by its own call, at most --concurrency at a time and --rate a
minute. Below those ceilings the import finds by itself the pace a
throttling service allows, as "dpsctl enrollment import" does: throttled
calls (429) are retried after the Retry-After the service asks for.

--mode says what to do:
  create   create new groups; an existing identical one is "unchanged",
           an existing different one fails as a conflict (the default)
  upsert   as create, but update an existing different one (under its etag)
  update   update existing groups only (under their etags)
  delete   delete the groups named by enrollmentGroupId

An import can be run again: groups already written are found identical and
left alone, so re-running an interrupted import finishes it.

--report writes one CSV line per row: line, enrollmentGroupId, outcome,
errorCode and message. A summary is printed on stderr at the end (on stdout
with -o json or yaml).`,
		Example: `  # check a file without writing anything
  dpsctl group import groups.csv --dry-run

  # copy every group to another service, keys included
  dpsctl group export --show-keys -o jsonl > groups.jsonl
  dpsctl group import groups.jsonl --connection-string "$OTHER" --report groups-report.csv

  # bring groups in line with a file, or remove them
  dpsctl group import groups.csv --mode upsert
  dpsctl group import retired.csv --mode delete`,
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
	enroll.AddImportFlags(cmd, opts, "Group calls in flight at once")
	return cmd
}
