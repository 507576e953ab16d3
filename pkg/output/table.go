package output

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// writeTable renders an aligned table, gh style: no borders, an upper-case
// header (when headers is not nil), cells truncated to fit the terminal.
func (p *Printer) writeTable(headers []string, rows [][]string) error {
	var buf bytes.Buffer
	cell := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapTruncate},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}},
	}
	cfg := tablewriter.Config{
		Header:   cell,
		Row:      cell,
		Behavior: tw.Behavior{TrimSpace: tw.Off},
	}
	if p.width > 0 {
		cfg.MaxWidth = p.width
	}
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		})),
		tablewriter.WithConfig(cfg),
	)
	if headers != nil {
		t.Header(headers)
	}
	for _, r := range rows {
		if err := t.Append(clean(r)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	return writeTrimmed(p.out, buf.String())
}

// writeKeyValues prints one object as aligned "HEADER  value" lines.
func (p *Printer) writeKeyValues(keys, values []string) error {
	w := 0
	for _, k := range keys {
		w = max(w, len(k))
	}
	var b strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&b, "%-*s  %s\n", w, k, strings.ReplaceAll(values[i], "\n", "\n"+strings.Repeat(" ", w+2)))
	}
	return writeTrimmed(p.out, b.String())
}

// writeTSV prints rows as tab-separated lines, no header, no truncation.
func (p *Printer) writeTSV(rows [][]string) error {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(clean(r), "\t"))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(p.out, b.String())
	return err
}

// clean keeps a cell on one line.
func clean(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(c)
	}
	return out
}

func writeTrimmed(w io.Writer, s string) error {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(l, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
