// Package export is "dpsctl registration export".
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cmd/registration/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/spf13/cobra"
)

// ExportOptions are the inputs of "registration export".
type ExportOptions struct {
	IO     *iostreams.IOStreams
	Client func(context.Context) (*dps.Client, error)

	GroupID string // "" exports every registration
	Format  string
	// RawCSV writes CSV cells as they are (--raw-csv).
	RawCSV bool
	// Workers is the number of concurrent state reads without --group
	// (0: shared.DefaultWorkers).
	Workers int
}

// Columns are the CSV columns of an export, named as the JSON members.
var Columns = []string{
	"registrationId", "enrollmentGroupId", "deviceId", "assignedHub", "status", "substatus",
	"errorCode", "errorMessage", "createdDateTimeUtc", "lastUpdatedDateTimeUtc", "etag", "payload",
}

// NewCmdExport builds "dpsctl registration export".
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "export [--group <group-id>] [-o {csv|jsonl}]",
		Short: "Write device registration states as CSV or JSON Lines",
		Long: `Write device registration states to stdout, streaming, as CSV (a header row,
then one state a row) or JSON Lines (one state a line, as the service returns
it, with "enrollmentGroupId" added when the state was listed through a group).

With --group, the registrations of that enrollment group: one query, page by
page. Without --group, every registration, found as "dpsctl registration
list" finds them: the registrations of each group, then the state of each
individual enrollment, one call per enrollment (on Azure each counts against
the operations quota).

The CSV columns are registrationId, enrollmentGroupId, deviceId, assignedHub,
status, substatus, errorCode, errorMessage, createdDateTimeUtc,
lastUpdatedDateTimeUtc, etag and payload (compact JSON). Cells a spreadsheet
would run as formulas get a single quote in front, unless --raw-csv.`,
		Example: `  dpsctl registration export --group factory-a > factory-a-registrations.csv
  dpsctl registration export -o jsonl > registrations.jsonl

  # the failed registrations of a group
  dpsctl registration export --group factory-a -o jsonl | jq -c 'select(.status == "failed")'`,
		Args: cmdutil.ExactArgs(0, "export takes no arguments; use --group to pick a group"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("group") {
				if err := model.ValidateID(opts.GroupID); err != nil {
					return cmdutil.FlagErrorf("--group %q: %v", opts.GroupID, err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.GroupID, "group", "", "Export the registrations of this enrollment group only")
	// -o here picks the file format; it replaces the global -o.
	cmdutil.StringEnumFlag(cmd, &opts.Format, "output", "o", string(enrollfile.FormatCSV), enrollfile.Formats(), "File format")
	cmd.Flags().BoolVar(&opts.RawCSV, "raw-csv", false, "Write CSV cells as they are, without the quote that neutralises formulas")
	_ = cmd.RegisterFlagCompletionFunc("group", shared.CompleteGroupIDs(f))
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
	list := shared.AllRegistrations(ctx, c, dps.QueryOptions{}, opts.Workers)
	if opts.GroupID != "" {
		list = shared.GroupRegistrations(ctx, c, opts.GroupID, dps.QueryOptions{})
	}
	out := bufio.NewWriterSize(opts.IO.Out, 64<<10)
	var cw *csv.Writer
	if format == enrollfile.FormatCSV {
		cw = csv.NewWriter(out)
		if err := cw.Write(Columns); err != nil {
			return err
		}
	}
	n := 0
	for r, err := range list {
		if err != nil {
			flush(cw, out)
			return err
		}
		if cw != nil {
			err = cw.Write(cells(r, opts.RawCSV))
		} else {
			err = writeJSONLine(out, r)
		}
		if err != nil {
			return err
		}
		n++
	}
	if err := flush(cw, out); err != nil {
		return err
	}
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "exported %d registration states\n", n)
	}
	return nil
}

func flush(cw *csv.Writer, out *bufio.Writer) error {
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	return out.Flush()
}

func writeJSONLine(out *bufio.Writer, r shared.Registration) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	out.Write(b)
	return out.WriteByte('\n')
}

// cells is the CSV row of r, escaped for spreadsheets unless raw.
func cells(r shared.Registration, raw bool) []string {
	code := ""
	if r.ErrorCode != 0 {
		code = strconv.Itoa(r.ErrorCode)
	}
	payload := ""
	if len(r.Payload) > 0 {
		var v any
		if json.Unmarshal(r.Payload, &v) == nil {
			b, _ := json.Marshal(v)
			payload = string(b)
		} else {
			payload = string(r.Payload)
		}
	}
	cs := []string{
		r.RegistrationID, r.EnrollmentGroupID, r.DeviceID, r.AssignedHub, r.Status, r.Substatus,
		code, r.ErrorMessage, r.CreatedDateTimeUTC, r.LastUpdatedDateTimeUTC, r.ETag, payload,
	}
	if !raw {
		for i, c := range cs {
			cs[i] = enrollfile.EscapeCell(c)
		}
	}
	return cs
}
