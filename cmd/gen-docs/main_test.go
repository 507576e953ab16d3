package main

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestGeneratedFilesUpToDate regenerates docs and completions into a temporary
// tree and compares them with the committed ones.
func TestGeneratedFilesUpToDate(t *testing.T) {
	tmp := t.TempDir()
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join("..", "..")
	for _, o := range Outputs {
		want := listFiles(t, filepath.Join(tmp, o))
		have := listFiles(t, filepath.Join(repo, o))
		if len(want) == 0 {
			t.Fatalf("%s: nothing generated", o)
		}
		for name := range have {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s is committed but no longer generated; run: go run ./cmd/gen-docs", o, name)
			}
		}
		for name, content := range want {
			got, ok := have[name]
			if !ok {
				t.Errorf("%s/%s is missing; run: go run ./cmd/gen-docs", o, name)
				continue
			}
			if normalise([]byte(got)) != normalise([]byte(content)) {
				t.Errorf("%s/%s is out of date; run: go run ./cmd/gen-docs", o, name)
			}
		}
	}
}

func listFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = string(b)
	}
	return files
}
