package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Print prints one object. In table form on a terminal it is a key/value
// view of the columns; otherwise one tab-separated line. Without columns the
// table and tsv forms print the JSON form as lines (see PrintValue).
func Print[T any](p *Printer, v T, cols []Column[T]) error {
	if p.query != nil || p.structured() || len(cols) == 0 {
		return p.printValue(v)
	}
	row := rowOf(p, v, cols)
	if p.human() {
		return p.writeKeyValues(headers(cols), row)
	}
	return p.writeTSV([][]string{row})
}

// PrintValue prints any value that has no table columns: a scalar prints as
// one line, a list of scalars one per line, objects as a table of their
// members. JSON and YAML print the JSON form.
func (p *Printer) PrintValue(v any) error { return p.printValue(v) }

// PrintList prints a list. An empty list prints [] in JSON and YAML, and in
// table form nothing on stdout and "no <noun> found" on stderr.
func PrintList[T any](p *Printer, items []T, cols []Column[T], noun string) error {
	return PrintSeq(p, func(yield func(T, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}, cols, noun)
}

// PrintSeq prints a stream of items as PrintList does. JSON and
// tab-separated output are written as items arrive; an aligned table and
// --query need all items first. An error from the stream stops printing and
// is returned (a JSON array already begun is closed first).
func PrintSeq[T any](p *Printer, seq iter.Seq2[T, error], cols []Column[T], noun string) error {
	switch {
	case p.query == nil && p.format == FormatYAML:
		return p.streamYAML(func(yield func(any, error) bool) {
			for it, err := range seq {
				if !yield(it, err) {
					return
				}
			}
		})
	case p.query != nil:
		var all []json.RawMessage
		for it, err := range seq {
			if err != nil {
				return err
			}
			b, err := jsonForm(it, p.showKeys)
			if err != nil {
				return err
			}
			all = append(all, b)
		}
		if all == nil {
			all = []json.RawMessage{}
		}
		return p.printValue(all)
	case p.format == FormatJSON:
		return p.streamJSON(func(yield func(any, error) bool) {
			for it, err := range seq {
				if !yield(it, err) {
					return
				}
			}
		})
	case p.human():
		var rows [][]string
		for it, err := range seq {
			if err != nil {
				return err
			}
			rows = append(rows, rowOf(p, it, cols))
		}
		if len(rows) == 0 {
			p.noResults(noun)
			return nil
		}
		return p.writeTable(headers(cols), rows, fullColumns(cols))
	default:
		n := 0
		for it, err := range seq {
			if err != nil {
				return err
			}
			if err := p.writeTSV([][]string{rowOf(p, it, cols)}); err != nil {
				return err
			}
			n++
		}
		if n == 0 && p.format == FormatTable {
			p.noResults(noun)
		}
		return nil
	}
}

func (p *Printer) noResults(noun string) {
	if noun == "" {
		noun = "items"
	}
	fmt.Fprintf(p.errOut, "no %s found\n", noun)
}

func fullColumns[T any](cols []Column[T]) []bool {
	f := make([]bool, len(cols))
	for i, c := range cols {
		f[i] = c.Full
	}
	return f
}

func headers[T any](cols []Column[T]) []string {
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.Header
	}
	return h
}

func rowOf[T any](p *Printer, v T, cols []Column[T]) []string {
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = p.cell(c.Value(v), c.Secret)
	}
	return row
}

// streamJSON writes a JSON array item by item, two-space indented.
func (p *Printer) streamJSON(seq iter.Seq2[any, error]) error {
	var ind []byte
	return p.stream(seq, func(w *bufio.Writer, n int, v any) error {
		var err error
		if ind, err = appendIndentedForm(ind[:0], v, p.showKeys, "  ", "  "); err != nil {
			return err
		}
		sep := ",\n  "
		if n == 0 {
			sep = "[\n  "
		}
		w.WriteString(sep)
		_, err = w.Write(ind)
		return err
	}, func(w *bufio.Writer, n int, _ error) {
		end := "\n]\n"
		if n == 0 {
			end = "[]\n"
		}
		w.WriteString(end)
	})
}

// streamYAML writes a YAML sequence item by item: each item is converted as
// a list of one, whose block-style entry is the item's entry in the whole
// list (TestStreamYAMLMatchesWhole holds it to converting the whole list at
// once), so memory stays that of one item. An empty stream prints [].
func (p *Printer) streamYAML(seq iter.Seq2[any, error]) error {
	var one []byte
	return p.stream(seq, func(w *bufio.Writer, _ int, v any) error {
		b, err := jsonForm(v, p.showKeys)
		if err != nil {
			return err
		}
		one = append(append(append(one[:0], '['), b...), ']')
		y, err := jsonToYAML(one)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}, func(w *bufio.Writer, n int, failure error) {
		if n == 0 && failure == nil {
			w.WriteString("[]\n")
		}
	})
}

