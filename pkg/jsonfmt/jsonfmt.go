// Package jsonfmt reformats JSON text as encoding/json's Indent and Compact
// do, byte for byte, in one pass over the input without encoding/json's
// per-byte state machine. Listings reformat every item they print or
// serve, and there that state machine was a third of the work.
//
// Each function validates its input as it goes and reports false on text
// encoding/json would refuse (leaving dst as it was); callers then fall back
// to encoding/json, whose error they return. FuzzIndent and FuzzCompact hold
// both functions to encoding/json on arbitrary input.
package jsonfmt

import (
	"encoding/json"
	"reflect"
)

// Form returns what a v that is a json.Marshaler (not a nil pointer,
// which encoding/json writes as null without calling it) says its JSON
// is, as its MarshalJSON returned it: neither compacted nor checked. For
// any other v, or when MarshalJSON fails, it reports false; the caller
// marshals v the usual way.
func Form(v any) ([]byte, bool) {
	m, ok := v.(json.Marshaler)
	if !ok {
		return nil, false
	}
	if r := reflect.ValueOf(v); r.Kind() == reflect.Pointer && r.IsNil() {
		return nil, false
	}
	raw, err := m.MarshalJSON()
	return raw, err == nil
}

// AppendMarshal appends to dst what json.Marshal(v) returns for a v whose
// Form is text AppendCompact accepts: that text compacted and HTML escaped
// in one pass, without encoding/json's reflection and validating
// compaction. For any other v it reports false, dst unchanged.
func AppendMarshal(dst []byte, v any) ([]byte, bool) {
	raw, ok := Form(v)
	if !ok {
		return dst, false
	}
	return AppendCompact(dst, raw, true)
}

// Marshal is AppendMarshal into a new buffer.
func Marshal(v any) ([]byte, bool) {
	raw, ok := Form(v)
	if !ok {
		return nil, false
	}
	return AppendCompact(make([]byte, 0, len(raw)+len(raw)/16), raw, true)
}

// maxDepth is encoding/json's nesting limit: deeper text is refused.
const maxDepth = 10000

// Options tune AppendIndent.
type Options struct {
	// Member, if set, is called with the raw bytes of every object
	// member name, between its quotes and escapes unresolved; returning
	// false stops the pass, and AppendIndent reports false.
	Member func(name []byte) bool
	// Plain, if set, stops the pass (AppendIndent reports false) at the
	// first string holding a backslash or a byte of 0x80 or more.
	Plain bool
}

// AppendIndent appends to dst what json.Indent(dst, src, prefix, indent)
// would, and reports true; on text json.Indent refuses, or when opts stop
// the pass, it returns dst unchanged and false.
func AppendIndent(dst, src []byte, prefix, indent string, opts Options) ([]byte, bool) {
	s := scanner{src: src, dst: dst, prefix: prefix, indent: indent, opts: opts, pretty: true}
	if !s.top() {
		return dst, false
	}
	return s.dst, true
}

// AppendCompact appends to dst what encoding/json writes for src when a
// json.Marshaler returns it: src without insignificant space, and with
// escapeHTML the characters <, > and & in strings, and U+2028 and U+2029,
// written as \u escapes (json.Compact is escapeHTML false; json.Marshal
// and an Encoder that escapes HTML are true). It reports false, dst
// unchanged, on text encoding/json refuses.
func AppendCompact(dst, src []byte, escapeHTML bool) ([]byte, bool) {
	s := scanner{src: src, dst: dst, escape: escapeHTML}
	if !s.top() {
		return dst, false
	}
	return s.dst, true
}

// AppendCompactWithout is AppendCompact leaving out the object members
// for which drop returns true, given the member's path: the raw names
// (escapes unresolved) of the members that lead to it from the top, nil
// for an array element, its own name last. The path is reused: drop must
// not keep it.
func AppendCompactWithout(dst, src []byte, escapeHTML bool, drop func(path [][]byte) bool) ([]byte, bool) {
	s := scanner{src: src, dst: dst, escape: escapeHTML, drop: drop}
	if !s.top() {
		return dst, false
	}
	return s.dst, true
}

type scanner struct {
	src, dst       []byte
	i              int
	prefix, indent string
	opts           Options
	pretty         bool // AppendIndent; else AppendCompact
	escape         bool // AppendCompact's HTML escaping
	depth          int
	// drop, if set, says which object members to leave out, by path: the
	// member names from the top, nil for an array element.
	drop func(path [][]byte) bool
	path [][]byte
}

