package export_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/export"
	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/enrollment/import"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

const key1, key2 = "MDEyMzQ1Njc4OWFiY2RlZg==", "ZmVkY2JhOTg3NjU0MzIxMA=="

// seed imports a file of every kind of enrollment and returns the file.
func seed(t *testing.T, c *dps.Client, dir string) string {
	t.Helper()
	p, err := certs.NewDevice(nil, "dev-x509", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteCertificates(filepath.Join(dir, "dev-x509.pem"), []*x509.Certificate{p.Cert}, false); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "seed.csv")
	content := "registrationId,attestation,endorsementKey,certificate,primaryKey,secondaryKey,deviceId,iotHubs,allocationPolicy,webhookUrl,provisioningStatus,reprovisionPolicy,iotEdge,tags,desiredProperties\n" +
		"dev-tpm,tpm," + enrollfiletest.NewEK() + ",,,,gw-1,h1.example,static,,disabled,never,true,\"{\"\"a\"\":1}\",\n" +
		"dev-x509,x509,,dev-x509.pem,,,,h1.example;h2.example,hashed,,,,,,\"{\"\"b\"\":[1,2]}\"\n" +
		"dev-sym,symmetricKey,,,," + key2 + ",,,custom,https://hook.example/x,,reprovision-and-reset,,,\n" +
		"dev-sym-gen,symmetric-key,,,,,,,,,,,,,\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, s := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, importcmd.NewCmdImport(f, nil), file); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	return file
}

func runExport(t *testing.T, c *dps.Client, args ...string) string {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, export.NewCmdExport(f, nil), args...); err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	if s.ErrOut.Len() != 0 {
		t.Errorf("stderr %q", s.ErrOut)
	}
	return s.Out.String()
}

func runImport(t *testing.T, c *dps.Client, path string) (string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, false)
	err := cmdtest.Run(t, f, importcmd.NewCmdImport(f, nil), path)
	return s.ErrOut.String(), err
}

// TestRoundTrip exports, then imports the export into the same service
// (everything unchanged) and into a new one (everything created but the
// X.509 enrollment, whose certificate the service never returns).
func TestRoundTrip(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			ctx := context.Background()
			_, c := cmdtest.NewServer(t)
			dir := t.TempDir()
			seed(t, c, dir)
			out := runExport(t, c, "-o", format, "--show-keys")
			if strings.Count(out, "\n") != map[string]int{"csv": 5, "jsonl": 4}[format] {
				t.Fatalf("export:\n%s", out)
			}
			path := filepath.Join(dir, "export."+format)
			os.WriteFile(path, []byte(out), 0o644)

			stderr, err := runImport(t, c, path)
			if err != nil || !strings.Contains(stderr, "  unchanged           4\n") {
				t.Fatalf("same service: %v\n%s", err, stderr)
			}

			_, other := cmdtest.NewServer(t)
			stderr, err = runImport(t, other, path)
			if err == nil || !strings.Contains(stderr, "  created             3\n") || !strings.Contains(stderr, "dev-x509: the enrollment does not exist and its certificate is given only as a sha256: thumbprint") {
				t.Fatalf("new service: %v\n%s", err, stderr)
			}
			for _, id := range []string{"dev-tpm", "dev-sym", "dev-sym-gen"} {
				a, _ := c.GetEnrollment(ctx, id)
				b, err := other.GetEnrollment(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				a.ETag, b.ETag = "", ""
				if d := importerDiff(a, b); d != "" {
					t.Errorf("%s differs after the round trip: %s", id, d)
				}
			}
			// Keys came along with --show-keys.
			ka, _ := c.GetEnrollmentAttestation(ctx, "dev-sym-gen")
			kb, _ := other.GetEnrollmentAttestation(ctx, "dev-sym-gen")
			if ka.SymmetricKey.PrimaryKey != kb.SymmetricKey.PrimaryKey || kb.SymmetricKey.SecondaryKey != ka.SymmetricKey.SecondaryKey {
				t.Error("generated keys not carried over")
			}
		})
	}
}

func importerDiff(a, b *model.IndividualEnrollment) string {
	var d []string
	if a.DeviceID != b.DeviceID || a.AllocationPolicy != b.AllocationPolicy || strings.Join(a.IoTHubs, ";") != strings.Join(b.IoTHubs, ";") ||
		a.ProvisioningStatus != b.ProvisioningStatus || *a.ReprovisionPolicy != *b.ReprovisionPolicy || *a.Capabilities != *b.Capabilities {
		d = append(d, "fields")
	}
	if (a.InitialTwin == nil) != (b.InitialTwin == nil) || a.InitialTwin != nil && string(a.InitialTwin.Tags) != string(b.InitialTwin.Tags) {
		d = append(d, "twin")
	}
	if a.Attestation.Type != b.Attestation.Type || a.Attestation.TPM != nil && a.Attestation.TPM.EndorsementKey != b.Attestation.TPM.EndorsementKey {
		d = append(d, "attestation")
	}
	return strings.Join(d, ",")
}

func TestExportMasksKeysByDefault(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c, t.TempDir())
	out := runExport(t, c)
	if strings.Contains(out, key2) {
		t.Fatalf("keys exported without --show-keys:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "registrationId,attestation,endorsementKey,certificate,") || !strings.HasPrefix(lines[2], "dev-x509,x509,,sha256:") {
		t.Fatalf("export:\n%s", out)
	}
}

func TestExportEmpty(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	if out := runExport(t, c); strings.Count(out, "\n") != 1 {
		t.Fatalf("an empty export is the header alone: %q", out)
	}
	if out := runExport(t, c, "-o", "jsonl"); out != "" {
		t.Fatalf("an empty JSON Lines export is empty: %q", out)
	}
}
