package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Values of the precedence tests: each source of each setting has its own.
const (
	csFlagProfile    = "HostName=flagp.example.net;SharedAccessKeyName=owner;SharedAccessKey=ZmxhZ3A="
	csEnvProfile     = "HostName=envp.example.net;SharedAccessKeyName=owner;SharedAccessKey=ZW52cA=="
	csCurrentProfile = "HostName=cur.example.net;SharedAccessKeyName=owner;SharedAccessKey=Y3Vy"
)

// writeSourceProfiles writes three profiles, one per way of naming a
// profile: "flagp" (for --profile), "envp" (for DPSCTL_PROFILE) and "cur"
// (made current when current is set).
func writeSourceProfiles(t *testing.T, current bool) {
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
		{Name: "flagp", ConnectionString: csFlagProfile, CAFile: "/flagp/ca.pem"},
		{Name: "envp", ConnectionString: csEnvProfile, CAFile: "/envp/ca.pem"},
		{Name: "cur", ConnectionString: csCurrentProfile, CAFile: "/cur/ca.pem"},
	} {
		if err := f.Set(p); err != nil {
			t.Fatal(err)
		}
	}
	if current {
		if err := f.Use("cur"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
}

// sources says which flags and environment variables a case sets, and
// whether the configuration file has a current profile.
type sources struct {
	flagCS, flagCA, flagProfile, flagDataDir bool
	envCS, envCA, envProfile, envDataDir     bool
	currentProfile                           bool
}

func (s sources) String() string {
	var parts []string
	for _, x := range []struct {
		on   bool
		name string
	}{
		{s.flagCS, "--connection-string"}, {s.flagCA, "--ca-file"}, {s.flagProfile, "--profile"}, {s.flagDataDir, "--data-dir"},
		{s.envCS, "env-cs"}, {s.envCA, "env-ca"}, {s.envProfile, "env-profile"}, {s.envDataDir, "env-data-dir"},
		{s.currentProfile, "current-profile"},
	} {
		if x.on {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "+")
}

// load sets up the sources of s in a new home directory and loads the
// configuration.
func (s sources) load(t *testing.T) (*Config, string, error) {
	t.Helper()
	home := isolate(t)
	writeSourceProfiles(t, s.currentProfile)
	var o Overrides
	if s.flagCS {
		o.ConnectionString = csFlag
	}
	if s.flagCA {
		o.CAFile = "/flag/ca.pem"
	}
	if s.flagProfile {
		o.Profile = "flagp"
	}
	if s.flagDataDir {
		o.DataDir = "/flag/data"
	}
	for _, e := range []struct {
		on      bool
		name, v string
	}{
		{s.envCS, EnvConnectionString, csEnv},
		{s.envCA, EnvCAFile, "/env/ca.pem"},
		{s.envProfile, EnvProfile, "envp"},
		{s.envDataDir, EnvDataDir, "/env/data"},
	} {
		if e.on {
			t.Setenv(e.name, e.v)
		}
	}
	c, err := Load(o)
	return c, home, err
}

// want is the documented resolution: a flag beats the environment, which
// beats the profile in the file; --data-dir selects the embedded service
// and conflicts with the flags naming another one; a profile named by
// --profile supplies the connection string and CA file as a flag would.
type want struct {
	err           string
	cs            string
	csSource      Source
	ca            string
	profile       string
	dataDir       string
	dataDirSource Source
	embedded      bool
}

func expected(s sources, defaultDataDir string) want {
	if s.flagDataDir && s.flagCS {
		return want{err: "--data-dir selects the embedded provisioning service and --connection-string another service"}
	}
	if s.flagDataDir && s.flagProfile {
		return want{err: "--data-dir selects the embedded provisioning service and --profile another service"}
	}
	var w want
	switch {
	case s.flagDataDir:
		w.dataDir, w.dataDirSource = "/flag/data", SourceFlag
	case s.envDataDir:
		w.dataDir, w.dataDirSource = "/env/data", SourceEnv
	default:
		w.dataDir, w.dataDirSource = defaultDataDir, SourceDefault
	}
	// The profile in effect and its values.
	var profCS, profCA string
	switch {
	case s.flagDataDir:
	case s.flagProfile:
		w.profile, profCS, profCA = "flagp", csFlagProfile, "/flagp/ca.pem"
	case s.envProfile:
		w.profile, profCS, profCA = "envp", csEnvProfile, "/envp/ca.pem"
	case s.currentProfile:
		w.profile, profCS, profCA = "cur", csCurrentProfile, "/cur/ca.pem"
	}
	switch {
	case s.flagDataDir:
		w.cs, w.csSource = "", SourceFlag
	case s.flagCS:
		w.cs, w.csSource = csFlag, SourceFlag
	case s.flagProfile:
		w.cs, w.csSource = profCS, SourceProfile
	case s.envCS:
		w.cs, w.csSource = csEnv, SourceEnv
	case profCS != "":
		w.cs, w.csSource = profCS, SourceProfile
	default:
		w.cs, w.csSource = "", SourceDefault
	}
	switch {
	case s.flagCA:
		w.ca = "/flag/ca.pem"
	case s.flagProfile:
		w.ca = profCA
	case s.envCA:
		w.ca = "/env/ca.pem"
	default:
		w.ca = profCA
	}
	w.embedded = w.cs == ""
	return w
}

// TestPrecedenceEveryCombination loads the configuration for every
// combination of the four flags, their four environment variables and a
// current profile, and compares it with the documented rules.
func TestPrecedenceEveryCombination(t *testing.T) {
	const n = 9
	for bits := 0; bits < 1<<n; bits++ {
		on := func(i int) bool { return bits&(1<<i) != 0 }
		s := sources{
			flagCS: on(0), flagCA: on(1), flagProfile: on(2), flagDataDir: on(3),
			envCS: on(4), envCA: on(5), envProfile: on(6), envDataDir: on(7),
			currentProfile: on(8),
		}
		t.Run(s.String(), func(t *testing.T) {
			c, home, err := s.load(t)
			w := expected(s, filepath.Join(home, "data", "dpsctl"))
			if w.err != "" {
				if err == nil || !strings.Contains(err.Error(), w.err) {
					t.Fatalf("error %v, want one containing %q", err, w.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				cs: c.ConnectionString, csSource: c.ConnectionStringSource, ca: c.CAFile, profile: c.Profile,
				dataDir: c.DataDir, dataDirSource: c.DataDirSource, embedded: c.Embedded(),
			}
			if got != w {
				t.Errorf("\n got %+v\nwant %+v", got, w)
			}
		})
	}
}

// TestFlagsBeatEnvironmentAndProfile names the cases that matter most
// for which service a command changes.
func TestFlagsBeatEnvironmentAndProfile(t *testing.T) {
	tests := []struct {
		name       string
		s          sources
		wantCS     string
		wantOrigin string
	}{
		{
			name:       "--data-dir beats the current profile",
			s:          sources{flagDataDir: true, currentProfile: true},
			wantOrigin: "no connection string (--data-dir selects the embedded service)",
		},
		{
			name:       "--data-dir beats DPSCTL_CONNECTION_STRING",
			s:          sources{flagDataDir: true, envCS: true},
			wantOrigin: "no connection string (--data-dir selects the embedded service)",
		},
		{
			name:       "--data-dir beats DPSCTL_PROFILE",
			s:          sources{flagDataDir: true, envProfile: true, envCS: true},
			wantOrigin: "no connection string (--data-dir selects the embedded service)",
		},
		{
			name:       "DPSCTL_DATA_DIR does not beat DPSCTL_CONNECTION_STRING",
			s:          sources{envDataDir: true, envCS: true},
			wantCS:     csEnv,
			wantOrigin: "connection string from DPSCTL_CONNECTION_STRING",
		},
		{
			name:       "DPSCTL_DATA_DIR does not beat the current profile",
			s:          sources{envDataDir: true, currentProfile: true},
			wantCS:     csCurrentProfile,
			wantOrigin: `connection string from profile "cur"`,
		},
		{
			name:       "--profile beats DPSCTL_CONNECTION_STRING",
			s:          sources{flagProfile: true, envCS: true, envCA: true},
			wantCS:     csFlagProfile,
			wantOrigin: `connection string from profile "flagp"`,
		},
		{
			name:       "--connection-string beats --profile",
			s:          sources{flagCS: true, flagProfile: true},
			wantCS:     csFlag,
			wantOrigin: "connection string from --connection-string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := tt.s.load(t)
			if err != nil {
				t.Fatal(err)
			}
			if c.ConnectionString != tt.wantCS || c.Embedded() != (tt.wantCS == "") {
				t.Errorf("connection string %q (embedded %v), want %q", c.ConnectionString, c.Embedded(), tt.wantCS)
			}
			if got := c.ConnectionStringOrigin(); got != tt.wantOrigin {
				t.Errorf("origin %q, want %q", got, tt.wantOrigin)
			}
		})
	}
}

func TestConflictingServiceFlags(t *testing.T) {
	for _, s := range []sources{{flagDataDir: true, flagCS: true}, {flagDataDir: true, flagProfile: true}} {
		_, _, err := s.load(t)
		if err == nil {
			t.Errorf("%v: no error", s)
			continue
		}
		if !strings.Contains(err.Error(), "give one of them") {
			t.Errorf("%v: %v", s, err)
		}
	}
}

func TestProfileFlagWithoutConnectionString(t *testing.T) {
	isolate(t)
	path, _ := FilePath()
	writeConfig(t, path, "profiles:\n  empty:\n    ca-file: /x/ca.pem\n")
	t.Setenv(EnvConnectionString, csEnv)
	_, err := Load(Overrides{Profile: "empty"})
	if err == nil || !strings.Contains(err.Error(), `profile "empty" (from --profile) has no connection-string`) {
		t.Fatalf("err = %v", err)
	}
	// Named by the environment, such a profile falls back as before.
	t.Setenv(EnvProfile, "empty")
	c, err := Load(Overrides{})
	if err != nil || c.ConnectionString != csEnv {
		t.Fatalf("%+v, %v", c, err)
	}
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
