package enrollfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
)

// TestCertificateFiles covers the files a certificate column may name:
// regular files of at most 1 MB, relative to the checker's directory
// unless absolute.
func TestCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	csvDir := filepath.Join(dir, "csv")
	valid := testNow.Add(-time.Hour)
	dev := writeDevice(t, filepath.Join(csvDir, "certs"), "dev-1.pem", "dev-1", valid, valid.Add(48*time.Hour))
	// A PEM padded with comments to exactly the limit still reads.
	pem := []byte(certs.EncodePEM(dev.Cert))
	padded := append(bytes.Repeat([]byte("# padding\n"), (MaxCertificateFile-len(pem))/10), pem...)
	padded = append(bytes.Repeat([]byte("\n"), MaxCertificateFile-len(padded)), padded...)
	if len(padded) != MaxCertificateFile {
		t.Fatalf("padded to %d", len(padded))
	}
	if err := os.WriteFile(filepath.Join(csvDir, "certs", "limit.pem"), padded, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(csvDir, "certs", "big.pem"), append(padded, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(csvDir, "certs", "dev-1.pem"), filepath.Join(csvDir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(csvDir, "certs", "dev-1.pem")

	tests := []struct {
		name, dir, value string
		want             string // error; "" for success
	}{
		{"relative to the file's directory", csvDir, "certs/dev-1.pem", ""},
		{"absolute ignores the directory", filepath.Join(dir, "elsewhere"), abs, ""},
		{"a link to a regular file", csvDir, "link.pem", ""},
		{"exactly the limit", csvDir, "certs/limit.pem", ""},
		{"over the limit", csvDir, "certs/big.pem",
			"f.csv:2: certificate: cannot read certs/big.pem ($CSV/certs/big.pem): larger than 1048576 bytes (1 MB), the limit for a certificate file"},
		{"a directory", csvDir, "certs",
			"f.csv:2: certificate: cannot read certs ($CSV/certs): a directory, not a certificate file"},
		{"missing", csvDir, "certs/nope.pem",
			"f.csv:2: certificate: cannot read certs/nope.pem ($CSV/certs/nope.pem): no such file or directory"},
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		tests = append(tests, struct{ name, dir, value, want string }{
			"an endless device", csvDir, "/dev/zero", "f.csv:2: certificate: cannot read /dev/zero: a device; only regular files are read",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{File: "f.csv", Dir: tt.dir, Now: func() time.Time { return testNow }}
			r := &Record{Line: 2}
			r.Set(RegistrationID, "dev-1")
			r.Set(Attestation, "x509")
			r.Set(Certificate, tt.value)
			e, errs := c.Check(r)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				if got := e.Attestation.X509.ClientCertificates.Primary.Certificate; got != string(pem) {
					t.Fatalf("certificate %q", got)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want %s", errs, tt.want)
			}
			if got := strings.ReplaceAll(errs[0].Error(), csvDir, "$CSV"); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
			// Build reads the file too, with the same limits.
			if _, err := c.Build(r); err == nil {
				t.Fatal("Build accepted the row")
			}
		})
	}
}

// TestCertificateFileRelativeToWorkingDirectory: without a directory (a
// file read from stdin) relative names are taken from the working
// directory.
func TestCertificateFileRelativeToWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	valid := testNow.Add(-time.Hour)
	writeDevice(t, filepath.Join(dir, "certs"), "dev-1.pem", "dev-1", valid, valid.Add(48*time.Hour))
	t.Chdir(dir)
	c := &Checker{File: "stdin", Now: func() time.Time { return testNow }}
	r := &Record{Line: 2}
	r.Set(RegistrationID, "dev-1")
	r.Set(Attestation, "x509")
	r.Set(Certificate, "certs/dev-1.pem")
	if _, errs := c.Check(r); len(errs) > 0 {
		t.Fatal(errs)
	}
}
