package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dpsctl/dpsctl/pkg/cmd/factory"
	"github.com/dpsctl/dpsctl/pkg/cmd/root"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

// azureOnlyFlags name the Azure instance; the local run leaves them out.
var azureOnlyFlags = []string{"dps-name", "resource-group", "subscription"}

// azureOnlyCommands have no local counterpart: a script against the ARM
// look-alike (testdata/script/azure_*.txtar) runs them instead.
var azureOnlyCommands = []string{"dpsctl instance show"}

// TestTutorialCommandsAreTested holds docs/azure-tutorial.md to its tests:
// every dpsctl command of its code blocks must be run (exec, so that it
// succeeds) by testdata/script/tutorial_local.txtar, or for the Azure-only
// ones by an azure_*.txtar script, with the same command and at least the
// same flags. Arguments are placeholders (my-hub, "$ID_SCOPE") and the
// flags that name the Azure instance are left out; a command or flag that
// dpsctl does not know fails too.
func TestTutorialCommandsAreTested(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	rootCmd := root.NewCmdRoot(factory.NewWithIO(ios, ""))
	doc, err := os.ReadFile("../../docs/azure-tutorial.md")
	if err != nil {
		t.Fatal(err)
	}
	var tutorial []string
	for _, line := range codeLines(string(doc)) {
		tutorial = append(tutorial, dpsctlCommands(line)...)
	}
	if len(tutorial) < 10 {
		t.Fatalf("found %d dpsctl commands in the tutorial's code blocks; the extraction is broken", len(tutorial))
	}

	local := scriptCommands(t, rootCmd, "../../testdata/script/tutorial_local.txtar")
	azureScripts, _ := filepath.Glob("../../testdata/script/azure_*.txtar")
	var azure []invocation
	for _, f := range azureScripts {
		azure = append(azure, scriptCommands(t, rootCmd, f)...)
	}

	for _, line := range tutorial {
		want, err := parseInvocation(rootCmd, line)
		if err != nil {
			t.Errorf("tutorial: %q: %v", line, err)
			continue
		}
		in, where := local, "testdata/script/tutorial_local.txtar"
		if slices.Contains(azureOnlyCommands, want.path) {
			in, where = azure, "a testdata/script/azure_*.txtar script"
		}
		if !slices.ContainsFunc(in, want.coveredBy) {
			t.Errorf("tutorial: %q is not run by %s (want \"exec %s\" with at least the flags %v)", line, where, want.path, want.flags)
		}
	}
}

// invocation is a dpsctl command line reduced to what the check compares:
// the command's path and the long names of the flags given.
type invocation struct {
	path  string   // "dpsctl ca add"
	flags []string // long names, sorted, without the Azure-only ones
}

func (want invocation) coveredBy(got invocation) bool {
	if got.path != want.path {
		return false
	}
	for _, f := range want.flags {
		if !slices.Contains(got.flags, f) {
			return false
		}
	}
	return true
}

// parseInvocation resolves a command line ("dpsctl hub link my-hub
// --weight 1") against the command tree.
func parseInvocation(rootCmd *cobra.Command, line string) (invocation, error) {
	args, err := splitWords(line)
	if err != nil {
		return invocation{}, err
	}
	if len(args) == 0 || args[0] != "dpsctl" {
		return invocation{}, fmt.Errorf("not a dpsctl command")
	}
	cmd, rest, err := rootCmd.Find(args[1:])
	if err != nil {
		return invocation{}, err
	}
	if cmd == rootCmd || !cmd.Runnable() || cmd.HasAvailableSubCommands() {
		return invocation{}, fmt.Errorf("%q is not a command", strings.Join(args, " "))
	}
	inv := invocation{path: cmd.CommandPath()}
	lookup := func(name string, short bool) string {
		if short {
			if f := cmd.Flags().ShorthandLookup(name); f != nil {
				return f.Name
			}
			if f := cmd.InheritedFlags().ShorthandLookup(name); f != nil {
				return f.Name
			}
			return ""
		}
		if cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil {
			return name
		}
		return ""
	}
	for _, a := range rest {
		var name string
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-"):
			continue
		case strings.HasPrefix(a, "--"):
			n, _, _ := strings.Cut(a[2:], "=")
			name = lookup(n, false)
		default:
			name = lookup(a[1:2], true)
		}
		if name == "" {
			return invocation{}, fmt.Errorf("%s has no flag %s", inv.path, a)
		}
		if !slices.Contains(azureOnlyFlags, name) && !slices.Contains(inv.flags, name) {
			inv.flags = append(inv.flags, name)
		}
	}
	slices.Sort(inv.flags)
	return inv, nil
}

