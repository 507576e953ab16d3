package pkg_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/dpsctl/dpsctl/"

// layoutDoc holds the allow-list: the "may import" column of its tables
// says, for each package under pkg/, what the package may import. See its
// section "The allow-list" for the notation.
const layoutDoc = "docs/project-layout.md"

// rule is a row of a table of layoutDoc.
type rule struct {
	pattern string   // such as "pkg/cmd/<noun>/<verb>"
	allow   []string // the entries of "may import"; none for "stdlib"
	domain  bool     // in the section of domain packages
	line    int
}

func (r rule) String() string { return fmt.Sprintf("%s:%d (%s)", layoutDoc, r.line, r.pattern) }

func isPlaceholder(elem string) bool {
	return strings.HasPrefix(elem, "<") && strings.HasSuffix(elem, ">")
}

// isThirdParty reports whether an import path or an entry is outside the
// module and the standard library: its first element has a dot.
func isThirdParty(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return strings.Contains(first, ".") && !strings.HasPrefix(path, module)
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// match reports whether path fits pattern, element by element, and what
// the placeholders of pattern stand for.
func match(pattern, path string) (map[string]string, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	bound := map[string]string{}
	for i, p := range ps {
		switch {
		case isPlaceholder(p):
			if v, ok := bound[p]; ok && v != xs[i] {
				return nil, false
			}
			bound[p] = xs[i]
		case p != xs[i]:
			return nil, false
		}
	}
	return bound, true
}

func literals(pattern string) int {
	n := 0
	for _, e := range strings.Split(pattern, "/") {
		if !isPlaceholder(e) {
			n++
		}
	}
	return n
}

// allows reports whether an entry of a row allows importing imp, for a
// package that bound the placeholders of its row as bound says.
func allows(entry string, bound map[string]string, imp string) bool {
	if isThirdParty(entry) {
		return imp == entry || strings.HasPrefix(imp, entry+"/")
	}
	rel, ok := strings.CutPrefix(imp, module)
	if !ok {
		return false
	}
	es := strings.Split("pkg/"+entry, "/")
	for i, e := range es {
		if v, ok := bound[e]; ok {
			es[i] = v
		}
	}
	_, ok = match(strings.Join(es, "/"), rel)
	return ok
}

// readRules parses the tables of layoutDoc that have a "may import"
// column.
func readRules(t *testing.T) []rule {
	t.Helper()
	f, err := os.Open("../" + layoutDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		rules           []rule
		domain          bool
		pkgCol, mayCol  = -1, -1
		inTable, header bool
	)
	cells := func(line string) []string {
		cs := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cs {
			cs[i] = strings.TrimSpace(cs[i])
		}
		return cs
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			domain = strings.HasPrefix(line, "## Domain packages")
		}
		if !strings.HasPrefix(line, "|") {
			inTable, header = false, false
			continue
		}
		cs := cells(line)
		switch {
		case !inTable:
			inTable, header = true, true
			pkgCol, mayCol = slices.Index(cs, "package"), slices.Index(cs, "may import")
			continue
		case header:
			header = false // the |---| line
			continue
		case pkgCol < 0 || mayCol < 0:
			continue
		}
		if len(cs) <= max(pkgCol, mayCol) {
			t.Fatalf("%s:%d: the row has %d cells", layoutDoc, n, len(cs))
		}
		r := rule{pattern: strings.Trim(cs[pkgCol], "`"), domain: domain, line: n}
		if !strings.HasPrefix(r.pattern, "pkg") || strings.ContainsAny(r.pattern, " `") {
			t.Fatalf("%s:%d: %q is not a package path under pkg/", layoutDoc, n, cs[pkgCol])
		}
		for _, e := range strings.Split(cs[mayCol], ",") {
			e = strings.Trim(strings.TrimSpace(e), "`")
			switch {
			case e == "stdlib" && strings.TrimSpace(cs[mayCol]) == "stdlib":
			case e == "" || e == "stdlib" || strings.ContainsAny(e, " `"):
				t.Fatalf("%s:%d: %q in %q is not an entry: write stdlib alone, or package and module paths separated by commas", layoutDoc, n, e, cs[mayCol])
			default:
				r.allow = append(r.allow, e)
			}
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) < 10 {
		t.Fatalf("%s: %d rows with a \"may import\" column; the tables were not found", layoutDoc, len(rules))
	}
	return rules
}

// ruleOf returns the row a package (such as "pkg/cmd/hub/list") takes:
// of the rows that match it, the one with the most literal elements.
func ruleOf(rules []rule, rel string) (rule, map[string]string, error) {
	var (
		best  *rule
		bound map[string]string
		tie   bool
	)
	for i, r := range rules {
		b, ok := match(r.pattern, rel)
		switch {
		case !ok:
		case best == nil || literals(r.pattern) > literals(best.pattern):
			best, bound, tie = &rules[i], b, false
		case literals(r.pattern) == literals(best.pattern):
			tie = true
		}
	}
	switch {
	case best == nil:
		return rule{}, nil, fmt.Errorf("%s matches no row of %s: add one saying what it is and may import", rel, layoutDoc)
	case tie:
		return rule{}, nil, fmt.Errorf("%s matches %s and another row as closely", rel, best)
	}
	return *best, bound, nil
}

// pkgInfo is a package under pkg/ as go list describes it, over the build
// configurations the module has.
type pkgInfo struct {
	path    string
	imports []string
	deps    []string
}

var listed struct {
	once sync.Once
	pkgs []pkgInfo
	err  error
}

// listPackages lists the packages under pkg/ that have Go files, with
// their imports (tests aside) and dependencies: those of the default build,
// of the tpmsimulator tag, and of Windows.
func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	listed.once.Do(func() {
		type goPkg struct {
			ImportPath       string
			GoFiles, Imports []string
			CgoFiles         []string
			Deps             []string
		}
		all := map[string]*pkgInfo{}
		for _, cfg := range []struct {
			env  []string
			args []string
		}{{}, {args: []string{"-tags", "tpmsimulator"}}, {env: []string{"GOOS=windows", "GOARCH=amd64"}}} {
			args := append([]string{"list", "-e", "-json"}, cfg.args...)
			cmd := exec.Command("go", append(args, "./...")...)
			cmd.Env = append(os.Environ(), cfg.env...)
			out, err := cmd.Output()
			if err != nil {
				listed.err = fmt.Errorf("go %s (%v): %v", strings.Join(args, " "), cfg.env, err)
				return
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var p goPkg
				if err := dec.Decode(&p); err != nil {
					listed.err = err
					return
				}
				if len(p.GoFiles)+len(p.CgoFiles) == 0 {
					continue // tests only, or nothing for this configuration
				}
				info := all[p.ImportPath]
				if info == nil {
					info = &pkgInfo{path: p.ImportPath}
					all[p.ImportPath] = info
				}
				info.imports = append(info.imports, p.Imports...)
				info.deps = append(info.deps, p.Deps...)
			}
		}
		for _, p := range all {
			slices.Sort(p.imports)
			p.imports = slices.Compact(p.imports)
			slices.Sort(p.deps)
			p.deps = slices.Compact(p.deps)
			listed.pkgs = append(listed.pkgs, *p)
		}
		slices.SortFunc(listed.pkgs, func(a, b pkgInfo) int { return strings.Compare(a.path, b.path) })
	})
	if listed.err != nil {
		t.Fatal(listed.err)
	}
	if len(listed.pkgs) == 0 {
		t.Fatal("go list found no packages under pkg/")
	}
	return listed.pkgs
}

