package output

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// writeTable renders an aligned table, gh style: no borders, an upper-case
// header (when headers is not nil), cells truncated to fit the terminal.
// Columns are as wide as their widest cell in display width (see width.go)
// and two spaces apart; lines carry no trailing blanks. A cell is kept on one
// line, the header's too.
func (p *Printer) writeTable(headers []string, rows [][]string, keep ...[]bool) error {
	var full []bool
	if len(keep) > 0 {
		full = keep[0]
	}
	rows = fit(headers, rows, p.width, full)
	if headers != nil {
		headers = clean(headers)
	}
	n := len(headers)
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = clean(r)
		n = max(n, len(r))
	}
	rules := cellWidths()
	widths := make([]int, n)
	measure := func(r []string) {
		for i, c := range r {
			widths[i] = max(widths[i], rules.width(c))
		}
	}
	measure(headers)
	for _, r := range cells {
		measure(r)
	}
	var b []byte
	line := func(r []string) {
		if len(r) == 0 {
			return // a row without cells prints no line
		}
		start := len(b)
		for i, c := range r {
			b = append(b, c...)
			if i < len(r)-1 {
				b = pad(b, widths[i]-rules.width(c)+2)
			}
		}
		// No trailing blanks (a last cell may end in spaces).
		for len(b) > start && b[len(b)-1] == ' ' {
			b = b[:len(b)-1]
		}
		b = append(b, '\n')
	}
	if len(headers) > 0 {
		line(headers)
	}
	for _, r := range cells {
		line(r)
	}
	// A table without a line prints one blank line, as tables always have.
	if len(b) == 0 {
		b = append(b, '\n')
	}
	_, err := p.out.Write(b)
	return err
}

func pad(b []byte, n int) []byte {
	for range n {
		b = append(b, ' ')
	}
	return b
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
