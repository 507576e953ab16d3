// Package bench measures the dpsctl binary end to end: process start, one
// enrollment read against a running "dpsctl serve", and listing many
// enrollments. Machines differ several-fold, so each benchmark also runs a
// baseline in the same loop and reports the ratio: process start against a
// hello-world binary built by the same toolchain, one read against process
// start, JSON listing against the tab-separated listing. Run with:
//
//	go test -run '^$' -bench . -benchtime 50x ./bench/
//
// The figures go into docs/benchmarks.md.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// binary is dpsctl; hello is a hello-world program built the same way,
// the floor of starting a Go process; startFloor is bench/startfloor, the
// floor that dpsctl's required libraries (cobra, viper, tablewriter) set.
var binary, hello, startFloor string

// helloSource is the hello-world baseline.
const helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
`

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// Only benchmarks live here; skip the build on a plain test run.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dpsctl-bench")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dpsctl")
	startFloor = filepath.Join(dir, "startfloor")
	for bin, pkg := range map[string]string{binary: "../cmd/dpsctl", startFloor: "./startfloor"} {
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			panic(fmt.Sprintf("build %s: %v\n%s", pkg, err, out))
		}
	}
	hello, err = buildHello(dir)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildHello builds helloSource with the flags dpsctl is built with.
func buildHello(dir string) (string, error) {
	src := filepath.Join(dir, "hello")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloSource), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hello-bin")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hello: %v\n%s", err, b)
	}
	return out, nil
}

// server is a "dpsctl serve" child process on 127.0.0.1:0.
type server struct {
	cmd     *exec.Cmd
	dataDir string
	env     []string
	info    struct {
		ConnectionString string `json:"connectionString"`
		Address          string `json:"address"`
		CAFile           string `json:"caFile"`
	}
}

func startServer(b *testing.B) *server {
	b.Helper()
	s := &server{dataDir: b.TempDir()}
	base := append(os.Environ(), "DPSCTL_DATA_DIR="+s.dataDir, "XDG_CONFIG_HOME="+b.TempDir(), "DPSCTL_QUIET=1")
	s.cmd = exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	s.cmd.Env = base
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Wait()
	})
	// Wait until serve reports its address.
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "127.0.0.1:") {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		b.Fatal("dpsctl serve did not start")
	}
	out, err := exec.Command(binary, "serve", "info", "-o", "json", "--show-keys", "--data-dir", s.dataDir).Output()
	if err != nil {
		b.Fatalf("serve info: %v", err)
	}
	if err := json.Unmarshal(out, &s.info); err != nil {
		b.Fatal(err)
	}
	s.env = append(base, "DPSCTL_CONNECTION_STRING="+s.info.ConnectionString, "DPSCTL_CA_FILE="+s.info.CAFile)
	return s
}

func (s *server) client(b *testing.B) *dps.Client {
	c, err := newTLSClient(s.info.ConnectionString, s.info.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func run(b *testing.B, env []string, args ...string) (time.Duration, int64) {
	b.Helper()
	return runBinary(b, binary, env, args...)
}

func runBinary(b *testing.B, bin string, env []string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = nil
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("dpsctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	d := time.Since(start)
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	return d, rss
}

func reportMedian(b *testing.B, ds []time.Duration) {
	b.ReportMetric(msOf(median(ds)), "median-ms")
	b.ReportMetric(msOf(quantile(ds, 0.95)), "p95-ms")
}

// reportRatio reports the median of ds against the median of the baseline
// measured in the same loop.
func reportRatio(b *testing.B, ds, baseline []time.Duration, baselineName string) {
	reportMedian(b, ds)
	b.ReportMetric(msOf(median(baseline)), baselineName+"-median-ms")
	b.ReportMetric(float64(median(ds))/float64(median(baseline)), "x-"+baselineName)
}

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*q)]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkVersionColdStart: a new dpsctl process printing its version,
// against a hello-world process and the required-libraries floor
// (bench/startfloor) started in the same loop.
func BenchmarkVersionColdStart(b *testing.B) { coldStart(b, "version") }

// BenchmarkHelpColdStart: "dpsctl --help", against the same baselines.
func BenchmarkHelpColdStart(b *testing.B) { coldStart(b, "--help") }

func coldStart(b *testing.B, args ...string) {
	env := append(os.Environ(), "XDG_CONFIG_HOME="+b.TempDir())
	var ds, base, floor []time.Duration
	for b.Loop() {
		d, _ := runBinary(b, hello, env)
		base = append(base, d)
		d, _ = runBinary(b, startFloor, env)
		floor = append(floor, d)
		d, _ = run(b, env, args...)
		ds = append(ds, d)
	}
	reportRatio(b, ds, base, "hello")
	b.ReportMetric(msOf(median(floor)), "startfloor-median-ms")
	b.ReportMetric(float64(median(floor))/float64(median(base)), "startfloor-x-hello")
	b.ReportMetric(float64(median(ds))/float64(median(floor)), "x-startfloor")
}

// BenchmarkEnrollmentShow: "dpsctl enrollment show" against "dpsctl serve".
func BenchmarkEnrollmentShow(b *testing.B) {
	s := startServer(b)
	c := s.client(b)
	e := &model.IndividualEnrollment{RegistrationID: "bench-show", EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey}}}
	if _, err := c.PutEnrollment(context.Background(), e, ""); err != nil {
		b.Fatal(err)
	}
	var ds, base []time.Duration
	for b.Loop() {
		d, _ := run(b, s.env, "version")
		base = append(base, d)
		d, _ = run(b, s.env, "enrollment", "show", "bench-show", "-o", "json")
		ds = append(ds, d)
	}
	// Against "dpsctl version": what the round trip (TLS, SAS, one GET)
	// adds to starting the process.
	reportRatio(b, ds, base, "version")
}

func seed(b *testing.B, c *dps.Client, n int) {
	b.Helper()
	ctx := context.Background()
	batch := make([]model.IndividualEnrollment, 0, 10)
	for i := 0; i < n; i++ {
		batch = append(batch, model.IndividualEnrollment{
			RegistrationID: fmt.Sprintf("dev-%07d", i),
			EnrollmentCommon: model.EnrollmentCommon{
				Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey},
				IoTHubs:     []string{"hub1.azure-devices.net"},
			},
		})
		if len(batch) == 10 || i == n-1 {
			res, err := c.BulkEnrollments(ctx, model.BulkCreate, batch)
			if err != nil {
				b.Fatal(err)
			}
			if !res.IsSuccessful {
				b.Fatalf("bulk: %+v", res.Errors)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkEnrollmentListJSON lists N enrollments as JSON through "dpsctl
// serve" and reports peak RSS, to show memory stays flat as N grows.
func BenchmarkEnrollmentListJSON(b *testing.B) { benchmarkList(b, "json") }

// BenchmarkEnrollmentListYAML: the same for YAML, which also streams.
func BenchmarkEnrollmentListYAML(b *testing.B) { benchmarkList(b, "yaml") }

func benchmarkList(b *testing.B, format string) {
	for _, n := range []int{10_000, 40_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := startServer(b)
			seed(b, s.client(b), n)
			var ds, base []time.Duration
			var peak int64
			for b.Loop() {
				d, _ := run(b, s.env, "enrollment", "list", "-o", "tsv")
				base = append(base, d)
				d, rss := run(b, s.env, "enrollment", "list", "-o", format)
				ds = append(ds, d)
				peak = max(peak, rss)
			}
			// Against the tab-separated listing of the same enrollments:
			// what rendering the format costs over the same pages.
			reportRatio(b, ds, base, "tsv")
			b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
		})
	}
}