// stream writes the items of seq through a buffer that is flushed as it
// fills and at the end (also when the stream fails), so a long listing
// costs few writes: item writes each, n counting those before it, and end
// closes the list. The first error of seq or of item stops the items; the
// list is still ended and the error returned.
func (p *Printer) stream(seq iter.Seq2[any, error], item func(w *bufio.Writer, n int, v any) error, end func(w *bufio.Writer, n int, failure error)) error {
	w := bufio.NewWriterSize(p.out, 64<<10)
	n := 0
	var failure error
	for it, err := range seq {
		if err == nil {
			err = item(w, n, it)
		}
		if err != nil {
			failure = err
			break
		}
		n++
	}
	end(w, n, failure)
	if err := w.Flush(); err != nil {
		return err
	}
	return failure
}

// printValue prints v's JSON form in the chosen format, after --query.
func (p *Printer) printValue(v any) error {
	if p.query == nil && p.format == FormatJSON {
		b, err := appendIndentedForm(nil, v, p.showKeys, "", "  ")
		if err != nil {
			return err
		}
		_, err = p.out.Write(append(b, '\n'))
		return err
	}
	b, err := jsonForm(v, p.showKeys)
	if err != nil {
		return err
	}
	if p.query == nil {
		switch p.format {
		case FormatJSON:
			return p.writeJSON(b)
		case FormatYAML:
			return p.writeYAML(b)
		}
	}
	var data any
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	if p.query != nil {
		if data, err = p.query.Search(data); err != nil {
			return fmt.Errorf("--query %q: %v", p.queryText, err)
		}
	}
	switch p.format {
	case FormatJSON, FormatYAML:
		b, err := marshal(data)
		if err != nil {
			return err
		}
		if p.format == FormatJSON {
			return p.writeJSON(b)
		}
		return p.writeYAML(b)
	}
	return p.writeGeneric(data)
}

func (p *Printer) writeJSON(b []byte) error {
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, "", "  "); err != nil {
		return err
	}
	ind.WriteByte('\n')
	_, err := p.out.Write(ind.Bytes())
	return err
}

// writeGeneric prints decoded JSON in table or tsv form: scalars as lines,
// lists of objects as tables with the member names as headers.
func (p *Printer) writeGeneric(data any) error {
	switch d := data.(type) {
	case nil:
		return nil
	case map[string]any:
		keys := sortedKeys(d)
		row := make([]string, len(keys))
		for i, k := range keys {
			row[i] = scalarText(d[k])
		}
		if p.human() {
			return p.writeKeyValues(upper(keys), row)
		}
		return p.writeTSV([][]string{row})
	case []any:
		if len(d) == 0 {
			return nil
		}
		var objs []map[string]any
		for _, it := range d {
			if m, ok := it.(map[string]any); ok {
				objs = append(objs, m)
			}
		}
		if len(objs) == len(d) {
			seen := map[string]bool{}
			var keys []string
			for _, m := range objs {
				for _, k := range sortedKeys(m) {
					if !seen[k] {
						seen[k] = true
						keys = append(keys, k)
					}
				}
			}
			rows := make([][]string, len(objs))
			for i, m := range objs {
				rows[i] = make([]string, len(keys))
				for j, k := range keys {
					rows[i][j] = scalarText(m[k])
				}
			}
			if p.human() {
				return p.writeTable(upper(keys), rows)
			}
			return p.writeTSV(rows)
		}
		rows := make([][]string, len(d))
		for i, it := range d {
			if l, ok := it.([]any); ok {
				for _, c := range l {
					rows[i] = append(rows[i], scalarText(c))
				}
				continue
			}
			rows[i] = []string{scalarText(it)}
		}
		if p.human() && slices.ContainsFunc(rows, func(r []string) bool { return len(r) > 1 }) {
			return p.writeTable(nil, rows)
		}
		return p.writeTSV(rows)
	default:
		_, err := fmt.Fprintln(p.out, scalarText(d))
		return err
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func upper(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.ToUpper(k)
	}
	return out
}

// scalarText renders one decoded JSON value as a cell.
func scalarText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool, float64, json.Number:
		b, _ := json.Marshal(t)
		return string(b)
	default:
		b, err := marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}
