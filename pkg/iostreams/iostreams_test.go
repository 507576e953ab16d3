package iostreams

import (
	"os"
	"testing"
)

func TestTestStreams(t *testing.T) {
	s, in, out, errOut := Test()
	in.WriteString("yes\n")
	if s.IsStdinTTY() || s.IsStdoutTTY() || s.IsStderrTTY() {
		t.Fatal("test streams must start as non-terminals")
	}
	if s.CanPrompt() {
		t.Fatal("CanPrompt on non-terminals")
	}
	s.SetTTY(true)
	if !s.IsStdinTTY() || !s.IsStdoutTTY() || !s.IsStderrTTY() || !s.CanPrompt() {
		t.Fatal("SetTTY(true) did not switch all streams")
	}
	s.SetNeverPrompt(true)
	if s.CanPrompt() {
		t.Fatal("CanPrompt with prompts disabled")
	}
	s.Out.Write([]byte("a"))
	s.ErrOut.Write([]byte("b"))
	if out.String() != "a" || errOut.String() != "b" {
		t.Fatalf("buffers: %q %q", out, errOut)
	}
	if got := s.TerminalWidth(); got != DefaultWidth {
		t.Fatalf("width %d", got)
	}
	s.SetTerminalWidth(120)
	if got := s.TerminalWidth(); got != 120 {
		t.Fatalf("width %d", got)
	}
}

func TestForceTTY(t *testing.T) {
	tests := []struct {
		env     string
		wantTTY bool
		width   int
	}{
		{"1", true, 0},
		{"true", true, 0},
		{"150", true, 150},
		{"0", false, 0},
		{"false", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("DPSCTL_FORCE_TTY", tt.env)
			s := System()
			// stdout under go test is never a terminal, so only the override can make it one.
			if !tt.wantTTY && isTerminal(os.Stdout) {
				t.Skip("stdout is a terminal")
			}
			if got := s.IsStdoutTTY(); got != tt.wantTTY {
				t.Fatalf("IsStdoutTTY = %v, want %v", got, tt.wantTTY)
			}
			if tt.width > 0 && s.TerminalWidth() != tt.width {
				t.Fatalf("width = %d, want %d", s.TerminalWidth(), tt.width)
			}
		})
	}
}
