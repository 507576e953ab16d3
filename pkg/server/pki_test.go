package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/store"
)

var pkiFiles = []string{CAFileName, CAKeyFileName, ServerCertFile, ServerKeyFileName}

// pkiSnapshot reads the PKI files of dir ("<missing>" for an absent one).
func pkiSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range pkiFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			m[name] = "<missing>"
		case err != nil:
			m[name] = "<unreadable>"
		default:
			m[name] = string(data)
		}
	}
	return m
}

// existingInstance bootstraps a data directory and returns it with its
// ID scope.
func existingInstance(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	inst, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	scope := inst.IDScope()
	inst.Close()
	return dir, scope
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedCAIsAnError damages the CA of an existing data directory in
// each way: every open fails naming the file and the way out, and nothing
// is written, until the service is started with RegeneratePKI.
func TestDamagedCAIsAnError(t *testing.T) {
	other := newTestCert(t, subject("other", "x", "US"), nil, true)
	leaf := newTestCert(t, subject("leaf", "x", "US"), other, false)
	otherKey, err := certs.EncodePrivateKeyPEM(other.key)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := certs.EncodePrivateKeyPEM(leaf.key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		file   string // the file the error names
		reason string
	}{
		{"key empty", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAKeyFileName), nil) }, CAKeyFileName, "is empty"},
		{"key blank", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAKeyFileName), []byte("\n \n")) }, CAKeyFileName, "is empty"},
		{"key missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, CAKeyFileName)) }, CAKeyFileName, "is missing"},
		{"key garbage", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAKeyFileName), []byte("not a key")) }, CAKeyFileName, "holds no private key"},
		{"key of another CA", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAKeyFileName), otherKey) }, CAKeyFileName, "is not the key of ca.pem"},
		{"certificate empty", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAFileName), nil) }, CAFileName, "is empty"},
		{"certificate missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, CAFileName)) }, CAFileName, "is missing"},
		{"certificate garbage", func(t *testing.T, dir string) { write(t, filepath.Join(dir, CAFileName), []byte("-----BEGIN")) }, CAFileName, "holds no certificate"},
		{"both missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, CAFileName))
			os.Remove(filepath.Join(dir, CAKeyFileName))
		}, CAFileName, "is missing (and so is ca-key.pem)"},
		{"not a CA", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, CAFileName), []byte(certs.EncodePEM(leaf.cert)))
			write(t, filepath.Join(dir, CAKeyFileName), leafKey)
		}, CAFileName, "is not a CA certificate"},
		{"key unreadable", func(t *testing.T, dir string) {
			if os.Geteuid() == 0 {
				t.Skip("file modes do not stop root")
			}
			if err := os.Chmod(filepath.Join(dir, CAKeyFileName), 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(filepath.Join(dir, CAKeyFileName), 0o600) })
		}, CAKeyFileName, "cannot be read: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, scope := existingInstance(t)
			tt.damage(t, dir)
			before := pkiSnapshot(t, dir)
			for _, o := range []Options{
				{DataDir: dir},                 // any command
				{DataDir: dir, WritePKI: true}, // serve
				{DataDir: dir, WritePKI: true, HostName: "other.example.test"},
			} {
				inst, err := Open(o)
				if err == nil {
					inst.Close()
					t.Fatalf("%+v: open succeeded", o)
				}
				var pe *PKIError
				if !errors.As(err, &pe) || pe.File != filepath.Join(dir, tt.file) || pe.Reason != tt.reason && !strings.HasPrefix(pe.Reason, tt.reason) {
					t.Fatalf("%+v: error %v, want a PKIError on %s: %s", o, err, tt.file, tt.reason)
				}
				for _, want := range []string{filepath.Join(dir, tt.file), "dpsctl serve --regenerate-pki"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				if after := pkiSnapshot(t, dir); !equalMaps(before, after) {
					t.Fatalf("%+v: a failed open changed the PKI files", o)
				}
			}

			// The explicit way out keeps the instance and makes a new CA.
			inst, err := Open(Options{DataDir: dir, WritePKI: true, RegeneratePKI: true})
			if err != nil {
				t.Fatal(err)
			}
			if inst.IDScope() != scope {
				t.Errorf("ID scope %s, was %s", inst.IDScope(), scope)
			}
			inst.Close()
			ca, _, err := loadCA(filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName))
			if err != nil {
				t.Fatalf("after RegeneratePKI: %v", err)
			}
			verifyServerCert(t, dir, ca, "localhost")
			inst, err = Open(Options{DataDir: dir})
			if err != nil {
				t.Fatalf("open after the new CA: %v", err)
			}
			inst.Close()
		})
	}
}

