package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/jsonfmt"
)

// Masked is what a hidden secret prints as.
const Masked = "***"

// secretFields are the JSON member names whose string values are secrets.
var secretFields = map[string]bool{
	"primaryKey":       true,
	"secondaryKey":     true,
	"connectionString": true,
	"sharedAccessKey":  true,
}

// IsSecretField reports whether a JSON member of this name is masked.
func IsSecretField(name string) bool { return secretFields[name] }

// MaskSecret hides a secret. Connection strings keep everything except their
// SharedAccessKey or SharedAccessSignature value; anything else becomes ***.
// The empty string stays empty.
func MaskSecret(s string) string {
	if s == "" {
		return ""
	}
	lower := strings.ToLower(s)
	if !strings.Contains(lower, "sharedaccesskey=") && !strings.Contains(lower, "sharedaccesssignature=") {
		return Masked
	}
	parts := strings.Split(s, ";")
	for i, part := range parts {
		name, _, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sharedaccesskey", "sharedaccesssignature":
			parts[i] = name + "=" + Masked
		}
	}
	return strings.Join(parts, ";")
}

// jsonForm marshals v and masks secrets unless show is set. The result is
// compact JSON in the field order of v.
func jsonForm(v any, show bool) ([]byte, error) {
	data, err := marshal(v)
	if err != nil {
		return nil, err
	}
	if show || maskChangesNothing(data) {
		return data, nil
	}
	return maskJSON(data)
}

// appendIndentedForm appends to dst the JSON form of v (jsonForm) indented
// as json.Indent(dst, form, prefix, indent) would. It takes one pass over
// what v's MarshalJSON returns, without the compaction encoding/json would
// add or a second pass for secrets, when that pass finds no secret member
// name and, unless show, plain ASCII strings without escapes: exactly when
// maskChangesNothing would let the form through unchanged. Anything else
// takes the long way (TestIndentedFormMatchesJSONForm holds the two to the
// same bytes).
func appendIndentedForm(dst []byte, v any, show bool, prefix, indent string) ([]byte, error) {
	if raw, ok := jsonfmt.Form(v); ok {
		raw = bytes.TrimRight(raw, " \t\r\n")
		opts := jsonfmt.Options{}
		if !show {
			opts = jsonfmt.Options{Plain: true, Member: notSecret}
		}
		if out, ok := jsonfmt.AppendIndent(dst, raw, prefix, indent, opts); ok {
			return out, nil
		}
	}
	return appendIndentedFormSlowly(dst, v, show, prefix, indent)
}

// appendIndentedFormSlowly is appendIndentedForm the long way: the JSON
// form, masked, through json.Indent.
func appendIndentedFormSlowly(dst []byte, v any, show bool, prefix, indent string) ([]byte, error) {
	b, err := jsonForm(v, show)
	if err != nil {
		return dst, err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, prefix, indent); err != nil {
		return dst, err
	}
	return append(dst, ind.Bytes()...), nil
}

// notSecret reports that a raw member name (between its quotes, escapes
// unresolved) is not one of secretFields.
func notSecret(name []byte) bool { return !secretFields[string(name)] }

// maskChangesNothing reports, in one pass, that maskJSON would return
// compact JSON data unchanged: it names no secret member, and it is plain
// ASCII without escapes, so re-encoding its strings gives the same bytes.
// Listings, whose keys the service already left out, take this path.
func maskChangesNothing(data []byte) bool {
	for _, c := range data {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	for name := range secretFields {
		if bytes.Contains(data, []byte(`"`+name+`"`)) {
			return false
		}
	}
	return true
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// maskJSON rewrites a JSON document, replacing the string values of secret
// members, and keeps member order.
func maskJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj   bool
		key   bool // in an object: the next token is a member name
		count int
	}
	var (
		buf      bytes.Buffer
		stack    []frame
		maskNext bool
	)
	done := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		top.count++
		if top.obj {
			top.key = true
		}
	}
	writeString := func(s string) error {
		b, err := marshal(s)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		closing := tok == json.Delim('}') || tok == json.Delim(']')
		isKey := false
		if len(stack) > 0 && !closing {
			top := &stack[len(stack)-1]
			switch {
			case top.obj && top.key:
				if top.count > 0 {
					buf.WriteByte(',')
				}
				isKey = true
			case top.obj:
				buf.WriteByte(':')
			case top.count > 0:
				buf.WriteByte(',')
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			maskNext = false
			if closing {
				stack = stack[:len(stack)-1]
				buf.WriteRune(rune(t))
				done()
				continue
			}
			buf.WriteRune(rune(t))
			stack = append(stack, frame{obj: t == '{', key: t == '{'})
		case string:
			if isKey {
				if err := writeString(t); err != nil {
					return nil, err
				}
				stack[len(stack)-1].key = false
				maskNext = secretFields[t]
				continue
			}
			if maskNext {
				t = MaskSecret(t)
			}
			maskNext = false
			if err := writeString(t); err != nil {
				return nil, err
			}
			done()
		case json.Number:
			maskNext = false
			buf.WriteString(t.String())
			done()
		case bool:
			maskNext = false
			fmt.Fprintf(&buf, "%t", t)
			done()
		case nil:
			maskNext = false
			buf.WriteString("null")
			done()
		}
	}
	return buf.Bytes(), nil
}
