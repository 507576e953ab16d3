package output

import (
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/clipperhouse/displaywidth"
)

// Display widths of table cells. Tables were laid out by tablewriter, whose
// width rules are kept here so that tables print the same bytes (tests hold
// writeTable to tablewriter's output): a cell is as wide as the sum of its
// runes' widths, ambiguous East Asian characters count 2 where the locale
// is Chinese, Japanese or Korean and the terminal is not a modern one
// (RUNEWIDTH_EASTASIAN overrides), and with wide ambiguous characters on a
// modern terminal box-drawing characters count 1. Nothing here runs before
// a table is printed.

// cellWidths is the width setting of this process, decided on first use.
var cellWidths = sync.OnceValue(func() widthRules { return widthRulesFrom(os.Getenv, runtime.GOOS) })

type widthRules struct {
	eastAsian   bool // ambiguous characters are wide
	narrowBoxes bool // box-drawing characters are narrow all the same
}

func widthRulesFrom(getenv func(string) string, goos string) widthRules {
	modern := modernTerminal(getenv, goos)
	ea, forced := eastAsianOverride(getenv("RUNEWIDTH_EASTASIAN"))
	if !forced {
		ea = !modern && cjkLocale(getenv)
	}
	return widthRules{eastAsian: ea, narrowBoxes: ea && modern}
}

// width is the display width of s.
func (w widthRules) width(s string) int {
	opts := displaywidth.Options{EastAsianWidth: w.eastAsian}
	n := 0
	for _, r := range s {
		if r < 0x80 {
			n += opts.Rune(r)
			continue
		}
		if w.narrowBoxes && r >= 0x2500 && r <= 0x257F {
			n++
			continue
		}
		n += opts.Rune(r)
	}
	return n
}

func eastAsianOverride(v string) (wide, set bool) {
	switch strings.ToLower(v) {
	case "1", "on", "true", "yes":
		return true, true
	case "0", "off", "false", "no":
		return false, true
	}
	return false, false
}

// modernTerminals draw ambiguous characters narrow whatever the locale.
var modernTerminals = []string{
	"vscode", "visual studio code", "iterm.app", "iterm2", "windows terminal", "windowsterminal",
	"alacritty", "kitty", "hyper", "tabby", "terminus", "fluentterminal", "warp", "ghostty", "rio",
	"jetbrains-jediterm", "xterm-kitty", "xterm-ghostty", "wezterm",
}

func modernTerminal(getenv func(string) string, goos string) bool {
	if p := getenv("TERM_PROGRAM"); p != "" && contains(modernTerminals, strings.ToLower(p)) {
		return true
	}
	if getenv("TERM_PROGRAM_WSL") != "" {
		return true
	}
	term := strings.ToLower(getenv("TERM"))
	if goos == "windows" {
		if getenv("WT_PROFILE_ID") != "" || getenv("ConEmuANSI") == "ON" {
			return true
		}
		if strings.Contains(term, "xterm") || strings.Contains(term, "vt") {
			return true
		}
	}
	if getenv("VTE_VERSION") != "" || getenv("ALACRITTY_LOG") != "" {
		return true
	}
	if term == "" {
		return false
	}
	return contains(modernTerminals, term) ||
		strings.Contains(term, "xterm") && !strings.Contains(term, "xterm-mono") ||
		strings.Contains(term, "screen") || strings.Contains(term, "tmux")
}

// cjkLocale reports whether the locale in effect (LC_ALL, LC_CTYPE, LANG)
// is Chinese, Japanese or Korean, by language or by region.
func cjkLocale(getenv func(string) string) bool {
	loc := getenv("LC_ALL")
	if loc == "" {
		loc = getenv("LC_CTYPE")
	}
	if loc == "" {
		loc = getenv("LANG")
	}
	if loc == "" || loc == "C" || loc == "POSIX" {
		return false
	}
	if i := strings.IndexByte(loc, '.'); i >= 0 {
		loc = loc[:i]
	}
	if i := strings.IndexByte(loc, '@'); i >= 0 {
		loc = loc[:i]
	}
	loc = strings.ToLower(loc)
	for _, lang := range []string{"zh", "ja", "ko", "chi", "zho", "jpn", "kor", "chinese", "japanese", "korean"} {
		if strings.HasPrefix(loc, lang) {
			return true
		}
	}
	parts := strings.Split(loc, "_")
	for _, region := range parts[1:] {
		if contains([]string{"cn", "tw", "hk", "mo", "jp", "kr", "kp", "sg"}, region) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