// TestImportsFollowTheLayout holds every package under pkg/ to the "may
// import" column of its row in docs/project-layout.md.
func TestImportsFollowTheLayout(t *testing.T) {
	rules := readRules(t)
	used := make([]bool, len(rules))
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.path, module)
		r, bound, err := ruleOf(rules, rel)
		if err != nil {
			t.Error(err)
			continue
		}
		used[slices.IndexFunc(rules, func(x rule) bool { return x.line == r.line })] = true
		for _, imp := range p.imports {
			if isStd(imp) {
				continue
			}
			if !slices.ContainsFunc(r.allow, func(e string) bool { return allows(e, bound, imp) }) {
				t.Errorf("%s imports %s, which its row %s does not list", rel, strings.TrimPrefix(imp, module), r)
			}
		}
	}
	for i, r := range rules {
		if !used[i] {
			t.Errorf("row %s: no package takes it", r)
		}
	}
}

// TestLayoutKeepsItsRules checks the table against the rules its headings
// and prose state, so that a row cannot quietly break them.
func TestLayoutKeepsItsRules(t *testing.T) {
	rules := readRules(t)
	isDomain := func(rel string) bool {
		r, _, err := ruleOf(rules, rel)
		return err == nil && r.domain
	}
	// Only these rows may list these modules.
	owners := map[string]string{
		"github.com/olekukonko/tablewriter": "pkg/output",
		"github.com/spf13/viper":            "pkg/config",
	}
	// These rows never list these packages.
	never := map[string]string{"pkg/server": "dps", "pkg/dps": "server"}
	for _, r := range rules {
		for _, e := range r.allow {
			for mod, owner := range owners {
				if (e == mod || strings.HasPrefix(e, mod+"/")) && r.pattern != owner {
					t.Errorf("row %s lists %s; only %s may", r, e, owner)
				}
			}
			if never[r.pattern] == e {
				t.Errorf("row %s lists %s", r, e)
			}
			if !r.domain {
				continue
			}
			switch {
			case strings.HasPrefix(e, "github.com/spf13/"):
				t.Errorf("domain row %s lists %s, a CLI library", r, e)
			case !isThirdParty(e) && strings.Contains(e, "<"):
				t.Errorf("domain row %s lists %s: name packages, not patterns", r, e)
			case !isThirdParty(e) && !isDomain("pkg/"+e):
				t.Errorf("domain row %s lists %s, which is not a domain package", r, e)
			}
		}
	}
	// Nor may a domain package reach the CLI through another module.
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.path, module)
		if !isDomain(rel) {
			continue
		}
		for _, d := range p.deps {
			drel, ours := strings.CutPrefix(d, module)
			if strings.HasPrefix(d, "github.com/spf13/") || (ours && !isDomain(drel)) {
				t.Errorf("domain package %s depends on %s", rel, strings.TrimPrefix(d, module))
			}
		}
	}
}

