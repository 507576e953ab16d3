package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cmd/factory"
	"github.com/dpsctl/dpsctl/pkg/cmd/root"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	api := func(status int) error {
		return fmt.Errorf("get enrollment: %w", &dps.Error{StatusCode: status, ErrorCode: status * 1000, Method: "GET", Path: "/enrollments/x"})
	}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"ok", nil, nil, ExitOK},
		{"no results", nil, cmdutil.NoResultsError{Message: "none"}, ExitOK},
		{"plain error", nil, errors.New("boom"), ExitError},
		{"silent", nil, cmdutil.ErrSilent, ExitError},
		{"declined", nil, cmdutil.ErrCancel, ExitError},
		{"api 404", nil, api(404), ExitError},
		{"api 500", nil, api(500), ExitError},
		{"flag error", nil, cmdutil.FlagErrorf("bad"), ExitUsage},
		{"wrapped flag error", nil, fmt.Errorf("x: %w", cmdutil.FlagErrorf("bad")), ExitUsage},
		{"cobra unknown command", nil, errors.New(`unknown command "x" for "dpsctl"`), ExitUsage},
		{"cobra unknown flag", nil, errors.New("unknown flag: --x"), ExitUsage},
		{"verification", nil, cmdutil.VerificationErrorf("chain invalid"), ExitVerification},
		{"auth error", nil, &cmdutil.AuthError{Err: errors.New("bad")}, ExitAuth},
		{"api 401", nil, api(401), ExitAuth},
		{"api 403", nil, api(403), ExitAuth},
		{"reworded 401", nil, cmdutil.Reword(api(401), "nope"), ExitAuth},
		{"bad connection string", nil, fmt.Errorf("profile: %w", &sas.ParseError{Field: "HostName", Reason: "missing"}), ExitAuth},
		{"azure sign-in", nil, fmt.Errorf("client: %w", &azure.SignInError{Kind: azure.CredentialAzureCLI, Err: errors.New("Please run 'az login'")}), ExitAuth},
		{"arm 403", nil, &azure.ARMError{Op: "get", StatusCode: 403, Code: "AuthorizationFailed"}, ExitAuth},
		{"arm 401", nil, &azure.ARMError{Op: "get", StatusCode: 401, Code: "ExpiredAuthenticationToken"}, ExitAuth},
		{"arm 404", nil, &azure.ARMError{Op: "get", StatusCode: 404, Code: "ResourceNotFound"}, ExitError},
		{"hinted 403", nil, &dps.HintedError{Err: api(403)}, ExitAuth},
		{"context canceled", nil, context.Canceled, ExitInterrupted},
		{"interrupted run", cancelled, errors.New("read: connection reset"), ExitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.ctx, tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// isolate gives the test its own configuration and data directories.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, e := range []string{"DPSCTL_CONNECTION_STRING", "DPSCTL_CA_FILE", "DPSCTL_PROFILE", "DPSCTL_DATA_DIR", "DPSCTL_OUTPUT", "DPSCTL_QUIET", "DPSCTL_CONFIG", "DPSCTL_FORCE_TTY"} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	return dir
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := factory.NewWithIO(ios, "test")
	code = Run(context.Background(), f, root.NewCmdRoot(f), args)
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	dir := isolate(t)
	dataDir := filepath.Join(dir, "data", "dpsctl")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantOut    string   // substring of stdout
		wantErrOut []string // substrings of stderr
		exactErr   string   // whole stderr
	}{
		{name: "version", args: []string{"version"}, wantOut: "dpsctl version ", exactErr: ""},
		{name: "no arguments prints help", args: nil, wantOut: "Usage:"},
		{name: "unknown command", args: []string{"bogus"}, wantCode: ExitUsage, wantErrOut: []string{`error: unknown command "bogus" for "dpsctl"`, "Run 'dpsctl --help' for usage."}},
		{name: "unknown verb", args: []string{"enrollment", "bogus"}, wantCode: ExitUsage, wantErrOut: []string{`unknown command "bogus" for "dpsctl enrollment"`}},
		{name: "unknown flag", args: []string{"enrollment", "list", "--bogus"}, wantCode: ExitUsage, wantErrOut: []string{"unknown flag: --bogus", "Run 'dpsctl enrollment list --help' for usage."}},
		{name: "too many arguments", args: []string{"enrollment", "show", "a", "b"}, wantCode: ExitUsage},
		{name: "bad output format", args: []string{"enrollment", "list", "-o", "xml"}, wantCode: ExitUsage},
		{name: "bad DPSCTL_OUTPUT", args: []string{"enrollment", "list"}, env: map[string]string{"DPSCTL_OUTPUT": "xml"}, wantCode: ExitUsage, wantErrOut: []string{"invalid output format"}},
		{name: "help topic", args: []string{"help", "exit-codes"}, wantOut: "130  interrupted"},
		{
			name:     "embedded backend, one status line",
			args:     []string{"enrollment", "list"},
			exactErr: "using embedded provisioning service (data dir " + dataDir + ")\nno enrollments found\n",
		},
		{name: "quiet flag", args: []string{"enrollment", "list", "--quiet", "-o", "json"}, wantOut: "[]\n", exactErr: ""},
		{name: "quiet env", args: []string{"enrollment", "list", "-o", "json"}, env: map[string]string{"DPSCTL_QUIET": "1"}, exactErr: ""},
		{
			name:       "api error details",
			args:       []string{"enrollment", "show", "nope", "--quiet"},
			wantCode:   ExitError,
			wantErrOut: []string{`error: enrollment "nope" not found`, "status:     404 Not Found", "errorCode:  404201", "trackingId: "},
		},
		{
			name:       "malformed connection string",
			args:       []string{"enrollment", "list", "--connection-string", "HostName=x.example"},
			wantCode:   ExitAuth,
			wantErrOut: []string{"connection string from --connection-string", "SharedAccessKey: missing"},
		},
		{
			name:       "unknown profile",
			args:       []string{"enrollment", "list", "--profile", "nope"},
			wantCode:   ExitError,
			wantErrOut: []string{`profile "nope" (from --profile) is not defined`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tt.wantOut)
			}
			for _, w := range tt.wantErrOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if tt.wantErrOut == nil && tt.wantCode == 0 && tt.exactErr != errOut && (tt.exactErr != "" || strings.Contains(strings.Join(tt.args, " "), "enrollment")) {
				t.Errorf("stderr %q, want %q", errOut, tt.exactErr)
			}
		})
	}
}

