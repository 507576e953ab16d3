// Package enrollfile reads and writes files of individual enrollments, one
// enrollment per row, in CSV (with a header row) or JSON Lines, and turns
// rows into wire enrollments after checking them the way the service and
// the devices will: endorsement keys, certificates, keys, IDs, allocation.
//
// Both formats share one schema: the columns below, spelled as in the wire
// model. Readers stream: they hold one row at a time, so files of any size
// are read in constant memory. Problems with a row are *RowError values
// that print as "FILE:LINE: column: reason"; a reader returns them and goes
// on with the next row.
//
// The schema is documented for users in docs/csv-schema.md.
package enrollfile

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Column is one field of the schema.
type Column int

// The columns, in the order files are written.
const (
	RegistrationID Column = iota
	Attestation
	EndorsementKey
	Certificate
	SecondaryCertificate
	PrimaryKey
	SecondaryKey
	DeviceID
	IoTHubs
	AllocationPolicy
	WebhookURL
	WebhookAPIVersion
	ProvisioningStatus
	ReprovisionPolicy
	IoTEdge
	Tags
	DesiredProperties

	// NumColumns is the number of columns.
	NumColumns
)

var columnNames = [NumColumns]string{
	RegistrationID:       "registrationId",
	Attestation:          "attestation",
	EndorsementKey:       "endorsementKey",
	Certificate:          "certificate",
	SecondaryCertificate: "secondaryCertificate",
	PrimaryKey:           "primaryKey",
	SecondaryKey:         "secondaryKey",
	DeviceID:             "deviceId",
	IoTHubs:              "iotHubs",
	AllocationPolicy:     "allocationPolicy",
	WebhookURL:           "webhookUrl",
	WebhookAPIVersion:    "webhookApiVersion",
	ProvisioningStatus:   "provisioningStatus",
	ReprovisionPolicy:    "reprovisionPolicy",
	IoTEdge:              "iotEdge",
	Tags:                 "tags",
	DesiredProperties:    "desiredProperties",
}

// String returns the column name as it appears in headers and JSON keys.
func (c Column) String() string {
	if c < 0 || c >= NumColumns {
		return fmt.Sprintf("column(%d)", int(c))
	}
	return columnNames[c]
}

// ColumnNames returns the names of all columns in schema order.
func ColumnNames() []string { return append([]string(nil), columnNames[:]...) }

// Required columns: a file without them is refused.
var Required = []Column{RegistrationID, Attestation}

// LookupColumn finds a column by name, ignoring case.
func LookupColumn(name string) (Column, bool) {
	for c, n := range columnNames {
		if strings.EqualFold(n, name) {
			return Column(c), true
		}
	}
	return 0, false
}

// unknownColumn explains a name that is not a column, suggesting the
// closest one when it is probably a typo.
func unknownColumn(name string) error {
	best, dist := "", 1<<30
	for _, n := range columnNames {
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); d < dist {
			best, dist = n, d
		}
	}
	if dist <= 2 || (dist <= 4 && len(name) >= 10) {
		return fmt.Errorf("unknown column %q (did you mean %q?); the columns are %s", name, best, strings.Join(columnNames[:], ", "))
	}
	return fmt.Errorf("unknown column %q; the columns are %s", name, strings.Join(columnNames[:], ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Record is one row of a file: the text of each column ("" when the
// column is absent or empty) and where the row starts.
type Record struct {
	// Line is the 1-based line of the file where the row starts.
	Line int
	// Values holds the text of each column. List and JSON columns hold
	// their text form: iotHubs separated by ';', iotEdge "true"/"false",
	// tags and desiredProperties as JSON objects.
	Values [NumColumns]string
}

// Get returns the text of column c.
func (r *Record) Get(c Column) string { return r.Values[c] }

// Set sets the text of column c.
func (r *Record) Set(c Column, v string) { r.Values[c] = v }

// Format is a file format.
type Format string

// The file formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// Formats lists the accepted format names, default first.
func Formats() []string { return []string{string(FormatCSV), string(FormatJSONL)} }

// ParseFormat checks a format name; "ndjson" is accepted for jsonl.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("unknown format %q (want csv or jsonl)", s)
}

// FormatOf guesses the format of a file from its name: .jsonl and .ndjson
// are JSON Lines, anything else CSV.
func FormatOf(name string) Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return FormatCSV
}

// RowError is a problem with one row (or one column of it). It prints as
// "FILE:LINE: column: reason", or "FILE:LINE: reason" when it concerns the
// row as a whole.
type RowError struct {
	File   string
	Line   int
	Column string
	Err    error
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	fmt.Fprintf(&b, ":%d: ", e.Line)
	if e.Column != "" {
		b.WriteString(e.Column)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *RowError) Unwrap() error { return e.Err }

// IsRowError reports whether err is (or wraps) a *RowError: a problem
// confined to one row, after which reading can go on.
func IsRowError(err error) bool {
	var re *RowError
	return errors.As(err, &re)
}

// Reader yields the records of a file. Next returns io.EOF after the last
// record. A *RowError concerns one row only: the caller may report it and
// call Next again. Any other error ends the file.
type Reader interface {
	Next() (*Record, error)
}

// Writer writes records. Flush must be called at the end.
type Writer interface {
	Write(r *Record) error
	Flush() error
}