// codeLines returns the lines of the fenced code blocks of a Markdown
// text, a line ending in a backslash joined with the next.
func codeLines(md string) []string {
	var out []string
	in, cont := false, ""
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			continue
		}
		if !in {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont += l + " "
			continue
		}
		out = append(out, cont+line)
		cont = ""
	}
	return out
}

// dpsctlCommand finds where a dpsctl command starts in a shell line: at
// its start, or in a command substitution.
var dpsctlCommand = regexp.MustCompile(`(?:^\s*|\$\()(dpsctl\s)`)

// dpsctlCommands returns the dpsctl commands of a shell line, each up to
// the end of its command substitution, pipe or line.
func dpsctlCommands(line string) []string {
	var out []string
	for _, m := range dpsctlCommand.FindAllStringSubmatchIndex(line, -1) {
		out = append(out, strings.TrimSpace(line[m[2]:commandEnd(line, m[2])]))
	}
	return out
}

// commandEnd is the index where the command starting at i ends: an
// unquoted ')' closing no '$(' of its own, '|', ';', '&' or '#' after a
// space, or the end of the line.
func commandEnd(line string, i int) int {
	var quote byte
	depth := 0
	for ; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == ')' || c == '|' || c == ';' || c == '&' || c == '#' && line[i-1] == ' ':
			return i
		}
	}
	return len(line)
}

// splitWords splits a command line into words as a shell would, quotes
// removed (no expansion: "$ID_SCOPE" stays as it is).
func splitWords(s string) ([]string, error) {
	var (
		out   []string
		word  strings.Builder
		in    bool
		quote byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			word.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, word.String())
				word.Reset()
				in = false
			}
		default:
			word.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote", quote)
	}
	if in {
		out = append(out, word.String())
	}
	return out, nil
}

// scriptCommands returns the dpsctl commands a testscript runs with exec
// (expected to succeed), conditions like [unix] removed.
func scriptCommands(t *testing.T, rootCmd *cobra.Command, file string) []invocation {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cond := regexp.MustCompile(`^(\[[^]]*\]\s*)*`)
	var out []invocation
	for _, line := range strings.Split(string(data), "\n") {
		line = cond.ReplaceAllString(strings.TrimSpace(line), "")
		rest, ok := strings.CutPrefix(line, "exec dpsctl ")
		if !ok {
			continue
		}
		inv, err := parseInvocation(rootCmd, "dpsctl "+rest)
		if err != nil {
			t.Errorf("%s: %q: %v", filepath.Base(file), line, err)
			continue
		}
		out = append(out, inv)
	}
	return out
}

// The extraction the check above rests on: commands found in shell lines,
// resolved against the command tree, Azure-only flags left out.
func TestTutorialCommandExtraction(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	rootCmd := root.NewCmdRoot(factory.NewWithIO(ios, ""))
	for _, tc := range []struct {
		line string
		want []string // "path flag,flag"
	}{
		{`az login`, nil},
		{`dpsctl config set-profile prod -n mydps -g my-rg`, []string{"dpsctl config set-profile "}},
		{`ID_SCOPE="$(dpsctl instance show --query idScope -o tsv)"`, []string{"dpsctl instance show output,query"}},
		{`dpsctl cert create root --common-name "Contoso Lab Root" --cert-file root.pem`, []string{"dpsctl cert create root cert-file,common-name"}},
		{`dpsctl device register --id-scope "$(dpsctl instance show --query idScope -o tsv --subscription S)" --connect`,
			[]string{"dpsctl device register connect,id-scope", "dpsctl instance show output,query"}},
		{`dpsctl hub list | grep my-hub # linked?`, []string{"dpsctl hub list "}},
		{`dpsctl ca add root.pem --verify=true --ca-key=root.key`, []string{"dpsctl ca add ca-key,verify"}},
	} {
		var got []string
		for _, c := range dpsctlCommands(tc.line) {
			inv, err := parseInvocation(rootCmd, c)
			if err != nil {
				t.Errorf("%q: %v", tc.line, err)
				continue
			}
			got = append(got, inv.path+" "+strings.Join(inv.flags, ","))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{`dpsctl hub`, `dpsctl hub list --nope`, `dpsctl ca add "root.pem`} {
		if _, err := parseInvocation(rootCmd, bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	if got := codeLines("text\n```sh\ndpsctl a \\\n  --b\n```\ndpsctl c\n"); !slices.Equal(got, []string{"dpsctl a    --b"}) {
		t.Errorf("code lines %q", got)
	}
}