// TestRemoteBackend talks HTTPS to a served local service, trusting its CA
// through --ca-file, and maps a wrong key to the authentication exit code.
func TestRemoteBackend(t *testing.T) {
	isolate(t)
	info := servertest.Start(t, server.Options{}).Info
	cs, err := sas.ParseConnectionString(info.ConnectionString)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, "enrollment", "create", "dev-1", "--attestation", "symmetric-key", "-o", "json",
		"--connection-string", cs.String(), "--ca-file", info.CAFile)
	if code != 0 || !strings.Contains(out, `"registrationId": "dev-1"`) {
		t.Fatalf("create over HTTPS: code %d\n%s\n%s", code, out, errOut)
	}
	if want := "using " + cs.HostName + " (connection string from --connection-string)\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}

	// Without the CA the server certificate is not trusted.
	code, _, errOut = run(t, "enrollment", "list", "--connection-string", cs.String())
	if code != ExitError || !strings.Contains(errOut, "hint: trust the service's CA certificate with --ca-file") {
		t.Errorf("untrusted server: code %d, stderr %q", code, errOut)
	}

	wrong := cs
	wrong.Key = "d3Jvbmcga2V5IHdyb25nIGtleQ=="
	code, _, errOut = run(t, "enrollment", "list", "--connection-string", wrong.String(), "--ca-file", info.CAFile)
	if code != ExitAuth || !strings.Contains(errOut, "401") {
		t.Errorf("wrong key: code %d, stderr %q", code, errOut)
	}
}

