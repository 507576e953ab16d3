package model

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestIsBase64Text(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"AAEC", true},
		{"MIIB+/==", true},
		{"MIIB-_", true},
		{"AA EC\r\n\tAA==", true},
		{" \n", true},
		{"AA.EC", false},
		{"AAEC\v", false},
		{"AA\x00", false},
		{"\x30\x82\x01\x0a", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := IsBase64Text(tt.in); got != tt.want {
			t.Errorf("IsBase64Text(%q) = %t, want %t", tt.in, got, tt.want)
		}
		if got := IsBase64Text([]byte(tt.in)); got != tt.want {
			t.Errorf("IsBase64Text([]byte(%q)) = %t, want %t", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xbf, 0x01}
	tests := []struct {
		name string
		in   string
		want []byte
		err  string
	}{
		{"standard", base64.StdEncoding.EncodeToString(data), data, ""},
		{"standard without padding", base64.RawStdEncoding.EncodeToString(data), data, ""},
		{"URL-safe", base64.URLEncoding.EncodeToString(data), data, ""},
		{"URL-safe without padding", base64.RawURLEncoding.EncodeToString(data), data, ""},
		{"white space", " +/+/\r\nAQ==\t", data, ""},
		{"empty", "", []byte{}, ""},
		{"only white space", " \n", []byte{}, ""},
		{"not base64", "AA.EC", nil, "illegal base64 data at input byte 2"},
		{"mixed alphabets", "+_8=", nil, "illegal base64 data at input byte 0"},
		{"one character", "A", nil, "illegal base64 data at input byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBase64(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}