func TestRegeneratePKIReplacesAGoodCA(t *testing.T) {
	dir, _ := existingInstance(t)
	before := pkiSnapshot(t, dir)
	inst, err := Open(Options{DataDir: dir, WritePKI: true, RegeneratePKI: true})
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
	after := pkiSnapshot(t, dir)
	for _, name := range pkiFiles {
		if before[name] == after[name] {
			t.Errorf("%s was not replaced", name)
		}
	}
}

func TestExpiredCAIsAnError(t *testing.T) {
	dir, _ := existingInstance(t)
	before := pkiSnapshot(t, dir)
	later := func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }
	_, err := Open(Options{DataDir: dir, Now: later, WritePKI: true})
	var pe *PKIError
	if !errors.As(err, &pe) || pe.File != filepath.Join(dir, CAFileName) || !strings.HasPrefix(pe.Reason, "expired on ") {
		t.Fatalf("error %v", err)
	}
	if !equalMaps(before, pkiSnapshot(t, dir)) {
		t.Fatal("PKI files changed")
	}
}

// TestCANearExpiryIsKept: within the renewal window of the CA an existing
// instance keeps it (clients trust it) and says so in the log.
func TestCANearExpiryIsKept(t *testing.T) {
	dir, _ := existingInstance(t)
	cs, err := certs.ReadFile(filepath.Join(dir, CAFileName))
	if err != nil {
		t.Fatal(err)
	}
	caBefore := pkiSnapshot(t, dir)[CAFileName]
	soon := func() time.Time { return cs[0].NotAfter.Add(-10 * 24 * time.Hour) }
	var log bytes.Buffer
	inst, err := Open(Options{DataDir: dir, Now: soon, WritePKI: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if pkiSnapshot(t, dir)[CAFileName] != caBefore {
		t.Fatal("the CA was replaced")
	}
	if !strings.Contains(log.String(), "expires on") {
		t.Errorf("no warning in the log: %q", log.String())
	}
	leaf := inst.TLSConfig().Certificates[0].Leaf
	if !leaf.NotAfter.Equal(cs[0].NotAfter) {
		t.Errorf("server certificate ends %v, the CA %v", leaf.NotAfter, cs[0].NotAfter)
	}
}

// TestOnlyTheServiceWritesPKIFiles: a server certificate in need of
// re-issue is re-issued from the CA by every open, but saved only by the
// service (WritePKI).
func TestOnlyTheServiceWritesPKIFiles(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		opts   Options // DataDir is filled in
		host   string
	}{
		{"server certificate missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ServerCertFile))
			os.Remove(filepath.Join(dir, ServerKeyFileName))
		}, Options{}, "localhost"},
		{"server key empty", func(t *testing.T, dir string) { write(t, filepath.Join(dir, ServerKeyFileName), nil) }, Options{}, "localhost"},
		{"server certificate near expiry", nil, Options{Now: func() time.Time { return time.Now().Add(340 * 24 * time.Hour) }}, "localhost"},
		{"another host name", nil, Options{HostName: "other.example.test"}, "other.example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := existingInstance(t)
			if tt.change != nil {
				tt.change(t, dir)
			}
			ca, _, err := loadCA(filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName))
			if err != nil {
				t.Fatal(err)
			}
			before := pkiSnapshot(t, dir)

			o := tt.opts
			o.DataDir = dir
			inst, err := Open(o)
			if err != nil {
				t.Fatal(err)
			}
			leaf := inst.TLSConfig().Certificates[0].Leaf
			inst.Close()
			verifyLeaf(t, leaf, ca, tt.host, o.Now)
			if !equalMaps(before, pkiSnapshot(t, dir)) {
				t.Fatal("an open other than the service's changed the PKI files")
			}

			o.WritePKI = true
			inst, err = Open(o)
			if err != nil {
				t.Fatal(err)
			}
			inst.Close()
			after := pkiSnapshot(t, dir)
			if after[CAFileName] != before[CAFileName] || after[CAKeyFileName] != before[CAKeyFileName] {
				t.Fatal("the service replaced a good CA")
			}
			if after[ServerCertFile] == before[ServerCertFile] {
				t.Fatal("the service did not save the re-issued server certificate")
			}
			srv, _, err := loadPair(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFileName))
			if err != nil {
				t.Fatal(err)
			}
			verifyLeaf(t, srv, ca, tt.host, o.Now)
		})
	}
}

