// Package export is "dpsctl group export".
package export

import (
	"context"
	"iter"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// Client is what export needs of the service; *dps.Client satisfies it.
type Client interface {
	Groups(ctx context.Context, opts dps.QueryOptions) iter.Seq2[model.EnrollmentGroup, error]
	GetGroupAttestation(ctx context.Context, id string) (*model.AttestationMechanism, error)
}

// ExportOptions are the inputs of "group export".
type ExportOptions struct {
	IO     *iostreams.IOStreams
	Client func(context.Context) (Client, error)
	Format string
	// RawCSV writes CSV cells as they are (--raw-csv).
	RawCSV   bool
	ShowKeys func() bool
	// Concurrency is the number of key reads in flight with --show-keys.
	Concurrency int
}

// keyReaders is the default number of key reads in flight.
const keyReaders = 8

// NewCmdExport builds "dpsctl group export".
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{
		IO:          f.IOStreams,
		Client:      func(ctx context.Context) (Client, error) { return f.Client(ctx) },
		ShowKeys:    func() bool { return f.Flags != nil && f.Flags.ShowKeys },
		Concurrency: keyReaders,
	}
	cmd := &cobra.Command{
		Use:   "export [-o {csv|jsonl}] [--show-keys]",
		Short: "Write every enrollment group as CSV or JSON Lines",
		Long: `Write every enrollment group to stdout in the schema that "dpsctl group
import" reads (docs/csv-schema.md, "Enrollment group files"), streaming page
by page.

Group keys are written only with --show-keys (read one group at a time
through the attestation mechanism); without them an import into another
service lets it generate new keys, and every device key derived from the
old ones stops working. The service never returns X.509 certificates, so
the certificate columns hold sha256:<thumbprint> references of the signing
certificates: importing the file again into the same service finds those
groups unchanged, but creating them elsewhere needs the certificate files
put back in those columns.

Cells that a spreadsheet would run as formulas are written with a single
quote in front, which "dpsctl group import" removes; --raw-csv writes the
cells as they are.`,
		Example: `  dpsctl group export > groups.csv
  dpsctl group export -o jsonl --show-keys > groups-backup.jsonl

  # copy to another service (keys included)
  dpsctl group export --show-keys | dpsctl group import - --connection-string "$OTHER"`,
		Args: cmdutil.ExactArgs(0, "export takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	// -o here picks the file format; it replaces the global -o.
	cmdutil.StringEnumFlag(cmd, &opts.Format, "output", "o", string(enrollfile.FormatCSV), enrollfile.Formats(), "File format")
	cmd.Flags().BoolVar(&opts.RawCSV, "raw-csv", false, "Write CSV cells as they are, without the quote that neutralises formulas")
	return cmd
}

func exportRun(ctx context.Context, opts *ExportOptions) error {
	format, err := enrollfile.ParseFormat(opts.Format)
	if err != nil {
		return cmdutil.FlagErrorf("-o: %v", err)
	}
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	eo := enroll.ExportOptions{IO: opts.IO, Format: format, RawCSV: opts.RawCSV, Concurrency: opts.Concurrency}
	if opts.ShowKeys != nil && opts.ShowKeys() {
		eo.Keys = c.GetGroupAttestation
	}
	return enroll.Export(ctx, c.Groups(ctx, dps.QueryOptions{}), eo)
}
