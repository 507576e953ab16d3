package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/viper"
)

// viperRead is how the configuration file was read with viper, kept here
// as the reference the direct YAML reader is held to.
func viperRead(t *testing.T, path string) (*File, bool) {
	t.Helper()
	f := &File{Path: path, Profiles: map[string]Profile{}}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, false
	}
	f.CurrentProfile = v.GetString(keyCurrentProfile)
	for name := range v.GetStringMap(keyProfiles) {
		sub := v.Sub(keyProfiles + "." + name)
		if sub == nil {
			return nil, false
		}
		f.Profiles[name] = Profile{Name: name, ConnectionString: sub.GetString(keyConnectionString), CAFile: sub.GetString(keyCAFile)}
	}
	return f, true
}

// TestReadFileMatchesViper reads the same files with the direct reader and
// with viper: the same profiles, or an error from both.
func TestReadFileMatchesViper(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"empty", ""},
		{"one profile", "current-profile: prod\nprofiles:\n  prod:\n    connection-string: HostName=a;SharedAccessKeyName=b;SharedAccessKey=c\n    ca-file: /ca.pem\n"},
		{"no current", "profiles:\n  a:\n    connection-string: x\n  b:\n    connection-string: y\n"},
		{"keys in other case", "Current-Profile: prod\nPROFILES:\n  Prod:\n    Connection-String: x\n    CA-File: /c\n"},
		{"scalars of other types", "current-profile: 12\nprofiles:\n  p1:\n    connection-string: true\n    ca-file: 1.5\n"},
		{"profiles not a mapping", "profiles: [a, b]\n"},
		{"profile not a mapping", "profiles:\n  prod: text\n"},
		{"profile null", "profiles:\n  prod:\n"},
		{"empty profile", "profiles:\n  prod: {}\n"},
		{"unknown keys", "colour: blue\nprofiles:\n  prod:\n    connection-string: x\n    extra: [1]\n"},
		{"not yaml", "profiles: [\n"},
		{"top level list", "- a\n- b\n"},
		{"nested value", "current-profile:\n  a: b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			want, wantOK := viperRead(t, path)
			got, err := ReadFile(path)
			if (err == nil) != wantOK {
				t.Fatalf("ReadFile error %v, viper ok %v", err, wantOK)
			}
			if wantOK && !reflect.DeepEqual(got, want) {
				t.Errorf("ReadFile = %+v\nviper    = %+v", got, want)
			}
		})
	}
}

// TestSaveMatchesViper writes files with Save and with viper's writer: the
// same bytes.
func TestSaveMatchesViper(t *testing.T) {
	tests := []*File{
		{Profiles: map[string]Profile{}},
		{CurrentProfile: "prod", Profiles: map[string]Profile{
			"prod":    {Name: "prod", ConnectionString: "HostName=h;SharedAccessKeyName=n;SharedAccessKey=k=="},
			"staging": {Name: "staging", ConnectionString: "HostName=s", CAFile: "/etc/ca: file.pem"},
		}},
		{Profiles: map[string]Profile{"a-1": {Name: "a-1", ConnectionString: "yes"}, "b_2": {Name: "b_2", ConnectionString: "123", CAFile: "#x"}}},
	}
	for i, f := range tests {
		f.Path = filepath.Join(t.TempDir(), "config.yaml")
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		v := viper.New()
		v.SetConfigType("yaml")
		if f.CurrentProfile != "" {
			v.Set(keyCurrentProfile, f.CurrentProfile)
		}
		profiles := map[string]any{}
		for name, p := range f.Profiles {
			m := map[string]any{keyConnectionString: p.ConnectionString}
			if p.CAFile != "" {
				m[keyCAFile] = p.CAFile
			}
			profiles[name] = m
		}
		v.Set(keyProfiles, profiles)
		var want bytes.Buffer
		if err := v.WriteConfigTo(&want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("file %d: Save wrote\n%s\nviper writes\n%s", i, got, want.Bytes())
		}
		back, err := ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if back.CurrentProfile != f.CurrentProfile || !reflect.DeepEqual(back.Profiles, f.Profiles) {
			t.Errorf("file %d: read back %+v, wrote %+v", i, back, f)
		}
	}
}
