package output

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// writeTable renders an aligned table, gh style: no borders, an upper-case
// header (when headers is not nil), cells truncated to fit the terminal.
func (p *Printer) writeTable(headers []string, rows [][]string, keep ...[]bool) error {
	var buf bytes.Buffer
	cell := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}},
	}
	cfg := tablewriter.Config{
		Header:   cell,
		Row:      cell,
		Behavior: tw.Behavior{TrimSpace: tw.Off},
	}
	var full []bool
	if len(keep) > 0 {
		full = keep[0]
	}
	rows = fit(headers, rows, p.width, full)
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

// writeKeyValues prints one object as aligned "HEADER  value" lines,
// leaving out empty values.
func (p *Printer) writeKeyValues(keys, values []string) error {
	w := 0
	for i, k := range keys {
		if values[i] != "" {
			w = max(w, len(k))
		}
	}
	var b strings.Builder
	for i, k := range keys {
		if values[i] == "" {
			continue
		}
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

// oneLine turns tabs and line breaks into spaces.
var oneLine = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

// clean keeps a cell on one line.
func clean(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		if strings.ContainsAny(c, "\t\r\n") {
			c = oneLine.Replace(c)
		}
		out[i] = c
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

// minColumn is the narrowest a column is truncated to.
const minColumn = 8

// fit truncates cells so the table fits width columns, shortening the widest
// columns first, as gh does. Headers are never truncated, nor columns whose
// full flag is set (values that are useless when cut, such as keys).
func fit(headers []string, rows [][]string, width int, full []bool) [][]string {
	if width <= 0 || len(rows) == 0 {
		return rows
	}
	n := len(rows[0])
	widths := make([]int, n)
	floor := make([]int, n)
	for i := range n {
		if i < len(headers) {
			floor[i] = utf8.RuneCountInString(headers[i])
			widths[i] = floor[i]
		}
		floor[i] = max(floor[i], minColumn)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < n {
				widths[i] = max(widths[i], utf8.RuneCountInString(clean([]string{c})[0]))
			}
		}
	}
	for i := range n {
		if i < len(full) && full[i] {
			floor[i] = widths[i]
		}
	}
	avail := width - 2*(n-1)
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= avail {
		return rows
	}
	limit := slices.Clone(widths)
	for total > avail {
		widest := 0
		for i := range limit {
			if limit[i]-floor[i] > limit[widest]-floor[widest] {
				widest = i
			}
		}
		if limit[widest] <= floor[widest] {
			break
		}
		// Shrink the widest column down to the runner-up (or to what fits).
		next := floor[widest]
		for i := range limit {
			if i != widest {
				next = max(next, min(limit[i], limit[widest]-1))
			}
		}
		cut := min(limit[widest]-next, total-avail)
		cut = max(cut, 1)
		limit[widest] -= cut
		total -= cut
	}
	out := make([][]string, len(rows))
	for j, r := range rows {
		out[j] = make([]string, len(r))
		for i, c := range r {
			c = clean([]string{c})[0]
			if i < n && utf8.RuneCountInString(c) > limit[i] {
				rs := []rune(c)
				c = string(rs[:limit[i]-1]) + "…"
			}
			out[j][i] = c
		}
	}
	return out
}