// TestNewInstanceReplacesBrokenPKI: with no ID scope yet nothing trusts the
// files, so a new instance (database missing) replaces broken ones.
func TestNewInstanceReplacesBrokenPKI(t *testing.T) {
	dir, scope := existingInstance(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, store.FileName+suffix))
	}
	write(t, filepath.Join(dir, CAKeyFileName), nil)
	inst, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if inst.IDScope() == scope {
		t.Fatal("same ID scope")
	}
	ca, _, err := loadCA(filepath.Join(dir, CAFileName), filepath.Join(dir, CAKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	verifyServerCert(t, dir, ca, "localhost")
}

// TestNewInstanceKeepsAGoodCA: a data directory whose database was removed
// becomes a new instance with the CA its clients already trust.
func TestNewInstanceKeepsAGoodCA(t *testing.T) {
	dir, _ := existingInstance(t)
	before := pkiSnapshot(t, dir)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, store.FileName+suffix))
	}
	inst, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
	if after := pkiSnapshot(t, dir); after[CAFileName] != before[CAFileName] || after[CAKeyFileName] != before[CAKeyFileName] {
		t.Fatal("the CA was replaced")
	}
}

func TestEmptyDatabaseIsAnError(t *testing.T) {
	dir, _ := existingInstance(t)
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dir, store.FileName+suffix))
	}
	write(t, filepath.Join(dir, store.FileName), nil)
	before := pkiSnapshot(t, dir)
	for _, o := range []Options{{DataDir: dir}, {DataDir: dir, WritePKI: true}, {DataDir: dir, WritePKI: true, RegeneratePKI: true}} {
		inst, err := Open(o)
		if err == nil {
			inst.Close()
			t.Fatalf("%+v: an empty database opened as a new instance", o)
		}
		if !errors.Is(err, store.ErrEmptyDatabase) || !strings.Contains(err.Error(), filepath.Join(dir, store.FileName)) || !strings.Contains(err.Error(), "restore dpsctl.db from a backup") {
			t.Fatalf("error %v", err)
		}
	}
	if !equalMaps(before, pkiSnapshot(t, dir)) {
		t.Fatal("PKI files changed")
	}
	if fi, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil || fi.Size() != 0 {
		t.Fatalf("database %v, %v", fi, err)
	}
}

// TestOpensDoNotRewritePKI opens an existing data directory many times
// the way commands do: the files never change.
func TestOpensDoNotRewritePKI(t *testing.T) {
	dir, _ := existingInstance(t)
	before := pkiSnapshot(t, dir)
	for range 3 {
		inst, err := Open(Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.LinkedHubs(context.Background()); err != nil {
			t.Fatal(err)
		}
		inst.Close()
	}
	if !equalMaps(before, pkiSnapshot(t, dir)) {
		t.Fatal("PKI files changed")
	}
}

func verifyServerCert(t *testing.T, dir string, ca *x509.Certificate, host string) {
	t.Helper()
	srv, _, err := loadPair(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	verifyLeaf(t, srv, ca, host, nil)
}

func verifyLeaf(t *testing.T, leaf, ca *x509.Certificate, host string, now func() time.Time) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	at := time.Now()
	if now != nil {
		at = now()
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: at}); err != nil {
		t.Fatalf("server certificate for %s: %v", host, err)
	}
	if err := serverCertUsable(leaf, ca, host, at); err != nil {
		t.Fatalf("server certificate: %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
