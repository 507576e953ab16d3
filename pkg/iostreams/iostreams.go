// Package iostreams wraps the standard streams of the process together with
// what the CLI needs to know about them: whether each one is a terminal and
// how wide the terminal is. Tests use Test, which returns buffer-backed,
// non-terminal streams whose terminal state can be switched on.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// DefaultWidth is the width assumed when the terminal width is unknown.
const DefaultWidth = 80

// IOStreams holds the process's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY *bool // nil: detect
	width                          int   // 0: detect
	neverPrompt                    bool
}

// System returns the streams of the running process. DPSCTL_FORCE_TTY makes
// stdout count as a terminal (a number sets the width as well).
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if v := os.Getenv("DPSCTL_FORCE_TTY"); v != "" && v != "0" && !strings.EqualFold(v, "false") {
		s.SetStdoutTTY(true)
		if n, err := strconv.Atoi(v); err == nil && n > 1 {
			s.width = n
		}
	}
	if v := os.Getenv("DPSCTL_PROMPT_DISABLED"); v != "" && v != "0" {
		s.neverPrompt = true
	}
	return s
}

// Test returns streams backed by buffers: stdin, stdout and stderr. None is
// a terminal until switched on with the Set…TTY methods.
func Test() (s *IOStreams, stdin, stdout, stderr *bytes.Buffer) {
	stdin, stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	f := false
	s = &IOStreams{In: stdin, Out: stdout, ErrOut: stderr, stdinTTY: &f, stdoutTTY: &f, stderrTTY: &f, width: DefaultWidth}
	return s, stdin, stdout, stderr
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

func tty(override *bool, stream any) bool {
	if override != nil {
		return *override
	}
	return isTerminal(stream)
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return tty(s.stdinTTY, s.In) }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return tty(s.stdoutTTY, s.Out) }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return tty(s.stderrTTY, s.ErrOut) }

// SetStdinTTY overrides terminal detection for stdin.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = &v }

// SetStdoutTTY overrides terminal detection for stdout.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = &v }

// SetStderrTTY overrides terminal detection for stderr.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = &v }

// SetTTY switches all three streams to terminal or non-terminal at once.
func (s *IOStreams) SetTTY(v bool) {
	s.SetStdinTTY(v)
	s.SetStdoutTTY(v)
	s.SetStderrTTY(v)
}

// SetTerminalWidth fixes the terminal width (0 detects it again).
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// TerminalWidth returns the width of the terminal stdout is on, or
// DefaultWidth when it cannot be told.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if f, ok := s.Out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if v, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && v > 0 {
		return v
	}
	return DefaultWidth
}

// SetNeverPrompt disables (or enables again) interactive prompts.
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }

// CanPrompt reports whether the user can be asked a question: stdin and
// stderr (where prompts go) are terminals and prompts are not disabled
// (DPSCTL_PROMPT_DISABLED).
func (s *IOStreams) CanPrompt() bool {
	return !s.neverPrompt && s.IsStdinTTY() && s.IsStderrTTY()
}
