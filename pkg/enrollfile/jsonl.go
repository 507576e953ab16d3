package enrollfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// MaxJSONLLine bounds one line of a JSON Lines file.
const MaxJSONLLine = 1 << 20

// JSONLReader reads JSON Lines: one JSON object per line whose members are
// the columns. Strings are taken as they are; iotHubs may also be an array
// of strings, iotEdge a boolean, tags and desiredProperties objects. Blank
// lines are skipped. A member that is not a column is a row error.
type JSONLReader struct {
	file   string
	schema Schema
	r      *bufio.Reader
	line   int
	done   bool
}

// NewJSONLReader reads JSON Lines from r; file names it in errors.
func NewJSONLReader(r io.Reader, file string) *JSONLReader {
	return NewJSONLReaderOf(SchemaOf(model.KindEnrollment), r, file)
}

// NewJSONLReaderOf is NewJSONLReader for a file of schema s.
func NewJSONLReaderOf(s Schema, r io.Reader, file string) *JSONLReader {
	return &JSONLReader{file: file, schema: s, r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next line without its end, or io.EOF.
func (j *JSONLReader) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := j.r.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxJSONLLine {
			// Skip the rest of the line and report it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = j.r.ReadSlice('\n')
			}
			j.line++
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, &RowError{File: j.file, Line: j.line, Err: fmt.Errorf("the line is longer than %d bytes", MaxJSONLLine)}
		}
		switch {
		case err == nil:
			j.line++
			if buf == nil {
				return chunk, nil
			}
			return append(buf, chunk...), nil
		case errors.Is(err, bufio.ErrBufferFull):
			buf = append(buf, chunk...)
		case err == io.EOF:
			if len(buf)+len(chunk) == 0 {
				return nil, io.EOF
			}
			j.line++
			return append(buf, chunk...), nil
		default:
			return nil, err
		}
	}
}

// Next returns the next row.
func (j *JSONLReader) Next() (*Record, error) {
	for !j.done {
		raw, err := j.readLine()
		if err == io.EOF {
			j.done = true
			break
		}
		if err != nil {
			if IsRowError(err) {
				return nil, err
			}
			j.done = true
			return nil, fmt.Errorf("%s: %w", j.file, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		return j.parse(raw)
	}
	return nil, io.EOF
}

func (j *JSONLReader) parse(raw []byte) (*Record, error) {
	fail := func(col string, err error) (*Record, error) {
		return nil, &RowError{File: j.file, Line: j.line, Column: col, Err: err}
	}
	if raw[0] != '{' {
		return fail("", errors.New("want a JSON object ({…}) on each line"))
	}
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&members); err != nil {
		return fail("", fmt.Errorf("not valid JSON: %v", err))
	}
	if dec.More() {
		return fail("", errors.New("more than one JSON value on the line"))
	}
	rec := &Record{Line: j.line}
	var seen [NumColumns]bool
	// Report unknown members in a stable order.
	var unknown []string
	for name := range members {
		if _, ok := j.schema.Lookup(name); !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		first := unknown[0]
		for _, u := range unknown[1:] {
			if u < first {
				first = u
			}
		}
		return fail(first, j.schema.unknown(first))
	}
	for name, v := range members {
		col, _ := j.schema.Lookup(name)
		if seen[col] {
			return fail(name, fmt.Errorf("given twice (as %q and another spelling)", name))
		}
		seen[col] = true
		text, err := jsonValue(col, v)
		if err != nil {
			return fail(j.schema.Name(col), err)
		}
		rec.Values[col] = text
	}
	return rec, nil
}

// jsonValue turns a member value into the column's text form.
func jsonValue(col Column, v json.RawMessage) (string, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || string(t) == "null" {
		return "", nil
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case '[':
		if col != IoTHubs {
			return "", errors.New("want a string, not an array")
		}
		var hubs []string
		if err := json.Unmarshal(t, &hubs); err != nil {
			return "", errors.New("want an array of host names (strings)")
		}
		for i, h := range hubs {
			if strings.Contains(h, ";") {
				return "", fmt.Errorf("hub %d %q contains ';'", i+1, h)
			}
		}
		return strings.Join(hubs, ";"), nil
	case '{':
		if col != Tags && col != DesiredProperties {
			return "", errors.New("want a string, not an object")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, t); err != nil {
			return "", err
		}
		return buf.String(), nil
	case 't', 'f':
		if col != IoTEdge {
			return "", errors.New("want a string, not a boolean")
		}
		return string(t), nil
	}
	return "", fmt.Errorf("want a string, not %s", t)
}

// JSONLWriter writes records as JSON Lines. Empty columns are left out;
// iotHubs is written as an array, iotEdge as a boolean, tags and
// desiredProperties as objects.
type JSONLWriter struct {
	w      *bufio.Writer
	schema Schema
	buf    bytes.Buffer
}

// NewJSONLWriter writes JSON Lines to w.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	return NewJSONLWriterOf(SchemaOf(model.KindEnrollment), w)
}

// NewJSONLWriterOf writes JSON Lines of schema s to w.
func NewJSONLWriterOf(s Schema, w io.Writer) *JSONLWriter {
	return &JSONLWriter{w: bufio.NewWriterSize(w, 64<<10), schema: s}
}

// Write writes one record as one line.
func (j *JSONLWriter) Write(r *Record) error {
	b := &j.buf
	b.Reset()
	b.WriteByte('{')
	first := true
	for c := range NumColumns {
		v := r.Values[c]
		if v == "" || !j.schema.Has(c) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(b, j.schema.Name(c))
		b.WriteByte(':')
		switch {
		case c == IoTHubs:
			b.WriteByte('[')
			for i, h := range strings.Split(v, ";") {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONString(b, h)
			}
			b.WriteByte(']')
		case c == IoTEdge && (v == "true" || v == "false"):
			b.WriteString(v)
		case (c == Tags || c == DesiredProperties) && strings.HasPrefix(v, "{") && json.Valid([]byte(v)):
			if err := json.Compact(b, []byte(v)); err != nil {
				return err
			}
		default:
			writeJSONString(b, v)
		}
	}
	b.WriteString("}\n")
	_, err := j.w.Write(b.Bytes())
	return err
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}

// Flush writes buffered lines.
func (j *JSONLWriter) Flush() error { return j.w.Flush() }

// NewReader returns the reader of format f.
func NewReader(f Format, r io.Reader, file string) (Reader, error) {
	return NewReaderOf(SchemaOf(model.KindEnrollment), f, r, file)
}

// NewReaderOf returns the reader of format f for a file of schema s.
func NewReaderOf(s Schema, f Format, r io.Reader, file string) (Reader, error) {
	if f == FormatJSONL {
		return NewJSONLReaderOf(s, r, file), nil
	}
	return NewCSVReaderOf(s, r, file)
}

// NewWriter returns the writer of format f.
func NewWriter(f Format, w io.Writer) Writer {
	return NewWriterOf(SchemaOf(model.KindEnrollment), f, w)
}

// NewWriterOf returns the writer of format f for schema s.
func NewWriterOf(s Schema, f Format, w io.Writer) Writer {
	if f == FormatJSONL {
		return NewJSONLWriterOf(s, w)
	}
	return NewCSVWriterOf(s, w)
}
