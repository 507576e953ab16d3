package output

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// tablewriterTable is how tables were rendered before writeTable laid them
// out itself (tablewriter costs every process its start-up tables); it is
// the reference writeTable's output is held to, byte for byte.
func tablewriterTable(t testing.TB, headers []string, rows [][]string) string {
	t.Helper()
	var buf bytes.Buffer
	cell := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "  ", Overwrite: true}},
	}
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cell, Row: cell, Behavior: tw.Behavior{TrimSpace: tw.Off}}),
	)
	if headers != nil {
		tbl.Header(headers)
	}
	for _, r := range rows {
		if err := tbl.Append(clean(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tbl.Render(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeTrimmed(&out, buf.String()); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func renderTable(t testing.TB, width int, headers []string, rows [][]string, full []bool) string {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	p, err := New(ios, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.width = width
	if err := p.writeTable(headers, rows, full); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// comparable reports whether tablewriter's output is the reference for the
// cells: no control characters (writeTable keeps escape sequences out of
// the arithmetic of widths rather than copying tablewriter's resets, and
// keeps a header on one line as it does cells), valid UTF-8.
func comparable(headers []string, rows [][]string) bool {
	ok := func(s string) bool {
		if !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return false
			}
		}
		return true
	}
	for _, h := range headers {
		if !ok(h) {
			return false
		}
	}
	for _, r := range rows {
		for _, c := range clean(r) {
			if !ok(c) {
				return false
			}
		}
	}
	return true
}

var tableCases = []struct {
	name    string
	headers []string
	rows    [][]string
	width   int
	full    []bool
}{
	{name: "header and rows", headers: []string{"A", "LONGER"}, rows: [][]string{{"x", "y"}, {"longer cell", "z"}}},
	{name: "no header", rows: [][]string{{"x", "y"}, {"longer cell", "z"}}},
	{name: "empty header list", headers: []string{}, rows: [][]string{{"a", "b"}}},
	{name: "empty header cells", headers: []string{"", ""}, rows: [][]string{{"a", "b"}}},
	{name: "wide and accented", headers: []string{"A", "B"}, rows: [][]string{{"", ""}, {"日本語", "é"}, {"ｱｲ", "✓ ok"}}},
	{name: "ambiguous and emoji", headers: []string{"K", "V"}, rows: [][]string{{"±½§", "😀x"}, {"─┼─", "a\u0301"}, {"\u200b", "ﬁ"}}},
	{name: "spaces kept inside", headers: []string{" A ", "C"}, rows: [][]string{{" 1 ", "2 "}, {"", " "}}},
	{name: "ragged rows", headers: []string{"A", "B", "C"}, rows: [][]string{{"1"}, {"1", "2", "3", "4"}, {}}},
	{name: "rows without cells between", headers: []string{"A", "B"}, rows: [][]string{{"a"}, {}, {"b", "c"}, {}, {}}},
	{name: "no header, rows without cells", rows: [][]string{{}, {"", ""}, {}}},
	{name: "line breaks and tabs in cells", headers: []string{"A", "B"}, rows: [][]string{{"a\tb", "c\nd"}, {"e\r\nf", "g"}}},
	{name: "empty last rows", headers: []string{"A", "B"}, rows: [][]string{{"a", "b"}, {"", ""}, {"", ""}}},
	{name: "no columns", headers: []string{}, rows: [][]string{{}, {}}},
	{name: "narrowed to the terminal", headers: []string{"REGISTRATION ID", "STATUS", "HUB"}, width: 30,
		rows: [][]string{{"device-with-a-long-registration-id", "enabled", "hub1.azure-devices.net"}, {"d2", "disabled", "h"}}},
	{name: "narrowed, a full column", headers: []string{"NAME", "KEY"}, width: 20, full: []bool{false, true},
		rows: [][]string{{"a-rather-long-name-here", "c2VjcmV0LWtleS12YWx1ZQ=="}}},
}

// TestTableMatchesTablewriter: the tables writeTable prints are the bytes
// tablewriter printed for the same cells.
func TestTableMatchesTablewriter(t *testing.T) {
	for _, tt := range tableCases {
		t.Run(tt.name, func(t *testing.T) {
			if !comparable(tt.headers, tt.rows) {
				t.Fatal("case outside what tablewriter is the reference for")
			}
			got := renderTable(t, tt.width, tt.headers, tt.rows, tt.full)
			want := tablewriterTable(t, tt.headers, fit(tt.headers, tt.rows, tt.width, tt.full))
			if got != want {
				t.Errorf("writeTable:\n%q\ntablewriter:\n%q", got, want)
			}
		})
	}
}

// FuzzTableMatchesTablewriter: rows are the lines of data, cells split at
// '|'; the header is the first line when withHeader.
func FuzzTableMatchesTablewriter(f *testing.F) {
	f.Add("A|B\nx|y\nlonger|z", true, 0)
	f.Add("日本語|é\n±|─┼─", true, 0)
	f.Add("a|b|c\nd\n|e", false, 0)
	f.Add("REGISTRATION ID|STATUS\ndevice-long-registration-id|enabled", true, 20)
	f.Fuzz(func(t *testing.T, data string, withHeader bool, width int) {
		if width < 0 || width > 400 || len(data) > 2000 {
			return
		}
		var headers []string
		var rows [][]string
		for i, l := range strings.Split(data, "\n") {
			cells := strings.Split(l, "|")
			if i == 0 && withHeader {
				headers = cells
				continue
			}
			rows = append(rows, cells)
		}
		if !comparable(headers, rows) {
			return
		}
		got := renderTable(t, width, headers, rows, nil)
		want := tablewriterTable(t, headers, fit(headers, rows, width, nil))
		if got != want {
			t.Errorf("writeTable:\n%q\ntablewriter:\n%q", got, want)
		}
	})
}

// TestWidthMatchesTwwidth: cell widths under each setting are tablewriter's.
func TestWidthMatchesTwwidth(t *testing.T) {
	samples := []string{"", "abc", "日本語", "é", "±½§×", "─┼─│", "😀", "a\u0301", "\u200b", "ｱｲｳ", "Ω≈ç√", "\ufffd", "한국어", "①②"}
	for _, ea := range []bool{false, true} {
		for _, narrow := range []bool{false, true} {
			rules := widthRules{eastAsian: ea, narrowBoxes: narrow}
			for _, s := range samples {
				want := twwidth.WidthWithOptions(s, twwidth.Options{EastAsianWidth: ea, ForceNarrowBorders: narrow})
				if got := rules.width(s); got != want {
					t.Errorf("width(%q) east-asian %v narrow boxes %v = %d, tablewriter %d", s, ea, narrow, got, want)
				}
			}
		}
	}
}

// TestWidthRulesFromEnvironment: which settings the environment selects.
func TestWidthRulesFromEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		goos string
		want widthRules
	}{
		{"no locale", nil, "linux", widthRules{}},
		{"C locale", map[string]string{"LANG": "C"}, "linux", widthRules{}},
		{"english", map[string]string{"LANG": "en_US.UTF-8"}, "linux", widthRules{}},
		{"japanese", map[string]string{"LANG": "ja_JP.UTF-8"}, "linux", widthRules{eastAsian: true}},
		{"region only", map[string]string{"LC_CTYPE": "en_SG.UTF-8"}, "linux", widthRules{eastAsian: true}},
		{"LC_ALL first", map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "linux", widthRules{}},
		{"modifier", map[string]string{"LANG": "ko_KR@euro"}, "linux", widthRules{eastAsian: true}},
		{"japanese on xterm", map[string]string{"LANG": "ja_JP.UTF-8", "TERM": "xterm-256color"}, "linux", widthRules{}},
		{"japanese on xterm-mono", map[string]string{"LANG": "ja_JP.UTF-8", "TERM": "xterm-mono"}, "linux", widthRules{eastAsian: true}},
		{"japanese in tmux", map[string]string{"LANG": "ja_JP.UTF-8", "TERM": "tmux-256color"}, "linux", widthRules{}},
		{"japanese in vscode", map[string]string{"LANG": "ja_JP.UTF-8", "TERM_PROGRAM": "vscode"}, "linux", widthRules{}},
		{"japanese in VTE", map[string]string{"LANG": "ja_JP.UTF-8", "VTE_VERSION": "7000"}, "linux", widthRules{}},
		{"windows vt", map[string]string{"LANG": "ja_JP", "TERM": "vt100"}, "windows", widthRules{}},
		{"linux vt", map[string]string{"LANG": "ja_JP", "TERM": "vt100"}, "linux", widthRules{eastAsian: true}},
		{"override on", map[string]string{"RUNEWIDTH_EASTASIAN": "1"}, "linux", widthRules{eastAsian: true}},
		{"override on, modern terminal", map[string]string{"RUNEWIDTH_EASTASIAN": "yes", "TERM": "xterm"}, "linux", widthRules{eastAsian: true, narrowBoxes: true}},
		{"override off", map[string]string{"RUNEWIDTH_EASTASIAN": "off", "LANG": "ja_JP.UTF-8"}, "linux", widthRules{}},
		{"override unreadable", map[string]string{"RUNEWIDTH_EASTASIAN": "maybe", "LANG": "ja_JP.UTF-8"}, "linux", widthRules{eastAsian: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := widthRulesFrom(func(k string) string { return tt.env[k] }, tt.goos)
			if got != tt.want {
				t.Errorf("widthRulesFrom = %+v, want %+v", got, tt.want)
			}
		})
	}
}
