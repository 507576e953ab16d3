package cmdutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

// MaxInputSize bounds files read with ReadFile.
const MaxInputSize = 16 << 20

// ReadFile reads a file named on the command line; "-" reads stdin.
func ReadFile(ios *iostreams.IOStreams, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = ios.In
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxInputSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxInputSize)
	}
	return b, nil
}

// ConfirmDestructive asks before a destructive action. With yes set it
// proceeds. When no question can be asked (stdin or stderr is not a
// terminal) it fails with a usage error asking for --yes. A declined prompt
// returns ErrCancel.
func ConfirmDestructive(ios *iostreams.IOStreams, yes bool, question string) error {
	if yes {
		return nil
	}
	if !ios.CanPrompt() {
		return FlagErrorf("--yes is required when not running interactively")
	}
	fmt.Fprintf(ios.ErrOut, "%s [y/N]: ", question)
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(ios.ErrOut)
		return ErrCancel
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return ErrCancel
}