// top scans one value and what follows it: trailing space is kept by
// Indent and dropped by Compact, as encoding/json does.
func (s *scanner) top() bool {
	s.space()
	if !s.value() {
		return false
	}
	start := s.i
	s.space()
	if s.i != len(s.src) {
		return false
	}
	if s.pretty {
		s.dst = append(s.dst, s.src[start:]...)
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) space() {
	for s.i < len(s.src) && isSpace(s.src[s.i]) {
		s.i++
	}
}

func (s *scanner) newline() {
	s.dst = append(s.dst, '\n')
	s.dst = append(s.dst, s.prefix...)
	for range s.depth {
		s.dst = append(s.dst, s.indent...)
	}
}

func (s *scanner) value() bool {
	if s.i >= len(s.src) {
		return false
	}
	switch c := s.src[s.i]; {
	case c == '{':
		return s.container('}')
	case c == '[':
		return s.container(']')
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

// container scans an object (end '}') or an array (end ']').
func (s *scanner) container(end byte) bool {
	if s.depth+1 > maxDepth {
		return false
	}
	s.dst = append(s.dst, s.src[s.i])
	s.i++
	s.space()
	if s.i < len(s.src) && s.src[s.i] == end {
		s.dst = append(s.dst, end)
		s.i++
		return true
	}
	s.depth++
	written := 0
	for {
		mark := len(s.dst)
		if written > 0 {
			s.dst = append(s.dst, ',')
		}
		if s.pretty {
			s.newline()
		}
		var name []byte // an array element's is nil
		if end == '}' {
			if s.i >= len(s.src) || s.src[s.i] != '"' {
				return false
			}
			var ok bool
			if name, ok = s.str(); !ok {
				return false
			}
			if s.opts.Member != nil && !s.opts.Member(name) {
				return false
			}
			s.space()
			if s.i >= len(s.src) || s.src[s.i] != ':' {
				return false
			}
			s.i++
			s.dst = append(s.dst, ':')
			if s.pretty {
				s.dst = append(s.dst, ' ')
			}
			s.space()
		}
		s.path = append(s.path, name)
		drop := end == '}' && s.drop != nil && s.drop(s.path)
		ok := s.value()
		s.path = s.path[:len(s.path)-1]
		if !ok {
			return false
		}
		if drop {
			s.dst = s.dst[:mark]
		} else {
			written++
		}
		s.space()
		if s.i >= len(s.src) {
			return false
		}
		switch s.src[s.i] {
		case ',':
			s.i++
			s.space()
			continue
		case end:
			s.i++
			s.depth--
			if s.pretty && written > 0 {
				s.newline()
			}
			s.dst = append(s.dst, end)
			return true
		}
		return false
	}
}

// strByte classifies the bytes of a string: 0 copied as they are, 1 the
// end quote, 2 a backslash, 3 refused (a control character), 4 a byte that
// Compact may escape (<, >, &, 0xE2), 5 a byte of 0x80 or more that Plain
// stops at.
var strByte = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = 3
	}
	t['"'] = 1
	t['\\'] = 2
	t['<'], t['>'], t['&'] = 4, 4, 4
	for c := 0x80; c < 0x100; c++ {
		t[c] = 5
	}
	t[0xE2] = 4
	return t
}()

const hexDigits = "0123456789abcdef"

// str scans a string at s.i, copying it, and returns its contents between
// the quotes as they are in src.
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	s.i++
	copied := start // src[copied:s.i] is still to be appended
	src := s.src
	for {
		i := s.i
		for i < len(src) && strByte[src[i]] == 0 {
			i++
		}
		s.i = i
		if i >= len(src) {
			return nil, false
		}
		c := src[i]
		switch strByte[c] {
		case 1:
			s.i++
			s.dst = append(s.dst, s.src[copied:s.i]...)
			return s.src[start+1 : s.i-1], true
		case 2:
			if s.opts.Plain {
				return nil, false
			}
			if !s.escapeSeq() {
				return nil, false
			}
		case 3:
			return nil, false
		case 4:
			if s.opts.Plain && c >= 0x80 {
				return nil, false
			}
			if !s.escape {
				s.i++
				continue
			}
			if c != 0xE2 {
				s.dst = append(s.dst, s.src[copied:s.i]...)
				s.dst = append(s.dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
				s.i++
				copied = s.i
				continue
			}
			if s.i+2 < len(s.src) && s.src[s.i+1] == 0x80 && s.src[s.i+2]&^1 == 0xA8 {
				s.dst = append(s.dst, s.src[copied:s.i]...)
				s.dst = append(s.dst, '\\', 'u', '2', '0', '2', hexDigits[s.src[s.i+2]&0xF])
				s.i += 3
				copied = s.i
				continue
			}
			s.i++
		case 5:
			if s.opts.Plain {
				return nil, false
			}
			s.i++
		}
	}
}

// escapeSeq checks the escape sequence at s.i (a backslash) and steps over
// it.
func (s *scanner) escapeSeq() bool {
	if s.i+1 >= len(s.src) {
		return false
	}
	switch s.src[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+5 >= len(s.src) {
			return false
		}
		for _, h := range s.src[s.i+2 : s.i+6] {
			if !isHex(h) {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) literal(word string) bool {
	if len(s.src)-s.i < len(word) || string(s.src[s.i:s.i+len(word)]) != word {
		return false
	}
	s.dst = append(s.dst, word...)
	s.i += len(word)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
	start := s.i
	if s.src[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.src) && s.src[s.i] == '0':
		s.i++
	case s.i < len(s.src) && s.src[s.i] >= '1' && s.src[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.src) && s.src[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.src) && (s.src[s.i] == 'e' || s.src[s.i] == 'E') {
		s.i++
		if s.i < len(s.src) && (s.src[s.i] == '+' || s.src[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	s.dst = append(s.dst, s.src[start:s.i]...)
	return true
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.src) && s.src[s.i] >= '0' && s.src[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
