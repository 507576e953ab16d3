package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/serve/info"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/server"
)

func TestNewCmdServe(t *testing.T) {
	// with returns the defaults changed by set.
	with := func(set func(o *ServeOptions)) ServeOptions {
		o := ServeOptions{Addr: DefaultAddr, HostName: DefaultHostName, MaxConnections: server.DefaultMaxConnections, MQTTAddr: "127.0.0.1:8883"}
		if set != nil {
			set(&o)
		}
		return o
	}
	tests := []struct {
		args    []string
		want    ServeOptions
		wantErr string
	}{
		{args: nil, want: with(nil)},
		{args: []string{"--addr", "127.0.0.1:0", "--hostname", "dps.lab", "-v"}, want: with(func(o *ServeOptions) {
			o.Addr, o.HostName, o.Verbose, o.MQTTAddr = "127.0.0.1:0", "dps.lab", true, "127.0.0.1:0"
		})},
		{args: []string{"--addr", "0.0.0.0:9443"}, want: with(func(o *ServeOptions) { o.Addr, o.MQTTAddr = "0.0.0.0:9443", "0.0.0.0:8883" })},
		{args: []string{"--mqtt-addr", "127.0.0.1:1883"}, want: with(func(o *ServeOptions) { o.MQTTAddr = "127.0.0.1:1883" })},
		{args: []string{"--mqtt-addr", "off"}, want: with(func(o *ServeOptions) { o.MQTTAddr = "" })},
		{args: []string{"--mqtt-addr", ""}, want: with(func(o *ServeOptions) { o.MQTTAddr = "" })},
		{args: []string{"--mqtt-addr", "8883"}, wantErr: `--mqtt-addr "8883"`},
		{args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, want: with(func(o *ServeOptions) { o.TLSCert, o.TLSKey = "c.pem", "k.pem" })},
		{args: []string{"--hub", "hub-a.lab", "--hub", "hub-b.lab"}, want: with(func(o *ServeOptions) { o.Hubs = []string{"hub-a.lab", "hub-b.lab"} })},
		{args: []string{"--max-connections", "64"}, want: with(func(o *ServeOptions) { o.MaxConnections = 64 })},
		{args: []string{"--webhook-allow", "10.20.0.0/16", "--webhook-allow", "alloc.lab.example", "--webhook-allow", "*.functions.lab.example"},
			want: with(func(o *ServeOptions) {
				o.WebhookAllow = []string{"10.20.0.0/16", "alloc.lab.example", "*.functions.lab.example"}
			})},
		{args: []string{"--tls-cert", "c.pem"}, wantErr: "give both --tls-cert and --tls-key"},
		{args: []string{"--addr", "nonsense"}, wantErr: "--addr"},
		{args: []string{"extra"}, wantErr: "serve takes no arguments"},
		{args: []string{"--throttle", "3000"}, want: with(func(o *ServeOptions) { o.Throttle = 3000 })},
		{args: []string{"--throttle", "0.5"}, want: with(func(o *ServeOptions) { o.Throttle = 0.5 })},
		{args: []string{"--throttle", "-1"}, wantErr: "--throttle must be a number of operations a minute between 0"},
		{args: []string{"--throttle", "NaN"}, wantErr: "--throttle must be a number of operations a minute between 0"},
		{args: []string{"--throttle", "1e9"}, wantErr: "--throttle must be a number of operations a minute between 0"},
		{args: []string{"--max-connections", "0"}, wantErr: "--max-connections must be at least 1"},
		{args: []string{"--max-connections", "-5"}, wantErr: "--max-connections must be at least 1"},
		{args: []string{"--webhook-allow", "10.0.0.0/8", "--webhook-allow", "https://alloc.lab.example"}, wantErr: `--webhook-allow: webhook destination "https://alloc.lab.example"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdServe, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if got.Addr != w.Addr || got.HostName != w.HostName || got.TLSCert != w.TLSCert || got.TLSKey != w.TLSKey || got.Verbose != w.Verbose ||
				strings.Join(got.Hubs, ",") != strings.Join(w.Hubs, ",") || got.MaxConnections != w.MaxConnections || strings.Join(got.WebhookAllow, ",") != strings.Join(w.WebhookAllow, ",") ||
				got.Throttle != w.Throttle || got.MQTTAddr != w.MQTTAddr {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// Serve on a free port, answer HTTPS with the CA it describes, report the
// bound address through "serve info", stop cleanly on cancel.
func TestServeRun(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv(config.EnvDataDir, dataDir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	f, s := cmdtest.NewFactory(t, nil, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan server.Info, 1)
	opts := &ServeOptions{IO: f.IOStreams, Config: f.Config, Addr: "127.0.0.1:0", HostName: "localhost",
		Hubs: []string{"hub-b.lab.example"}, ready: func(i server.Info) { ready <- i }}
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()

	var it server.Info
	select {
	case it = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	if strings.HasSuffix(it.Address, ":0") || !strings.HasPrefix(it.Address, "127.0.0.1:") {
		t.Fatalf("address %q", it.Address)
	}

	// The service answers HTTPS with a certificate from the CA it names.
	caPEM, err := os.ReadFile(it.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	res, err := hc.Get("https://" + it.Address + "/enrollments/x?api-version=2021-10-01")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated request: %d", res.StatusCode)
	}

	// serve info, from another process's point of view, shows the bound port.
	fi, si := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, fi, info.NewCmdInfo(fi, nil), "-o", "json"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"address": "` + it.Address + `"`, `"hostName": "localhost"`, "SharedAccessKey=***", `"caFile": "` + it.CAFile + `"`} {
		if !strings.Contains(si.Out.String(), want) {
			t.Errorf("serve info lacks %s:\n%s", want, si.Out)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	errOut := s.ErrOut.String()
	for _, want := range []string{
		"Local provisioning service listening on https://" + it.Address,
		"ID scope           " + it.IDScope,
		"IoT hubs           localhost, hub-b.lab.example",
		"MQTT               off",
		"SharedAccessKey=***",
		"export DPSCTL_CONNECTION_STRING=\"$(dpsctl serve info --show-keys --query connectionString -o tsv)\"",
		"export DPSCTL_CA_FILE=" + it.CAFile,
		"Local provisioning service stopped",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if s.Out.Len() != 0 {
		t.Errorf("stdout %q", s.Out)
	}
}

func TestServeInfo(t *testing.T) {
	t.Setenv(config.EnvDataDir, t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, tt := range []struct {
		name string
		tty  bool
		args []string
		want []string
	}{
		{"table tty", true, nil, []string{"CONNECTION STRING  HostName=localhost:8443;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=***", "HOST NAME          localhost", "ADDRESS            127.0.0.1:8443"}},
		{"show keys", false, []string{"--show-keys", "--query", "connectionString"}, []string{"HostName=localhost:8443;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey="}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, tt.tty)
			if err := cmdtest.Run(t, f, info.NewCmdInfo(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(s.Out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, s.Out)
				}
			}
			if tt.name == "show keys" && strings.Contains(s.Out.String(), "***") {
				t.Error("key masked with --show-keys")
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/a/b.pem": "/a/b.pem", "/a b/c": "'/a b/c'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// Without -v only errors are logged; -v adds the request lines (Info).
func TestNewLogger(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		verbose   bool
		wantInfo  bool
		wantError bool
	}{{false, false, true}, {true, true, true}} {
		var buf strings.Builder
		l := newLogger(&buf, tt.verbose)
		if l.Enabled(ctx, slog.LevelInfo) != tt.wantInfo || l.Enabled(ctx, slog.LevelWarn) != tt.wantInfo || l.Enabled(ctx, slog.LevelError) != tt.wantError {
			t.Errorf("verbose %v: info %v, error %v", tt.verbose, l.Enabled(ctx, slog.LevelInfo), l.Enabled(ctx, slog.LevelError))
		}
	}
}

// serve -v logs each request on stderr by its route pattern, without the
// path or the token.
func TestServeVerboseLogsRequests(t *testing.T) {
	t.Setenv(config.EnvDataDir, t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	f, s := cmdtest.NewFactory(t, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan server.Info, 1)
	opts := &ServeOptions{IO: f.IOStreams, Config: f.Config, Addr: "127.0.0.1:0", HostName: "localhost", Verbose: true,
		MaxConnections: 16, ready: func(i server.Info) { ready <- i }}
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()
	var it server.Info
	select {
	case it = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	caPEM, err := os.ReadFile(it.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	req, _ := http.NewRequest(http.MethodGet, "https://"+it.Address+"/enrollments/secret-device?api-version=2021-10-01", nil)
	req.Header.Set("Authorization", "SharedAccessSignature sr=localhost&sig=SECRETSIGNATURE0&se=99999999999&skn=provisioningserviceowner")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	errOut := s.ErrOut.String()
	for _, want := range []string{"level=INFO msg=request method=GET route=/enrollments/{id} status=401", "reason="} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, never := range []string{"SECRET", "secret-device"} {
		if strings.Contains(errOut, never) {
			t.Errorf("stderr holds %q:\n%s", never, errOut)
		}
	}
}
