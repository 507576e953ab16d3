package importbench

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/store"
)

// TestImportSurvivesServiceCrash kills "dpsctl serve" with SIGKILL in the
// middle of an import, restarts it on the same data directory and runs the
// same import command again: it must finish with every row present exactly
// once. DPSCTL_CRASH_ROWS sets the size (20,000 by default, which keeps the
// test to some seconds; bench/import/run.sh documents the 100,000-row run).
func TestImportSurvivesServiceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dpsctl and imports thousands of rows")
	}
	n := 20000
	if v := os.Getenv("DPSCTL_CRASH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("DPSCTL_CRASH_ROWS=%q", v)
		}
	}
	work := t.TempDir()
	bin := filepath.Join(work, "dpsctl")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/dpsctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(work, "enrollments.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, n, "crash"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	dataDir := filepath.Join(work, "data")
	os.Mkdir(dataDir, 0o700)
	env := append(os.Environ(), "HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"),
		"DPSCTL_PROFILE=", "DPSCTL_OUTPUT=", "DPSCTL_CONNECTION_STRING=", "DPSCTL_CA_FILE=", "DPSCTL_DATA_DIR=")

	srv := startServe(t, bin, env, dataDir, "127.0.0.1:0")
	info := serveInfo(t, bin, env, dataDir)
	importEnv := append(env, "DPSCTL_CONNECTION_STRING="+info.ConnectionString, "DPSCTL_CA_FILE="+info.CAFile)
	importArgs := []string{"enrollment", "import", file, "--quiet", "--retries", "1"}

	// First run: the service dies under it.
	first := exec.Command(bin, append(importArgs, "--report", filepath.Join(work, "report-1.csv"))...)
	first.Env = importEnv
	var firstErr safeBuffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	st, err := store.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := st.CountEnrollments(context.Background())
		if err == nil && c >= n/3 {
			t.Logf("%d of %d rows written; killing dpsctl serve", c, n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not get a third of the way in 2 minutes (%d rows, %v)\n%s", c, err, firstErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill(t)
	waitExit(t, first, 90*time.Second)
	if first.ProcessState.Success() {
		t.Fatalf("the import finished although the service was killed:\n%s", firstErr.String())
	}
	t.Logf("first run: exit %d, %s", first.ProcessState.ExitCode(), lastLine(firstErr.String()))

	// The service comes back on the same port, so the connection string
	// still holds; then the very same command runs again.
	startServe(t, bin, env, dataDir, info.Address)
	second := exec.Command(bin, append(importArgs, "--report", filepath.Join(work, "report-2.csv"))...)
	second.Env = importEnv
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	counts := reportCounts(t, filepath.Join(work, "report-2.csv"))
	if counts["created"]+counts["unchanged"] != n || counts["failed"] != 0 || counts["created"] == 0 || counts["unchanged"] == 0 {
		t.Fatalf("second run outcomes %v, want created + unchanged = %d\n%s", counts, n, out)
	}
	t.Logf("second run: %v", counts)

	// Every row is there exactly once, and nothing else.
	seen := map[string]int{}
	after := int64(0)
	for range n/100 + 10 {
		page, err := st.ListEnrollments(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			seen[e.RegistrationID]++
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if len(seen) != n {
		t.Fatalf("%d enrollments stored, want %d", len(seen), n)
	}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("crash-%07d", i)
		if seen[id] != 1 {
			t.Fatalf("%s stored %d times", id, seen[id])
		}
	}
}

type serveProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startServe runs "dpsctl serve" and waits until it listens. MQTT goes
// on a free port: the restart names the HTTPS port it had, which would
// otherwise put MQTT on 8883, which another serve on the machine may hold.
func startServe(t *testing.T, bin string, env []string, dataDir, addr string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--mqtt-addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	listening := make(chan struct{})
	var log safeBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`listening on https://127\.0\.0\.1:[1-9]`)
		sent := false
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
			if !sent && re.MatchString(sc.Text()) {
				close(listening)
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case <-listening:
	case <-p.done:
		t.Fatalf("dpsctl serve exited:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("dpsctl serve did not listen:\n%s", log.String())
	}
	return p
}

func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-p.done
}

type serveInfoJSON struct {
	ConnectionString string `json:"connectionString"`
	CAFile           string `json:"caFile"`
	Address          string `json:"address"`
}

func serveInfo(t *testing.T, bin string, env []string, dataDir string) serveInfoJSON {
	t.Helper()
	cmd := exec.Command(bin, "serve", "info", "--data-dir", dataDir, "--show-keys", "-o", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("serve info: %v", err)
	}
	var si serveInfoJSON
	if err := json.Unmarshal(out, &si); err != nil {
		t.Fatal(err)
	}
	return si
}

func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the import did not stop within %v of the service dying", limit)
	}
}

func reportCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range rows[1:] {
		counts[r[2]]++
	}
	return counts
}

func lastLine(s string) string {
	sc := bufio.NewScanner(stringsReader(s))
	last := ""
	for sc.Scan() {
		if sc.Text() != "" {
			last = sc.Text()
		}
	}
	return last
}
