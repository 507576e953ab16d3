package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dpsctl/dpsctl/pkg/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"dpsctl": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real
// dpsctl binary against a real "dpsctl serve" on 127.0.0.1:0.
// DPSCTL_UPDATE=1 rewrites the cmp sections of failing scripts.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("DPSCTL_UPDATE") == "1",
		Condition:           scriptCondition,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, ".local", "share"))
			env.Setenv("DPSCTL_DATA_DIR", "")
			env.Setenv("DPSCTL_CONNECTION_STRING", "")
			env.Setenv("DPSCTL_CA_FILE", "")
			env.Setenv("DPSCTL_PROFILE", "")
			env.Setenv("DPSCTL_OUTPUT", "")
			env.Setenv("NO_COLOR", "1")
			for _, e := range azureEnv {
				env.Setenv(e, "")
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve":       cmdServe,
			"jsonfield":   cmdJSONField,
			"stdoutcount": cmdStdoutCount,
			"exitcode":    cmdExitCode,
			"azure":       cmdAzure,
		},
	})
}

// serve start [DATA_DIR [FLAG...]]: starts "dpsctl serve --addr 127.0.0.1:0"
// (with the extra flags) in the background and points
// DPSCTL_CONNECTION_STRING and DPSCTL_CA_FILE at it.
// It is stopped with Ctrl-C (SIGINT) when the script ends, and must exit 0.
// serve stop: stops it now and checks the clean shutdown.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! serve")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: serve start [DATA_DIR [FLAG...]] | serve stop")
	}
	switch args[0] {
	case "start":
		dataDir := ts.MkAbs("srv")
		if len(args) > 1 {
			dataDir = ts.MkAbs(args[1])
		}
		exe, err := exec.LookPath("dpsctl")
		ts.Check(err)
		serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}
		if len(args) > 2 {
			serveArgs = append(serveArgs, args[2:]...)
		}
		cmd := exec.Command(exe, serveArgs...)
		cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "XDG_CONFIG_HOME="+ts.Getenv("XDG_CONFIG_HOME"))
		var logBuf bytes.Buffer
		pr, pw := io.Pipe()
		cmd.Stderr = pw
		cmd.Stdout = &logBuf
		ts.Check(cmd.Start())
		addrRe := regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
		found := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(pr)
			sent := false
			for sc.Scan() {
				logBuf.WriteString(sc.Text() + "\n")
				if m := addrRe.FindString(sc.Text()); m != "" && !sent && !strings.HasSuffix(m, ":0") {
					found <- m
					sent = true
				}
			}
		}()
		select {
		case <-found:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			ts.Fatalf("dpsctl serve did not report its address:\n%s", logBuf.String())
		}
		info, err := exec.Command(exe, "serve", "info", "-o", "json", "--show-keys", "--data-dir", dataDir).Output()
		if err != nil {
			ts.Fatalf("serve info: %v", err)
		}
		var si struct {
			ConnectionString string `json:"connectionString"`
			CAFile           string `json:"caFile"`
			IDScope          string `json:"idScope"`
			Address          string `json:"address"`
		}
		ts.Check(json.Unmarshal(info, &si))
		ts.Setenv("DPSCTL_CONNECTION_STRING", si.ConnectionString)
		ts.Setenv("DPSCTL_CA_FILE", si.CAFile)
		ts.Setenv("SERVE_ADDR", si.Address)
		ts.Setenv("SERVE_ID_SCOPE", si.IDScope)
		ts.Setenv("SERVE_DATA_DIR", dataDir)
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				pw.Close()
				if err != nil {
					ts.Fatalf("dpsctl serve did not exit cleanly on Ctrl-C: %v\n%s", err, logBuf.String())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				ts.Fatalf("dpsctl serve did not stop within 15s of Ctrl-C")
			}
		}
		servers.Store(ts, stop)
		ts.Defer(stop)
	case "stop":
		v, _ := servers.Load(ts)
		stop, ok := v.(func())
		if !ok {
			ts.Fatalf("serve stop: no server started")
		}
		stop()
	default:
		ts.Fatalf("usage: serve start [DATA_DIR [FLAG...]] | serve stop")
	}
}

// servers maps a running script to the stop function of its server.
var servers sync.Map

// jsonfield FILE PATH WANT: the value at the dotted PATH of the JSON in FILE
// (stdout for "stdout") must print as WANT; with !, must not.
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE PATH WANT")
	}
	data := ts.ReadFile(args[0])
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	for _, p := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("index %q out of range", p)
			}
			v = x[i]
		default:
			v = nil
		}
	}
	got := fmt.Sprint(v)
	if v == nil {
		got = "<nil>"
	}
	if (got == args[2]) == neg {
		ts.Fatalf("%s %s = %q, want %s%q", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// stdoutcount N: stdout has exactly N lines.
func cmdStdoutCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: stdoutcount N")
	}
	out := ts.ReadFile("stdout")
	n := strings.Count(out, "\n")
	if fmt.Sprint(n) != args[0] {
		ts.Fatalf("stdout has %d lines, want %s", n, args[0])
	}
}

// exitcode N ARGS...: runs dpsctl ARGS and checks it exits with code N;
// its stdout and stderr become the script's stdout and stderr.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: exitcode N ARGS...")
	}
	exe, err := exec.LookPath("dpsctl")
	ts.Check(err)
	cmd := exec.Command(exe, args[1:]...)
	cmd.Dir = ts.Getenv("WORK")
	var env []string
	for _, kv := range append([]string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "DPSCTL_DATA_DIR", "DPSCTL_CONNECTION_STRING", "DPSCTL_CA_FILE", "DPSCTL_PROFILE", "PATH", "NO_COLOR"}, azureEnv...) {
		env = append(env, kv+"="+ts.Getenv(kv))
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	got := cmd.ProcessState.ExitCode()
	// Expose the output to later stdout/stderr assertions.
	ts.Check(os.WriteFile(ts.MkAbs(".exitcode-stdout"), stdout.Bytes(), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(".exitcode-stderr"), stderr.Bytes(), 0o644))
	if fmt.Sprint(got) != args[0] {
		ts.Fatalf("dpsctl %s exited %d, want %s\nstderr:\n%s", strings.Join(args[1:], " "), got, args[0], stderr.String())
	}
	fmt.Fprint(ts.Stdout(), stdout.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
}
