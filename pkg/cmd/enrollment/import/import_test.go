package importcmd

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
	"github.com/dpsctl/dpsctl/pkg/importer"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestNewCmdImport(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    func(*ImportOptions) bool
		wantErr string
	}{
		{"defaults", []string{"f.csv"}, func(o *ImportOptions) bool {
			return o.File == "f.csv" && o.Mode == "create" && o.Concurrency == 32 && o.Retries == 4 && o.Rate == 0 && !o.DryRun && o.Format == ""
		}, ""},
		{"every flag", []string{"-", "--format", "JSONL", "--mode", "upsert", "--dry-run", "--concurrency", "8", "--rate", "900", "--retries", "0", "--report", "r.csv"},
			func(o *ImportOptions) bool {
				return o.File == "-" && o.Format == "jsonl" && o.Mode == "upsert" && o.DryRun && o.Concurrency == 8 && o.Rate == 900 && o.Retries == 0 && o.Report == "r.csv"
			}, ""},
		{"no file", nil, nil, "import takes one file name (or - for stdin)"},
		{"bad mode", []string{"f.csv", "--mode", "replace"}, nil, "valid values are create, upsert, update, delete"},
		{"bad concurrency", []string{"f.csv", "--concurrency", "0"}, nil, "--concurrency must be between 1 and 64"},
		{"negative rate", []string{"f.csv", "--rate", "-1"}, nil, "--rate must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdImport, tt.args...)
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

// env is a local service with a Factory on test streams and a work
// directory holding a device certificate.
type env struct {
	t      *testing.T
	c      *dps.Client
	f      *cmdutil.Factory
	s      cmdtest.Streams
	dir    string
	ek     string
	x509ID string
}

func newEnv(t *testing.T, tty bool) *env {
	t.Helper()
	_, c := cmdtest.NewServer(t)
	f, s := cmdtest.NewFactory(t, c, tty)
	dir := t.TempDir()
	p, err := certs.NewDevice(nil, "dev-x509", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteCertificates(filepath.Join(dir, "dev-x509.pem"), []*x509.Certificate{p.Cert}, false); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, c: c, f: f, s: s, dir: dir, ek: enrollfiletest.NewEK(), x509ID: "dev-x509"}
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs the import command with a fast retry backoff.
func (e *env) run(args ...string) error {
	e.t.Helper()
	e.s.Out.Reset()
	e.s.ErrOut.Reset()
	return cmdtest.Run(e.t, e.f, NewCmdImport(e.f, func(o *ImportOptions) error {
		o.Backoff = func(int) time.Duration { return time.Millisecond }
		o.Now = time.Now
		return importRun(e.t.Context(), o)
	}), args...)
}

func (e *env) ids() []string {
	e.t.Helper()
	var ids []string
	for en, err := range e.c.Enrollments(context.Background(), dps.QueryOptions{}) {
		if err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, en.RegistrationID)
	}
	return ids
}

const header = "registrationId,attestation,endorsementKey,certificate,primaryKey,iotHubs,allocationPolicy,tags\n"

func (e *env) goodCSV() string {
	return header +
		"dev-tpm,tpm," + e.ek + ",,,,,\n" +
		"dev-x509,x509,,dev-x509.pem,,hub1.example,static,\"{\"\"site\"\":\"\"lab\"\"}\"\n" +
		"dev-sym,symmetric-key,,,MDEyMzQ1Njc4OWFiY2RlZg==,,,\n"
}

func TestImportRun(t *testing.T) {
	t.Run("dry run checks and writes nothing", func(t *testing.T) {
		e := newEnv(t, false)
		path := e.write("good.csv", e.goodCSV())
		if err := e.run(path, "--dry-run"); err != nil {
			t.Fatal(err)
		}
		if got := e.s.ErrOut.String(); got != path+": all 3 rows are valid; nothing was written (--dry-run)\n" {
			t.Fatalf("stderr %q", got)
		}
		if ids := e.ids(); len(ids) != 0 {
			t.Fatalf("wrote %v", ids)
		}
	})
	t.Run("bad rows are all reported and nothing is written", func(t *testing.T) {
		e := newEnv(t, false)
		path := e.write("bad.csv", e.goodCSV()+
			"dev-bad,tpm,AAAA,,,,,\n"+
			"dev-sym,symmetricKey,,,,,,\n"+
			"dev-static,symmetricKey,,,,,static,\n")
		report := filepath.Join(e.dir, "report.csv")
		for _, args := range [][]string{{path, "--report", report}, {path, "--dry-run"}} {
			err := e.run(args...)
			if err == nil || err.Error() != "3 of 6 rows are invalid; nothing was written" {
				t.Fatalf("%v: error %v", args, err)
			}
			want := path + ":5: endorsementKey: invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow\n" +
				path + ":7: allocationPolicy: static allocation needs exactly one hub in iotHubs; the row lists 0\n" +
				path + `:6: registrationId: "dev-sym" is a duplicate of line 4 (IDs compare ignoring case)` + "\n"
			if got := e.s.ErrOut.String(); got != want {
				t.Fatalf("stderr\n%s\nwant\n%s", got, want)
			}
		}
		if ids := e.ids(); len(ids) != 0 {
			t.Fatalf("wrote %v", ids)
		}
		data, _ := os.ReadFile(report)
		want := "line,registrationId,outcome,errorCode,message\n" +
			"5,dev-bad,failed,invalid,endorsementKey: invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow\n" +
			"7,dev-static,failed,invalid,allocationPolicy: static allocation needs exactly one hub in iotHubs; the row lists 0\n" +
			"6,dev-sym,failed,invalid,\"registrationId: \"\"dev-sym\"\" is a duplicate of line 4 (IDs compare ignoring case)\"\n"
		if string(data) != want {
			t.Fatalf("report\n%s", data)
		}
	})
	t.Run("import, report, summary on stderr, then a re-run changes nothing", func(t *testing.T) {
		e := newEnv(t, false)
		path := e.write("good.csv", e.goodCSV())
		report := filepath.Join(e.dir, "report.csv")
		if err := e.run(path, "--report", report); err != nil {
			t.Fatalf("%v\n%s", err, e.s.ErrOut)
		}
		if e.s.Out.Len() != 0 {
			t.Errorf("stdout %q", e.s.Out)
		}
		stderr := e.s.ErrOut.String()
		if !strings.Contains(stderr, "  created             3\n") || strings.Contains(stderr, "\r") || strings.Contains(stderr, "\x1b") {
			t.Errorf("stderr %q", stderr)
		}
		data, _ := os.ReadFile(report)
		if string(data) != "line,registrationId,outcome,errorCode,message\n2,dev-tpm,created,,\n3,dev-x509,created,,\n4,dev-sym,created,,\n" {
			t.Errorf("report\n%s", data)
		}
		en, err := e.c.GetEnrollment(context.Background(), "dev-x509")
		if err != nil || en.AllocationPolicy != "static" || string(en.InitialTwin.Tags) != `{"site":"lab"}` {
			t.Fatalf("%+v %v", en, err)
		}
		etag := en.ETag
		if err := e.run(path, "-o", "json"); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"unchanged": 3`, `"created": 0`, `"failed": 0`, `"mode": "create"`} {
			if !strings.Contains(e.s.Out.String(), want) {
				t.Errorf("stdout lacks %s:\n%s", want, e.s.Out)
			}
		}
		if en, _ := e.c.GetEnrollment(context.Background(), "dev-x509"); en.ETag != etag {
			t.Error("the re-run rewrote an enrollment")
		}
	})
	t.Run("a conflict fails the row and the command", func(t *testing.T) {
		e := newEnv(t, false)
		e.run(e.write("good.csv", e.goodCSV()))
		changed := e.write("changed.csv", header+"dev-sym,symmetricKey,,,ZmVkY2JhOTg3NjU0MzIxMA==,,,\n")
		err := e.run(changed)
		if err == nil || err.Error() != "1 of 1 rows failed" {
			t.Fatalf("error %v", err)
		}
		if !strings.Contains(e.s.ErrOut.String(), changed+":2: dev-sym: an enrollment with this ID exists and differs in attestation.symmetricKey.primaryKey (use --mode upsert to update it) (conflict)\n") {
			t.Fatalf("stderr %s", e.s.ErrOut)
		}
		if err := e.run(changed, "--mode", "upsert"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.s.ErrOut.String(), "  updated             1\n") {
			t.Fatalf("stderr %s", e.s.ErrOut)
		}
	})
	t.Run("stdin, JSON Lines, delete", func(t *testing.T) {
		e := newEnv(t, false)
		e.s.In.WriteString(`{"registrationId":"dev-a","attestation":"symmetricKey","iotHubs":["h1.example"]}` + "\n" +
			`{"registrationId":"dev-b","attestation":"tpm","endorsementKey":"` + e.ek + `"}` + "\n")
		if err := e.run("-", "--format", "jsonl"); err != nil {
			t.Fatalf("%v\n%s", err, e.s.ErrOut)
		}
		if ids := e.ids(); strings.Join(ids, ",") != "dev-a,dev-b" {
			t.Fatalf("ids %v", ids)
		}
		e.s.In.WriteString("registrationId\ndev-a\ndev-gone\n")
		if err := e.run("-", "--mode", "delete"); err == nil || !strings.Contains(err.Error(), `required column "attestation"`) {
			t.Fatalf("error %v", err)
		}
		e.s.In.WriteString("registrationId,attestation\ndev-a,\ndev-gone,\n")
		if err := e.run("-", "--mode", "delete"); err != nil {
			t.Fatalf("%v\n%s", err, e.s.ErrOut)
		}
		if !strings.Contains(e.s.ErrOut.String(), "  deleted             1\n  failed              0") || !strings.Contains(e.s.ErrOut.String(), "  unchanged           1") {
			t.Fatalf("stderr %s", e.s.ErrOut)
		}
		if ids := e.ids(); strings.Join(ids, ",") != "dev-b" {
			t.Fatalf("ids %v", ids)
		}
	})
	t.Run("progress on a terminal", func(t *testing.T) {
		e := newEnv(t, true)
		if err := e.run(e.write("good.csv", e.goodCSV())); err != nil {
			t.Fatal(err)
		}
		stderr := e.s.ErrOut.String()
		if !strings.Contains(stderr, "\rImporting [") || !strings.Contains(stderr, "3/3 rows") || !strings.Contains(stderr, "\r\x1b[K") {
			t.Fatalf("stderr %q", stderr)
		}
	})
}

// TestSampleFile imports testdata/enrollments-sample.csv after making the
// certificate it names, as the comment at its top says.
func TestSampleFile(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "testdata", "enrollments-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, false)
	root, err := certs.NewRoot(certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := certs.NewDevice(root, "sample-x509-01", certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.dir, "certs"), 0o755)
	if err := certs.WriteCertificates(filepath.Join(e.dir, "certs", "sample-x509-01.pem"), []*x509.Certificate{dev.Cert}, false); err != nil {
		t.Fatal(err)
	}
	path := e.write("enrollments-sample.csv", string(sample))
	if err := e.run(path); err != nil {
		t.Fatalf("%v\n%s", err, e.s.ErrOut)
	}
	if !strings.Contains(e.s.ErrOut.String(), "  created             5\n") {
		t.Fatalf("stderr %s", e.s.ErrOut)
	}
	en, err := e.c.GetEnrollment(context.Background(), "sample-sym-02")
	if err != nil || en.AllocationPolicy != model.AllocationCustom || en.CustomAllocationDefinition.APIVersion != "2021-10-01" {
		t.Fatalf("%+v %v", en, err)
	}
}

func TestStoppedImport(t *testing.T) {
	e := newEnv(t, false)
	path := e.write("good.csv", e.goodCSV())
	f, s := cmdtest.NewFactory(t, nil, false)
	down := &url503{}
	err := cmdtest.Run(t, f, NewCmdImport(f, func(o *ImportOptions) error {
		o.Client = func(context.Context) (importer.Client, error) { return down, nil }
		o.Backoff = func(int) time.Duration { return time.Millisecond }
		return importRun(t.Context(), o)
	}), path, "--retries", "2", "--report", filepath.Join(e.dir, "r.csv"))
	if err == nil || !strings.Contains(err.Error(), "the import stopped (the service kept failing (3 attempts)") || !strings.Contains(err.Error(), "run the same command again to finish") {
		t.Fatalf("error %v", err)
	}
	if down.calls != 3 || !strings.Contains(s.ErrOut.String(), "  failed              3") {
		t.Fatalf("%d calls; stderr %s", down.calls, s.ErrOut)
	}
	data, _ := os.ReadFile(filepath.Join(e.dir, "r.csv"))
	if strings.Count(string(data), ",failed,") != 3 {
		t.Fatalf("report\n%s", data)
	}
}

// url503 is a service that always answers 503.
type url503 struct{ calls int }

func (u *url503) err() error {
	u.calls++
	return &dps.Error{StatusCode: 503, ErrorCode: 503000, Message: "Service Unavailable"}
}

func (u *url503) BulkEnrollments(context.Context, string, []model.IndividualEnrollment) (*model.BulkEnrollmentOperationResult, error) {
	return nil, u.err()
}

func (u *url503) GetEnrollment(context.Context, string) (*model.IndividualEnrollment, error) {
	return nil, u.err()
}

func (u *url503) GetEnrollmentAttestation(context.Context, string) (*model.AttestationMechanism, error) {
	return nil, u.err()
}