// Shell completion: IDs come live from the configured service, enum flags
// offer their values, file flags filter by extension.
func TestCompletion(t *testing.T) {
	isolate(t)
	if code, _, errOut := run(t, "enrollment", "create", "dev-1", "--attestation", "symmetric-key", "--quiet"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	run(t, "enrollment", "create", "other-1", "--attestation", "symmetric-key", "--quiet")
	tests := []struct {
		args []string
		want []string
		not  []string
	}{
		{args: []string{"__complete", "enrollment", "show", ""}, want: []string{"dev-1\n", "other-1\n", ":4\n"}},
		{args: []string{"__complete", "enrollment", "show", "de"}, want: []string{"dev-1\n", ":4\n"}, not: []string{"other-1"}},
		{args: []string{"__complete", "enrollment", "show", "dev-1", ""}, want: []string{":4\n"}, not: []string{"dev-1\n"}},
		{args: []string{"__complete", "enrollment", "delete", "dev-1", ""}, want: []string{"other-1\n"}, not: []string{"dev-1\n"}},
		{args: []string{"__complete", "enrollment", "create", "--attestation", ""}, want: []string{"tpm\n", "x509\n", "symmetric-key\n"}},
		{args: []string{"__complete", "enrollment", "create", "--reprovision-policy", ""}, want: []string{"never\n"}},
		{args: []string{"__complete", "enrollment", "create", "--certificate", ""}, want: []string{"pem\n", "cer\n", "der\n", ":8\n"}},
		{args: []string{"__complete", "enrollment", "create", "--from-file", ""}, want: []string{"json\n", ":8\n"}},
		{args: []string{"__complete", "-o", ""}, want: []string{"table\n", "json\n", "yaml\n", "tsv\n"}},
		{args: []string{"__complete", "completion", ""}, want: []string{"bash\n", "powershell\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != 0 {
				t.Fatalf("code %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("completions lack %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("completions have %q:\n%s", n, out)
				}
			}
			if strings.Contains(errOut, "using ") {
				t.Errorf("completion printed the backend line: %q", errOut)
			}
		})
	}
}

// BenchmarkVersion measures a whole "dpsctl version" run in process: root
// construction must stay cheap (no configuration, TLS or database work).
func BenchmarkVersion(b *testing.B) {
	for b.Loop() {
		ios, _, _, _ := iostreams.Test()
		f := factory.NewWithIO(ios, "bench")
		if code := Run(context.Background(), f, root.NewCmdRoot(f), []string{"version"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// TestCatchesSignals: the runs that only print what they hold do not catch
// signals; every command that does work does.
func TestCatchesSignals(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--help"}, false},
		{[]string{"--version"}, false},
		{[]string{"version"}, false},
		{[]string{"version", "-o", "json"}, false},
		{[]string{"help"}, false},
		{[]string{"help", "exit-codes"}, false},
		{[]string{"exit-codes"}, false},
		{[]string{"enrollment", "list"}, true},
		{[]string{"enrollment", "show", "x", "-o", "json"}, true},
		{[]string{"-o", "json", "enrollment", "list"}, true},
		{[]string{"enrollment"}, true},
		{[]string{"serve"}, true},
		{[]string{"quickstart"}, true},
		{[]string{"device", "register", "d1"}, true},
		{[]string{"bogus"}, false}, // a usage error
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := factory.New("test")
			if got := catchesSignals(root.NewCmdRootFor(f, tt.args), tt.args); got != tt.want {
				t.Errorf("catchesSignals = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrintAzureErrors(t *testing.T) {
	armErr := &azure.ARMError{Op: "get provisioning service mydps", StatusCode: 403, Code: "AuthorizationFailed", Message: "no access", RequestID: "req-1", CorrelationID: "corr-1"}
	signIn := &azure.SignInError{Kind: azure.CredentialAzureCLI, Err: errors.New("AzureCLICredential: ERROR: AADSTS700082: expired\nTrace ID: x")}
	tests := []struct {
		name      string
		err       error
		verbose   bool
		want      []string
		wantNot   []string
		wantLines int
	}{
		{"arm", armErr, false, []string{"error: get provisioning service mydps: AuthorizationFailed (HTTP 403): no access; the signed-in identity needs a role"}, []string{"req-1"}, 1},
		{"arm -v", armErr, true, []string{"  x-ms-request-id: req-1", "  x-ms-correlation-request-id: corr-1"}, nil, 3},
		{"sign-in", signIn, false, []string{`run "az login"`}, []string{"Trace ID"}, 1},
		{"sign-in -v", signIn, true, []string{"details: AzureCLICredential", "Trace ID"}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printError(&b, nil, tt.err, ExitCode(nil, tt.err), tt.verbose)
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output %q has %q", out, w)
				}
			}
			if n := strings.Count(out, "\n"); n != tt.wantLines {
				t.Errorf("output has %d lines, want %d:\n%s", n, tt.wantLines, out)
			}
		})
	}
}
