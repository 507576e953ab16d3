package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	csFlag    = "HostName=flag.example.net;SharedAccessKeyName=owner;SharedAccessKey=ZmxhZw=="
	csEnv     = "HostName=env.example.net;SharedAccessKeyName=owner;SharedAccessKey=ZW52"
	csProd    = "HostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=cHJvZA=="
	csStaging = "HostName=staging.example.net;SharedAccessKeyName=owner;SharedAccessKey=c3RhZ2luZw=="
)

// isolate points every location at a temporary directory and clears the
// DPSCTL_* variables.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, e := range []string{EnvConnectionString, EnvCAFile, EnvProfile, EnvDataDir, EnvOutput, EnvQuiet, EnvConfigFile,
		EnvAuthType, EnvCredential, EnvDPSName, EnvResourceGroup, EnvSubscription, EnvHost, EnvCloud, EnvARMEndpoint, EnvAuthorityHost, EnvAPIVersion} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	return dir
}

func writeProfiles(t *testing.T) {
	t.Helper()
	path, err := FilePath()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Profile{
		{Name: "prod", ConnectionString: csProd, CAFile: "/prod/ca.pem"},
		{Name: "staging", ConnectionString: csStaging},
	} {
		if err := f.Set(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Use("prod"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		profiles   bool
		env        map[string]string
		flags      Overrides
		wantCS     string
		wantSource Source
		wantCA     string
		wantProf   string
		wantOrigin string
	}{
		{
			name:       "embedded default",
			wantSource: SourceDefault,
			wantOrigin: "no connection string",
		},
		{
			name:       "current profile",
			profiles:   true,
			wantCS:     csProd,
			wantSource: SourceProfile,
			wantCA:     "/prod/ca.pem",
			wantProf:   "prod",
			wantOrigin: `connection string from profile "prod"`,
		},
		{
			name:       "profile from env",
			profiles:   true,
			env:        map[string]string{EnvProfile: "staging"},
			wantCS:     csStaging,
			wantSource: SourceProfile,
			wantProf:   "staging",
		},
		{
			name:       "profile flag beats env",
			profiles:   true,
			env:        map[string]string{EnvProfile: "staging"},
			flags:      Overrides{Profile: "prod"},
			wantCS:     csProd,
			wantSource: SourceProfile,
			wantCA:     "/prod/ca.pem",
			wantProf:   "prod",
		},
		{
			name:       "env beats profile",
			profiles:   true,
			env:        map[string]string{EnvConnectionString: csEnv, EnvCAFile: "/env/ca.pem"},
			wantCS:     csEnv,
			wantSource: SourceEnv,
			wantCA:     "/env/ca.pem",
			wantProf:   "prod",
			wantOrigin: "connection string from DPSCTL_CONNECTION_STRING",
		},
		{
			name:       "flag beats env",
			profiles:   true,
			env:        map[string]string{EnvConnectionString: csEnv},
			flags:      Overrides{ConnectionString: csFlag, CAFile: "/flag/ca.pem"},
			wantCS:     csFlag,
			wantSource: SourceFlag,
			wantCA:     "/flag/ca.pem",
			wantProf:   "prod",
			wantOrigin: "connection string from --connection-string",
		},
		{
			name:       "env without profiles",
			env:        map[string]string{EnvConnectionString: csEnv},
			wantCS:     csEnv,
			wantSource: SourceEnv,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			if tt.profiles {
				writeProfiles(t)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			if c.ConnectionString != tt.wantCS || c.ConnectionStringSource != tt.wantSource {
				t.Errorf("connection string = %q from %s, want %q from %s", c.ConnectionString, c.ConnectionStringSource, tt.wantCS, tt.wantSource)
			}
			if c.Embedded() != (tt.wantCS == "") {
				t.Errorf("Embedded() = %v", c.Embedded())
			}
			if c.CAFile != tt.wantCA {
				t.Errorf("ca file = %q, want %q", c.CAFile, tt.wantCA)
			}
			if c.Profile != tt.wantProf {
				t.Errorf("profile = %q, want %q", c.Profile, tt.wantProf)
			}
			if tt.wantOrigin != "" && c.ConnectionStringOrigin() != tt.wantOrigin {
				t.Errorf("origin = %q, want %q", c.ConnectionStringOrigin(), tt.wantOrigin)
			}
		})
	}
}

func TestDataDirAndOutput(t *testing.T) {
	dir := isolate(t)
	c, err := Load(Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "dpsctl"); c.DataDir != want || c.DataDirSource != SourceDefault {
		t.Errorf("data dir %q (%s), want %q", c.DataDir, c.DataDirSource, want)
	}
	if c.Output != "table" {
		t.Errorf("output %q", c.Output)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv(EnvOutput, "json")
	c, _ = Load(Overrides{})
	if want := filepath.Join(dir, ".local", "share", "dpsctl"); c.DataDir != want {
		t.Errorf("data dir %q, want %q", c.DataDir, want)
	}
	if c.Output != "json" || c.OutputSource != SourceEnv {
		t.Errorf("output %q from %s", c.Output, c.OutputSource)
	}
	t.Setenv(EnvDataDir, "/env/data")
	c, _ = Load(Overrides{Output: "yaml"})
	if c.DataDir != "/env/data" || c.DataDirSource != SourceEnv || c.Output != "yaml" {
		t.Errorf("env data dir / flag output: %+v", c)
	}
	c, _ = Load(Overrides{DataDir: "/flag/data"})
	if c.DataDir != "/flag/data" || c.DataDirSource != SourceFlag {
		t.Errorf("flag data dir: %q", c.DataDir)
	}
}

func TestUnknownProfile(t *testing.T) {
	isolate(t)
	writeProfiles(t)
	_, err := Load(Overrides{Profile: "nope"})
	if err == nil || !strings.Contains(err.Error(), `profile "nope" (from --profile) is not defined`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFileRoundTrip(t *testing.T) {
	dir := isolate(t)
	writeProfiles(t)
	path, _ := FilePath()
	if want := filepath.Join(dir, "config", "dpsctl", "config.yaml"); path != want {
		t.Fatalf("path %q, want %q", path, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	list := f.List()
	if len(list) != 2 || list[0].Name != "prod" || !list[0].Current || list[1].Name != "staging" || list[1].Current {
		t.Fatalf("profiles: %+v", list)
	}
	if list[0].ConnectionString != csProd || list[0].CAFile != "/prod/ca.pem" {
		t.Fatalf("prod: %+v", list[0])
	}
	if err := f.Delete("prod"); err != nil {
		t.Fatal(err)
	}
	if f.CurrentProfile != "" {
		t.Fatal("deleting the current profile left it current")
	}
	if err := f.Use("nope"); err == nil {
		t.Fatal("Use of a missing profile succeeded")
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	f, _ = ReadFile(path)
	if len(f.Profiles) != 1 || f.CurrentProfile != "" {
		t.Fatalf("after delete: %+v", f)
	}
}

func TestProfileNames(t *testing.T) {
	for _, ok := range []string{"prod", "a", "dev-1", "x_y", "0"} {
		if err := ValidateProfileName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Prod", "a.b", "-x", "a b", "é"} {
		if err := ValidateProfileName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestQuiet(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "yes": true} {
		t.Setenv(EnvQuiet, v)
		if Quiet() != want {
			t.Errorf("DPSCTL_QUIET=%q: Quiet() = %v", v, !want)
		}
	}
}
