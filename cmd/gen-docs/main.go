// Command gen-docs writes the generated reference material of dpsctl: the
// markdown command reference (docs/cli), man pages (docs/man) and the shell
// completion scripts (completions/). Run from the repository root:
//
//	go run ./cmd/gen-docs
//
// A test in this package fails when the committed files drift from the code.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/dpsctl/dpsctl/pkg/cmd/factory"
	"github.com/dpsctl/dpsctl/pkg/cmd/root"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

func main() {
	dir := flag.String("dir", ".", "repository root to write into")
	flag.Parse()
	if err := generate(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

// Outputs are the generated directories, relative to the repository root.
var Outputs = []string{"docs/cli", "docs/man", "completions"}

func newRoot() *cobra.Command {
	ios, _, _, _ := iostreams.Test()
	f := factory.NewWithIO(ios, "")
	cmd := root.NewCmdRoot(f)
	cmd.DisableAutoGenTag = true
	return cmd
}

func generate(dir string) error {
	for _, o := range Outputs {
		p := filepath.Join(dir, o)
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	cmd := newRoot()
	if err := doc.GenMarkdownTree(cmd, filepath.Join(dir, "docs/cli")); err != nil {
		return fmt.Errorf("markdown: %w", err)
	}
	cmd = newRoot()
	// A fixed date keeps the pages byte-for-byte reproducible.
	date := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	header := &doc.GenManHeader{Title: "DPSCTL", Section: "1", Source: "dpsctl", Manual: "dpsctl manual", Date: &date}
	if err := doc.GenManTree(cmd, header, filepath.Join(dir, "docs/man")); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	for shell, gen := range map[string]func(*cobra.Command, *bytes.Buffer) error{
		"bash":       func(c *cobra.Command, b *bytes.Buffer) error { return c.GenBashCompletionV2(b, true) },
		"zsh":        func(c *cobra.Command, b *bytes.Buffer) error { return c.GenZshCompletion(b) },
		"fish":       func(c *cobra.Command, b *bytes.Buffer) error { return c.GenFishCompletion(b, true) },
		"powershell": func(c *cobra.Command, b *bytes.Buffer) error { return c.GenPowerShellCompletionWithDesc(b) },
	} {
		var b bytes.Buffer
		if err := gen(newRoot(), &b); err != nil {
			return fmt.Errorf("%s completion: %w", shell, err)
		}
		name := map[string]string{"bash": "dpsctl.bash", "zsh": "_dpsctl", "fish": "dpsctl.fish", "powershell": "dpsctl.ps1"}[shell]
		if err := os.WriteFile(filepath.Join(dir, "completions", name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// normalise removes what legitimately differs between machines (none today;
// kept for line endings).
func normalise(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }
