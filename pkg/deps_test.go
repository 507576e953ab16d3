package pkg_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/dpsctl/dpsctl/"

// Domain packages must stay free of the CLI: no cobra, viper or CLI-only
// packages. The server and the client meet only in pkg/model.
var forbidden = map[string][]string{
	"pkg/model":        {"github.com/spf13/", module + "pkg/"},
	"pkg/sas":          {"github.com/spf13/", module + "pkg/"},
	"pkg/certs":        {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps", module + "pkg/server", module + "pkg/store"},
	"pkg/tpm":          {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps", module + "pkg/server", module + "pkg/store"},
	"pkg/dps":          {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/server", module + "pkg/store"},
	"pkg/store":        {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps", module + "pkg/server"},
	"pkg/server":       {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps"},
	"pkg/provisioning": {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps", module + "pkg/server", module + "pkg/store"},
	"pkg/iothub":       {"github.com/spf13/", module + "pkg/"},
	"pkg/enrollfile":   {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/dps", module + "pkg/server", module + "pkg/store"},
	"pkg/importer":     {"github.com/spf13/", module + "pkg/cmd", module + "pkg/cli", module + "pkg/output", module + "pkg/iostreams", module + "pkg/config", module + "pkg/server", module + "pkg/store"},
	"pkg/output":       {"github.com/spf13/viper", module + "pkg/cmd", module + "pkg/dps", module + "pkg/server"},
}

func TestDependencyDirection(t *testing.T) {
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../"+pkg+"/...").Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok && strings.Contains(string(ee.Stderr), "matched no packages") {
				continue
			}
			t.Fatalf("go list %s: %v", pkg, err)
		}
		self := module + pkg
		for _, dep := range strings.Fields(string(out)) {
			if dep == self || strings.HasPrefix(dep, self+"/") {
				continue
			}
			for _, b := range bad {
				allowed := false
				// Domain packages may use the leaves below them.
				for _, ok := range allowedLeaves[pkg] {
					if dep == module+ok || strings.HasPrefix(dep, module+ok+"/") {
						allowed = true
					}
				}
				if strings.HasPrefix(dep, b) && !allowed {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}

var allowedLeaves = map[string][]string{
	"pkg/certs":        {"pkg/model"},
	"pkg/tpm":          {"pkg/model"},
	"pkg/dps":          {"pkg/model", "pkg/sas"},
	"pkg/store":        {"pkg/model"},
	"pkg/server":       {"pkg/model", "pkg/sas", "pkg/certs", "pkg/store", "pkg/tpm"},
	"pkg/output":       {"pkg/iostreams"},
	"pkg/provisioning": {"pkg/model", "pkg/sas", "pkg/certs", "pkg/tpm"},
	"pkg/enrollfile":   {"pkg/model", "pkg/sas", "pkg/certs", "pkg/tpm"},
	"pkg/importer":     {"pkg/model", "pkg/sas", "pkg/certs", "pkg/tpm", "pkg/dps", "pkg/enrollfile"},
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
