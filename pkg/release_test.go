package pkg_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goreleaserVersion is the release tool the project pins.
const goreleaserVersion = "v2.15.1"

// TestReleaseConfig runs "goreleaser check" on .goreleaser.yaml. It builds
// goreleaser from the module proxy, so it is skipped with -short.
func TestReleaseConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds goreleaser; skipped with -short")
	}
	cmd := exec.Command("go", "run", "github.com/goreleaser/goreleaser/v2@"+goreleaserVersion, "check")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1 configuration file(s) validated") {
		t.Fatalf("goreleaser check did not validate the configuration:\n%s", out)
	}
}

var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(f \*testing\.F\)`)

// TestFuzzBriefly runs every native fuzz target for a short time, so new
// crashers surface in CI and not only on a developer's machine. Seeds and
// committed corpora already run in the ordinary test run.
func TestFuzzBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fuzzers; skipped with -short")
	}
	fuzztime := os.Getenv("DPSCTL_FUZZTIME")
	if fuzztime == "" {
		fuzztime = "4s"
	}
	if _, err := time.ParseDuration(fuzztime); err != nil {
		t.Fatalf("DPSCTL_FUZZTIME: %v", err)
	}
	targets := map[string][]string{} // package dir -> targets
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
				dir := "./" + filepath.Dir(path)
				targets[dir] = append(targets[dir], m[1])
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) == 0 {
		t.Fatal("no fuzz targets found")
	}
	for dir, names := range targets {
		for _, name := range names {
			t.Run(strings.TrimPrefix(dir, "./")+"/"+name, func(t *testing.T) {
				cmd := exec.Command("go", "test", "-run=^$", "-fuzz=^"+name+"$", "-fuzztime="+fuzztime, "-parallel=2", dir)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			})
		}
	}
}
