package model

import (
	"encoding/base64"
	"strings"
)

// The wire carries keys, endorsement keys and certificates as base64, and
// users paste them in whatever alphabet and line breaks their tools wrote.

// IsBase64Text reports whether s is base64 text rather than binary data
// (such as DER): not empty, and only the characters of the standard and
// URL-safe alphabets, padding and white space (' ', '\t', '\r', '\n').
// It says nothing of whether s decodes.
func IsBase64Text[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == '-', c == '_',
			c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return false
		}
	}
	return true
}

// base64Encodings are tried in this order by DecodeBase64.
var base64Encodings = []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}

// DecodeBase64 decodes s as standard or URL-safe base64, padded or not,
// ignoring white space (' ', '\t', '\r', '\n'). Empty input decodes to
// nothing. The error is that of the last alphabet tried, the URL-safe one
// without padding.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	var err error
	for _, enc := range base64Encodings {
		var raw []byte
		if raw, err = enc.DecodeString(s); err == nil {
			return raw, nil
		}
	}
	return nil, err
}
