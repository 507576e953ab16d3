package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	setprofile "github.com/dpsctl/dpsctl/pkg/cmd/config/set-profile"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	cfg "github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const (
	csProd  = "HostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=cHJvZA=="
	csLocal = "HostName=localhost:8443;SharedAccessKeyName=owner;SharedAccessKey=bG9jYWw="
)

type result struct {
	out, errOut string
	err         error
}

// exec runs "config <args>" with its configuration in dir.
func exec(t *testing.T, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (*output.Printer, error) { return cmdutil.NewPrinter(f) }
	cmd := NewCmdConfig(f)
	cmdutil.AddGlobalFlags(cmd, f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{out.String(), errOut.String(), err}
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("DPSCTL_CONFIG", "")
	t.Setenv("DPSCTL_OUTPUT", "")
	path := filepath.Join(dir, "dpsctl", "config.yaml")
	ca := filepath.Join("testdata", "ca.pem")

	steps := []struct {
		args       []string
		wantOut    string
		wantErrOut string
		wantErr    string
	}{
		{args: []string{"path"}, wantOut: path + "\n"},
		{args: []string{"list"}, wantErrOut: "no profiles found\n"},
		{args: []string{"list", "-o", "json"}, wantOut: "[]\n"},
		{args: []string{"show"}, wantErr: "no profile is current"},
		{args: []string{"set-profile", "prod", "--connection-string", csProd}, wantErrOut: "Added profile \"prod\" (prod.example.net) in " + path + "\nProfile \"prod\" is current\n"},
		{args: []string{"set-profile", "local", "--connection-string", csLocal, "--ca-file", "missing.pem"}, wantErr: "--ca-file"},
		{args: []string{"set-profile", "local", "--connection-string", "HostName=x"}, wantErr: "SharedAccessKey: missing"},
		{args: []string{"set-profile", "Local", "--connection-string", csLocal}, wantErr: "invalid profile name"},
		{args: []string{"set-profile", "local"}, wantErr: "--connection-string or --dps-name (-n) is required"},
		{args: []string{"set-profile", "local", "--connection-string", csLocal}, wantErrOut: "Added profile \"local\" (localhost:8443) in " + path + "\n"},
		{args: []string{"list"}, wantOut: "\tlocal\tlocalhost:8443\tHostName=localhost:8443;SharedAccessKeyName=owner;SharedAccessKey=***\t\n" +
			"*\tprod\tprod.example.net\tHostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=***\t\n"},
		{args: []string{"use-profile", "local"}, wantErrOut: "Profile \"local\" is current\n"},
		{args: []string{"use-profile", "nope"}, wantErr: `profile "nope" is not defined`},
		{args: []string{"show", "-o", "json", "--show-keys"}, wantOut: "{\n  \"name\": \"local\",\n  \"connectionString\": \"" + csLocal + "\",\n  \"current\": true\n}\n"},
		{args: []string{"show", "prod", "-o", "yaml"}, wantOut: "name: prod\nconnectionString: HostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=***\ncurrent: false\n"},
		{args: []string{"delete-profile", "local"}, wantErrOut: "Deleted profile \"local\"\nNo profile is current now\n"},
		{args: []string{"delete-profile", "local"}, wantErr: `profile "local" is not defined`},
		{args: []string{"list", "-o", "tsv"}, wantOut: "\tprod\tprod.example.net\tHostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=***\t\n"},
	}
	if _, err := os.Stat(ca); err == nil {
		abs, _ := filepath.Abs(ca)
		steps = append(steps, struct {
			args                         []string
			wantOut, wantErrOut, wantErr string
		}{args: []string{"set-profile", "prod", "--connection-string", csProd, "--ca-file", ca, "--use"}, wantErrOut: "Updated profile \"prod\" (prod.example.net) in " + path + "\nProfile \"prod\" is current\n"},
			struct {
				args                         []string
				wantOut, wantErrOut, wantErr string
			}{args: []string{"show", "--query", "caFile"}, wantOut: abs + "\n"})
	}
	for _, s := range steps {
		r := exec(t, s.args...)
		name := strings.Join(s.args, " ")
		if s.wantErr != "" {
			if r.err == nil || !strings.Contains(r.err.Error(), s.wantErr) {
				t.Fatalf("%s: err = %v, want %q", name, r.err, s.wantErr)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		if r.out != s.wantOut {
			t.Errorf("%s: stdout\n%q\nwant\n%q", name, r.out, s.wantOut)
		}
		if r.errOut != s.wantErrOut {
			t.Errorf("%s: stderr\n%q\nwant\n%q", name, r.errOut, s.wantErrOut)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
}

func TestNewCmdSetProfile(t *testing.T) {
	tests := []struct {
		args    []string
		want    setprofile.SetProfileOptions
		wantErr bool
	}{
		{args: []string{"p", "--connection-string", csProd}, want: setprofile.SetProfileOptions{Name: "p", ConnectionString: csProd}},
		{args: []string{"p", "--connection-string", csProd, "--ca-file", "ca.pem", "--use"}, want: setprofile.SetProfileOptions{Name: "p", ConnectionString: csProd, CAFile: "ca.pem", Use: true}},
		{args: []string{"p", "--connection-string", csProd, "--api-version", "2025-07-01-preview"}, want: setprofile.SetProfileOptions{Name: "p", ConnectionString: csProd, APIVersion: "2025-07-01-preview"}},
		{args: []string{"p", "--connection-string", csProd, "--api-version", "preview"}, wantErr: true},
		{args: []string{"p", "-n", "mydps", "-g", "rg", "--auth-type", "key", "--policy", "reader"}, want: setprofile.SetProfileOptions{Name: "p", DPSName: "mydps", ResourceGroup: "rg", AuthType: "key", Policy: "reader"}},
		{args: []string{"p", "-n", "mydps", "--subscription", "s", "--cloud", "AzureChinaCloud", "--credential", "env"}, want: setprofile.SetProfileOptions{Name: "p", DPSName: "mydps", Subscription: "s", Cloud: "AzureChinaCloud", Credential: "env"}},
		{args: []string{"p", "-n", "mydps", "--connection-string", csProd}, wantErr: true},
		{args: []string{"p", "-n", "mydps", "--auth-type", "password"}, wantErr: true},
		{args: []string{"p", "-n", "mydps", "--policy", "reader"}, wantErr: true},
		{args: []string{"p"}, wantErr: true},
		{args: []string{}, wantErr: true},
		{args: []string{"a", "b", "--connection-string", csProd}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, setprofile.NewCmdSetProfile, tt.args...)
			if tt.wantErr {
				cmdtest.WantUsageError(t, err, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Azure = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// A bad connection string keeps its parse error for the exit code.
func TestSetProfileBadConnectionString(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	r := exec(t, "set-profile", "x", "--connection-string", "HostName=h;SharedAccessKeyName=n;SharedAccessKey=!!")
	var pe *sas.ParseError
	if !errors.As(r.err, &pe) {
		t.Fatalf("err = %v", r.err)
	}
}

// set-profile --api-version saves the api-version in the profile.
func TestSetProfileAPIVersion(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if r := exec(t, "set-profile", "prev", "--connection-string", csProd, "--api-version", "2025-07-01-preview"); r.err != nil {
		t.Fatal(r.err)
	}
	path, err := cfg.FilePath()
	if err != nil {
		t.Fatal(err)
	}
	file, err := cfg.ReadFile(path)
	if err != nil || file.Profiles["prev"].APIVersion != "2025-07-01-preview" {
		t.Fatalf("saved %+v, %v", file, err)
	}
}