// The allow-list's notation, on its own.
func TestAllowListNotation(t *testing.T) {
	for _, c := range []struct {
		pattern, pkg, entry, imp string
		want                     bool
	}{
		{"pkg/model", "pkg/model", "github.com/spf13/cobra", "github.com/spf13/cobra", true},
		{"pkg/model", "pkg/model", "github.com/google/go-tpm", "github.com/google/go-tpm/tpm2/transport", true},
		{"pkg/model", "pkg/model", "github.com/google/go-tpm", "github.com/google/go-tpm-tools/simulator", false},
		{"pkg/dps", "pkg/dps", "model", module + "pkg/model", true},
		{"pkg/dps", "pkg/dps", "model", module + "pkg/model/sub", false},
		{"pkg/cmd/<noun>", "pkg/cmd/hub", "cmd/<noun>/<verb>", module + "pkg/cmd/hub/list", true},
		{"pkg/cmd/<noun>", "pkg/cmd/hub", "cmd/<noun>/<verb>", module + "pkg/cmd/group/list", false},
		{"pkg/cmd/<noun>/<verb>", "pkg/cmd/hub/list", "cmd/<other>/shared", module + "pkg/cmd/group/shared", true},
		{"pkg/cmd/<noun>/<verb>", "pkg/cmd/hub/device", "cmd/<noun>/<verb>/<sub>", module + "pkg/cmd/hub/device/list", true},
		{"pkg/cmd/<noun>/<verb>", "pkg/cmd/hub/link", "cmd/<noun>/<verb>/<sub>", module + "pkg/cmd/hub/device/list", false},
		{"pkg/cmd/<noun>/<verb>", "pkg/cmd/hub/list", "server", module + "pkg/server", true},
		{"pkg/cmd/<noun>/<verb>", "pkg/cmd/hub/list", "store", module + "pkg/server", false},
	} {
		bound, ok := match(c.pattern, c.pkg)
		if !ok {
			t.Fatalf("%s does not match %s", c.pkg, c.pattern)
		}
		if got := allows(c.entry, bound, c.imp); got != c.want {
			t.Errorf("%s as %s, entry %s, import %s: %v, want %v", c.pkg, c.pattern, c.entry, c.imp, got, c.want)
		}
	}
	rules := []rule{{pattern: "pkg/cmd/<noun>", line: 1}, {pattern: "pkg/cmd/<noun>/<verb>", line: 2}, {pattern: "pkg/cmd/<noun>/shared", line: 3}, {pattern: "pkg/cmd/serve", line: 4}, {pattern: "pkg/cmd/<x>/<y>", line: 5}}
	for rel, want := range map[string]int{"pkg/cmd/hub": 1, "pkg/cmd/serve": 4, "pkg/cmd/hub/shared": 3} {
		if r, _, err := ruleOf(rules, rel); err != nil || r.line != want {
			t.Errorf("%s takes row %d (%v), want %d", rel, r.line, err, want)
		}
	}
	for _, rel := range []string{"pkg/cmd/hub/list", "pkg/other"} {
		if _, _, err := ruleOf(rules, rel); err == nil {
			t.Errorf("%s: no error", rel)
		}
	}
}

// No verb package imports another verb package.
func TestVerbsDoNotImportVerbs(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "../pkg/cmd/...").Output()
	if err != nil {
		t.Skipf("no command packages yet: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if !isVerb(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if isVerb(imp) {
				t.Errorf("verb %s imports verb %s", p.ImportPath, imp)
			}
		}
	}
}

// isVerb: pkg/cmd/<noun>/<verb>, excluding shared helpers.
func isVerb(path string) bool {
	rest, ok := strings.CutPrefix(path, module+"pkg/cmd/")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return len(parts) == 2 && parts[1] != "shared" && parts[0] != "root" && parts[0] != "factory"
}
