//go:build unix

package enrollfile

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCertificateFileNamedPipe: a named pipe is refused without being
// opened (opening it would wait for a writer).
func TestCertificateFileNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.pem"), 0o600); err != nil {
		t.Skip("no named pipes here:", err)
	}
	c := &Checker{File: "f.csv", Dir: dir, Now: func() time.Time { return testNow }}
	r := &Record{Line: 3}
	r.Set(RegistrationID, "dev-1")
	r.Set(Attestation, "x509")
	r.Set(SecondaryCertificate, "pipe.pem")
	r.Set(Certificate, "sha256:"+"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF")
	_, errs := c.Check(r)
	want := "f.csv:3: secondaryCertificate: cannot read pipe.pem (" + filepath.Join(dir, "pipe.pem") + "): a named pipe; only regular files are read"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("errors %v\nwant %s", errs, want)
	}
}
