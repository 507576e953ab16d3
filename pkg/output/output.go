// Package output is the one printer layer of the CLI. Every command hands its
// result to Print, PrintList or PrintSeq together with the table columns of
// its type; the printer picks the form the user asked for with -o
// (table, json, yaml or tsv), applies --query (JMESPath over the JSON form)
// and masks secrets unless --show-keys was given.
//
// The JSON and YAML forms are the wire model field for field, in field order,
// so what -o json prints can be fed back with --from-file. Data goes to
// stdout; notes such as "no enrollments found" go to stderr.
//
// This package is the only importer of the table and YAML libraries.
package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/jmespath/go-jmespath"
)

// Format is an output format.
type Format string

// The output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatTSV   Format = "tsv"
)

// Formats returns the accepted values of -o, default first.
func Formats() []string {
	return []string{string(FormatTable), string(FormatJSON), string(FormatYAML), string(FormatTSV)}
}

// ParseFormat checks an -o value. The empty string means table.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatTable, nil
	case FormatTable, FormatJSON, FormatYAML, FormatTSV:
		return f, nil
	}
	return "", fmt.Errorf("invalid output format %q (want %s)", s, strings.Join(Formats(), ", "))
}

// Column is one table column of a T.
type Column[T any] struct {
	Header string         // upper case, e.g. "REGISTRATION ID"
	Value  func(T) string // the cell text
	// Secret marks a column holding a key or connection string; its cells
	// are masked unless keys are shown.
	Secret bool
	// Full keeps the column whole when a table is narrowed to the terminal.
	Full bool
}

// Options configures a Printer.
type Options struct {
	Format   string // "" means table
	Query    string // JMESPath expression, "" for none
	ShowKeys bool   // print secrets instead of masking them
}

// Printer writes command results to the streams it was built for.
type Printer struct {
	out, errOut io.Writer
	format      Format
	tty         bool
	width       int
	showKeys    bool
	query       *jmespath.JMESPath
	queryText   string
}

// New builds a Printer for ios. It fails on an unknown format or a query
// that does not compile.
func New(ios *iostreams.IOStreams, opts Options) (*Printer, error) {
	f, err := ParseFormat(opts.Format)
	if err != nil {
		return nil, err
	}
	p := &Printer{
		out:      ios.Out,
		errOut:   ios.ErrOut,
		format:   f,
		tty:      ios.IsStdoutTTY(),
		showKeys: opts.ShowKeys,
	}
	if p.tty {
		p.width = ios.TerminalWidth()
	}
	if q := strings.TrimSpace(opts.Query); q != "" {
		jp, err := CompileQuery(q)
		if err != nil {
			return nil, err
		}
		p.query, p.queryText = jp, q
	}
	return p, nil
}

// CompileQuery checks a --query expression.
func CompileQuery(q string) (*jmespath.JMESPath, error) {
	jp, err := jmespath.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("invalid --query %q: %v", q, err)
	}
	return jp, nil
}

// Format returns the format in effect.
func (p *Printer) Format() Format { return p.format }

// IsTTY reports whether stdout is a terminal.
func (p *Printer) IsTTY() bool { return p.tty }

// ShowKeys reports whether secrets are printed unmasked.
func (p *Printer) ShowKeys() bool { return p.showKeys }

// HasQuery reports whether --query was given.
func (p *Printer) HasQuery() bool { return p.query != nil }

// human reports whether tables get a header and alignment.
func (p *Printer) human() bool { return p.format == FormatTable && p.tty }

// structured reports whether the output is the JSON/YAML form.
func (p *Printer) structured() bool { return p.format == FormatJSON || p.format == FormatYAML }

func (p *Printer) cell(c string, secret bool) string {
	if secret && !p.showKeys {
		c = MaskSecret(c)
	}
	return c
}
