package enrollfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// CSVReader reads a CSV file whose first row names the columns. Columns may
// come in any order and any subset that includes the required ones; their
// names are matched ignoring case. Lines starting with '#' are comments.
// Cells are trimmed of surrounding white space and then unescaped with
// UnescapeCell, unless Raw is set.
type CSVReader struct {
	// Raw reads cells as they are, without UnescapeCell.
	Raw bool

	file   string
	schema Schema
	r      *csv.Reader
	cols   []Column // column of each field
	header int      // line of the header
	done   bool
}

// NewCSVReader reads the header of a CSV file. file names the file in
// errors. A header that is missing a required column, names an unknown
// column or names one twice is an error.
func NewCSVReader(r io.Reader, file string) (*CSVReader, error) {
	return NewCSVReaderOf(SchemaOf(model.KindEnrollment), r, file)
}

// NewCSVReaderOf is NewCSVReader for a file of schema s.
func NewCSVReaderOf(s Schema, r io.Reader, file string) (*CSVReader, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: the file is empty; it needs a header row naming the columns (%s, …)", file, strings.Join(s.Names()[:3], ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", file, csvErr(err))
	}
	line, _ := cr.FieldPos(0)
	c := &CSVReader{file: file, schema: s, r: cr, header: line}
	seen := map[Column]int{}
	for i, name := range head {
		name = strings.TrimSpace(name)
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		if name == "" {
			return nil, fmt.Errorf("%s:%d: header: column %d has no name", file, line, i+1)
		}
		col, ok := s.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%s:%d: header: %w", file, line, s.unknown(name))
		}
		if prev, dup := seen[col]; dup {
			return nil, fmt.Errorf("%s:%d: header: column %q appears twice (fields %d and %d)", file, line, s.Name(col), prev, i+1)
		}
		seen[col] = i + 1
		c.cols = append(c.cols, col)
	}
	for _, req := range Required {
		if _, ok := seen[req]; !ok {
			return nil, fmt.Errorf("%s:%d: header: the required column %q is missing", file, line, s.Name(req))
		}
	}
	return c, nil
}

// Columns returns the columns of the file in the order of its header.
func (c *CSVReader) Columns() []Column { return append([]Column(nil), c.cols...) }

// Next returns the next row.
func (c *CSVReader) Next() (*Record, error) {
	if c.done {
		return nil, io.EOF
	}
	fields, err := c.r.Read()
	if err == io.EOF {
		c.done = true
		return nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine {
				// An unterminated quoted field swallowed the rest of the file.
				c.done = true
			}
			return nil, &RowError{File: c.file, Line: pe.StartLine, Err: csvErr(err)}
		}
		c.done = true
		return nil, fmt.Errorf("%s: %w", c.file, err)
	}
	line, _ := c.r.FieldPos(0)
	if len(fields) != len(c.cols) {
		return nil, &RowError{File: c.file, Line: line, Err: fmt.Errorf("the row has %d fields; the header (line %d) has %d", len(fields), c.header, len(c.cols))}
	}
	rec := &Record{Line: line}
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if !c.Raw {
			f = UnescapeCell(f)
		}
		rec.Values[c.cols[i]] = f
	}
	return rec, nil
}

// csvErr rewords encoding/csv errors without their position (RowError
// carries it).
func csvErr(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Errorf("a quote (\") inside an unquoted field (character %d of the line); quote the whole field and double the inner quotes", pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Errorf("a quoted field is not closed (extraneous or missing \")")
	}
	return pe.Err
}

// CSVWriter writes records as CSV with a header row of the chosen columns.
// Cells are escaped with EscapeCell, unless Raw is set, so that a
// spreadsheet opening the file runs no formula. Fields are quoted when they
// must be: separators, quotes, line breaks, surrounding white space, or a
// '#' that would start a comment line.
type CSVWriter struct {
	// Raw writes cells as they are, without EscapeCell.
	Raw bool

	w       *bufio.Writer
	schema  Schema
	cols    []Column
	started bool
}

// NewCSVWriter writes the given columns (all of them when cols is empty).
func NewCSVWriter(w io.Writer, cols ...Column) *CSVWriter {
	return NewCSVWriterOf(SchemaOf(model.KindEnrollment), w, cols...)
}

// NewCSVWriterOf writes the given columns of schema s (all of them when
// cols is empty).
func NewCSVWriterOf(s Schema, w io.Writer, cols ...Column) *CSVWriter {
	if len(cols) == 0 {
		cols = s.Columns()
	}
	return &CSVWriter{w: bufio.NewWriterSize(w, 64<<10), schema: s, cols: cols}
}

// WriteHeader writes the header row; Write does it before the first record.
func (c *CSVWriter) WriteHeader() error {
	if c.started {
		return nil
	}
	c.started = true
	for i, col := range c.cols {
		c.field(i, c.schema.Name(col))
	}
	_, err := c.w.WriteString("\n")
	return err
}

// Write writes one record.
func (c *CSVWriter) Write(r *Record) error {
	if err := c.WriteHeader(); err != nil {
		return err
	}
	for i, col := range c.cols {
		v := r.Values[col]
		if !c.Raw {
			v = EscapeCell(v)
		}
		c.field(i, v)
	}
	_, err := c.w.WriteString("\n")
	return err
}

func (c *CSVWriter) field(i int, s string) {
	if i > 0 {
		c.w.WriteByte(',')
	}
	quote := strings.ContainsAny(s, ",\"\r\n") || (s != "" && (s != strings.TrimSpace(s) || (i == 0 && s[0] == '#')))
	if !quote {
		c.w.WriteString(s)
		return
	}
	c.w.WriteByte('"')
	c.w.WriteString(strings.ReplaceAll(s, `"`, `""`))
	c.w.WriteByte('"')
}

// Flush writes any buffered data and reports a write error.
func (c *CSVWriter) Flush() error { return c.w.Flush() }

// formulaStarts are the first characters that make a spreadsheet take a
// cell for a formula (or, for tab and carriage return, hide one behind
// them): the list of the OWASP advice on CSV injection.
const formulaStarts = "=+-@\t\r"

// EscapeCell returns s as a CSV cell that no spreadsheet runs as a
// formula: a cell starting with '=', '+', '-', '@', a tab or a carriage
// return gets a single quote in front, as OWASP recommends. So that
// UnescapeCell gives every value back exactly, a cell that already starts
// with a quote followed by one of those characters or by another quote
// gets one too. Other cells are returned as they are.
func EscapeCell(s string) string {
	if s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0 || escaped(s) {
		return "'" + s
	}
	return s
}

// UnescapeCell undoes EscapeCell: a cell starting with a single quote
// followed by '=', '+', '-', '@', a tab, a carriage return or another
// quote loses the first quote. Other cells are returned as they are.
func UnescapeCell(s string) string {
	if escaped(s) {
		return s[1:]
	}
	return s
}

func escaped(s string) bool {
	return len(s) >= 2 && s[0] == '\'' && (s[1] == '\'' || strings.IndexByte(formulaStarts, s[1]) >= 0)
}
