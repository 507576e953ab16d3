package importcmd_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/cmd/group/export"
	importcmd "github.com/dpsctl/dpsctl/pkg/cmd/group/import"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

const key1, key2 = "MDEyMzQ1Njc4OWFiY2RlZg==", "ZmVkY2JhOTg3NjU0MzIxMA=="

func TestNewCmdImport(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    func(*importcmd.ImportOptions) bool
		wantErr string
	}{
		{"defaults", []string{"g.csv"}, func(o *importcmd.ImportOptions) bool {
			return o.File == "g.csv" && o.Kind == model.KindGroup && o.Mode == "create" && o.Concurrency == 32 && o.Retries == 4 && o.Rate == 0 && !o.DryRun
		}, ""},
		{"every flag", []string{"-", "--format", "jsonl", "--mode", "delete", "--dry-run", "--concurrency", "4", "--rate", "600", "--retries", "1", "--report", "r.csv", "--raw-csv"},
			func(o *importcmd.ImportOptions) bool {
				return o.File == "-" && o.Format == "jsonl" && o.Mode == "delete" && o.DryRun && o.Concurrency == 4 && o.Rate == 600 && o.Retries == 1 && o.Report == "r.csv" && o.RawCSV
			}, ""},
		{"no file", nil, nil, "import takes one file name (or - for stdin)"},
		{"bad mode", []string{"g.csv", "--mode", "merge"}, nil, "valid values are create, upsert, update, delete"},
		{"bad concurrency", []string{"g.csv", "--concurrency", "65"}, nil, "--concurrency must be between 1 and 64"},
		{"negative retries", []string{"g.csv", "--retries", "-1"}, nil, "--retries must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, importcmd.NewCmdImport, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(got) {
				t.Fatalf("options %+v", got)
			}
		})
	}
}

func TestNewCmdExport(t *testing.T) {
	got, err := cmdtest.Parse(t, export.NewCmdExport, "-o", "jsonl", "--raw-csv")
	if err != nil || got.Format != "jsonl" || !got.RawCSV {
		t.Fatalf("%+v, %v", got, err)
	}
	_, err = cmdtest.Parse(t, export.NewCmdExport, "extra")
	cmdtest.WantUsageError(t, err, "export takes no arguments")
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, c *dps.Client, args ...string) (cmdtest.Streams, error) {
	t.Helper()
	return cmdtest.Exec(t, c, false, importcmd.NewCmdImport, args...)
}

// seconds hides the durations of a summary.
var seconds = regexp.MustCompile(`[0-9.]+s(, [0-9,]+ rows/s written)?`)

// TestImport imports a file of groups, runs it again (nothing changes),
// and shows what a bad file prints.
func TestImport(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	dir := t.TempDir()
	ca := certstest.New(t)
	file := write(t, dir, "groups.csv", "enrollmentGroupId,attestation,certificate,primaryKey,secondaryKey,iotHubs,allocationPolicy,provisioningStatus,iotEdge,tags\n"+
		"factory-a,x509,"+ca.IntermediateCertPath+",,,,,,,\n"+
		"edge-fleet,symmetricKey,,"+key1+","+key2+",,hashed,,true,\"{\"\"site\"\":\"\"b\"\"}\"\n"+
		"disabled-fleet,symmetric-key,,,,,,disabled,,\n")
	report := filepath.Join(dir, "report.csv")
	s, err := run(t, c, file, "--report", report)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.ErrOut)
	}
	cmdtest.Golden(t, seconds.ReplaceAllString(s.ErrOut.String(), "<time>"), file, "<file>")
	rep, _ := os.ReadFile(report)
	if string(rep) != "line,enrollmentGroupId,outcome,errorCode,message\n2,factory-a,created,,\n3,edge-fleet,created,,\n4,disabled-fleet,created,,\n" {
		t.Fatalf("report:\n%s", rep)
	}
	a, err := c.GetGroupAttestation(context.Background(), "edge-fleet")
	if err != nil || a.SymmetricKey.PrimaryKey != key1 || a.SymmetricKey.SecondaryKey != key2 {
		t.Fatalf("edge-fleet keys %+v, %v", a, err)
	}

	t.Run("again", func(t *testing.T) {
		s, err := run(t, c, file, "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, s.ErrOut)
		}
		if !strings.Contains(s.Out.String(), `"unchanged": 3`) {
			t.Fatalf("summary:\n%s", s.Out)
		}
	})

	t.Run("bad rows", func(t *testing.T) {
		bad := write(t, dir, "bad.csv", "enrollmentGroupId,attestation,certificate,primaryKey\n"+
			"g1,tpm,,\n"+
			"g2,x509,"+ca.Device(t, "dev-1").CertPath+",\n"+
			"G1,symmetricKey,,not-a-key\n")
		s, err := run(t, c, bad)
		if err == nil || err.Error() != "3 of 3 rows are invalid; nothing was written" {
			t.Fatalf("error %v", err)
		}
		cmdtest.Golden(t, s.ErrOut.String(), bad, "<file>", ca.Dir, "<ca>")
	})
}

// TestExportRoundTrip exports groups, and imports the export into the same
// service (all unchanged) and into a new one (all created but the X.509
// group, whose certificate the service never returns).
func TestExportRoundTrip(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			_, c := cmdtest.NewServer(t)
			dir := t.TempDir()
			ca := certstest.New(t)
			seed := write(t, dir, "seed.csv", "enrollmentGroupId,attestation,certificate,primaryKey,secondaryKey,iotHubs,allocationPolicy,reprovisionPolicy,desiredProperties\n"+
				"factory-a,x509,"+ca.IntermediateCertPath+",,,,,,\n"+
				"edge-fleet,symmetricKey,,"+key1+","+key2+",localhost,static,never,\"{\"\"fw\"\":\"\"1.2\"\"}\"\n")
			if s, err := run(t, c, seed); err != nil {
				t.Fatalf("%v\n%s", err, s.ErrOut)
			}
			s, err := cmdtest.Exec(t, c, false, export.NewCmdExport, "-o", format, "--show-keys")
			if err != nil {
				t.Fatalf("%v\n%s", err, s.ErrOut)
			}
			out := s.Out.String()
			thumb := regexp.MustCompile(`sha256:[0-9A-F]{64}`)
			// The service lists groups in no set order: the golden file
			// has the rows sorted, after the header.
			lines := strings.SplitAfter(out, "\n")
			first := 0
			if format == "csv" {
				first = 1
			}
			slices.Sort(lines[first:])
			cmdtest.Golden(t, thumb.ReplaceAllString(strings.Join(lines, ""), "sha256:<thumbprint>"), key1, "<key1>", key2, "<key2>")
			exp := write(t, dir, "export."+format, out)

			s, err = run(t, c, exp, "-o", "json")
			if err != nil || !strings.Contains(s.Out.String(), `"unchanged": 2`) {
				t.Fatalf("into the same service: %v\n%s%s", err, s.Out, s.ErrOut)
			}
			_, other := cmdtest.NewServer(t)
			s, err = run(t, other, exp, "-o", "json")
			if err == nil || !strings.Contains(s.Out.String(), `"created": 1`) || !strings.Contains(s.ErrOut.String(), "factory-a: the group does not exist and its certificate is given only as a sha256: thumbprint") {
				t.Fatalf("into another service: %v\n%s%s", err, s.Out, s.ErrOut)
			}
			a, err := other.GetGroupAttestation(context.Background(), "edge-fleet")
			if err != nil || a.SymmetricKey.PrimaryKey != key1 {
				t.Fatalf("the key did not travel: %+v, %v", a, err)
			}
		})
	}
}
