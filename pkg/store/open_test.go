package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestOpenRefusesEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err == nil {
		s.Close()
		t.Fatal("an empty database file was opened as a new database")
	}
	if !errors.Is(err, ErrEmptyDatabase) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q: want ErrEmptyDatabase naming %s", err, path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file was changed: %v, %v", fi, err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("files left: %q", names)
	}
}

func TestOpenLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, n := range dirNames(t, dir) {
		if n != FileName && n != FileName+"-wal" && n != FileName+"-shm" {
			t.Errorf("unexpected file %s", n)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Size() == 0 {
		t.Fatalf("database %v, %v", fi, err)
	}
}

// TestConcurrentFirstOpens opens a new database from several stores at
// once: none may see a half-created file, and all share one database.
func TestConcurrentFirstOpens(t *testing.T) {
	for round := range 10 {
		dir := t.TempDir()
		const n = 6
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				stores[i], errs[i] = Open(dir)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, open %d: %v", round, i, err)
			}
			defer stores[i].Close()
		}
		ctx := context.Background()
		if err := stores[0].SetMeta(ctx, MetaIDScope, "0ne00000042"); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			if v, err := s.Meta(ctx, MetaIDScope); err != nil || v != "0ne00000042" {
				t.Fatalf("round %d, store %d reads %q, %v", round, i, v, err)
			}
		}
	}
}

func TestCopyExclusive(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("database"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := copyExclusive(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, []byte("database")) {
		t.Fatalf("copy %q", got)
	}
	fi, _ := os.Stat(dst)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// An existing file is left alone: another process created it first.
	if err := os.WriteFile(src, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyExclusive(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, []byte("database")) {
		t.Fatalf("existing file replaced: %q", got)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
