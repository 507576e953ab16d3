package httpapi

import (
	"bytes"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply the objects and arrays of a JSON body the
// service reads may nest; the body's own object is level 1. Every request
// body the service decodes (the service API, bulk and query calls
// included, and the device API) and every custom allocation webhook answer
// is checked: a deeper one is refused with 400 before anything is decoded
// or stored.
//
// DPS bounds the JSON it keeps far below this: IoT Hub allows 10 levels of
// nesting inside a twin's tags and properties, which sit at level 4 of an
// enrollment. A 96 KB body could otherwise nest some 47,000 levels, stored
// as they came, beyond what encoding/json reads back (10,000 levels): every
// later read of that entity would fail.
const MaxJSONDepth = 64

// CheckJSONBody refuses a JSON body that is not valid UTF-8 (in strings or
// keys) or that nests deeper than MaxJSONDepth. It does not otherwise
// validate the JSON: the decoder does.
func CheckJSONBody(b []byte) error {
	if !utf8.Valid(b) {
		return BadRequest("the request body is not valid UTF-8 (byte offset %d)", invalidUTF8At(b))
	}
	if at := jsonTooDeepAt(b, MaxJSONDepth); at >= 0 {
		return BadRequest("the request body nests JSON objects and arrays deeper than %d levels (byte offset %d)", MaxJSONDepth, at)
	}
	return nil
}

// jsonTooDeepAt returns the offset of the first '{' or '[' of b that opens
// level max+1, or -1 when b nests no deeper than max. It makes one pass
// over b, skipping strings with bytes.IndexByte; brackets inside strings do
// not count. Invalid JSON is left to the decoder (closers without an
// opener do not lower the depth below zero).
func jsonTooDeepAt(b []byte, max int) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Find the closing quote: the first one preceded by an even
			// number of backslashes.
			for {
				j := bytes.IndexByte(b[i+1:], '"')
				if j < 0 {
					return -1 // unterminated string: not JSON
				}
				i += 1 + j
				if b[i-1] != '\\' {
					break
				}
				k := i - 2
				for b[k] == '\\' { // the opening quote stops the loop
					k--
				}
				if (i-1-k)%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
			if depth > max {
				return i
			}
		case '}', ']':
			if depth > 0 { // a closer too many is the decoder's to refuse
				depth--
			}
		}
	}
	return -1
}

// invalidUTF8At returns the offset of the first byte of b that is not part
// of a valid UTF-8 sequence (len(b) if there is none).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
