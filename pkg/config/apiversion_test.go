package config

import (
	"strings"
	"testing"
)

func TestValidateAPIVersion(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{"2021-10-01", true},
		{"2025-02-01-preview", true},
		{"2023-03-01-privatepreview2", true},
		{"", false},
		{"2021-10", false},
		{"2021-13-01", false},
		{"2021-10-00", false},
		{"2021/10/01", false},
		{"2021-10-01-", false},
		{"2021-10-01-Preview", false},
		{"2021-10-01 ", false},
		{"2021-10-01&x=1", false},
		{"v1", false},
	} {
		err := ValidateAPIVersion(tt.v)
		if (err == nil) != tt.ok {
			t.Errorf("%q: %v", tt.v, err)
		}
		if err != nil && !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("%q: error %q does not say the form", tt.v, err)
		}
	}
}

// The api-version comes from --api-version, then DPSCTL_API_VERSION, then
// the profile; a malformed one is refused naming where it came from.
func TestAPIVersionPrecedence(t *testing.T) {
	isolate(t)
	path, err := FilePath()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set(Profile{Name: "prod", ConnectionString: csProd, APIVersion: "2025-02-01-preview"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(Profile{Name: "bad", ConnectionString: csProd, APIVersion: "latest"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if back, err := ReadFile(path); err != nil || back.Profiles["prod"].APIVersion != "2025-02-01-preview" {
		t.Fatalf("profile read back: %+v, %v", back, err)
	}

	c, err := Load(Overrides{})
	if err != nil || c.APIVersion != "" {
		t.Fatalf("default: %q, %v", c.APIVersion, err)
	}
	c, err = Load(Overrides{Profile: "prod"})
	if err != nil || c.APIVersion != "2025-02-01-preview" || c.APIVersionSource != SourceProfile {
		t.Fatalf("profile: %q (%s), %v", c.APIVersion, c.APIVersionSource, err)
	}
	t.Setenv(EnvAPIVersion, "2024-01-01")
	c, err = Load(Overrides{Profile: "prod"})
	if err != nil || c.APIVersion != "2024-01-01" || c.APIVersionSource != SourceEnv {
		t.Fatalf("environment: %q (%s), %v", c.APIVersion, c.APIVersionSource, err)
	}
	c, err = Load(Overrides{Profile: "prod", APIVersion: "2021-10-01"})
	if err != nil || c.APIVersion != "2021-10-01" || c.APIVersionSource != SourceFlag {
		t.Fatalf("flag: %q (%s), %v", c.APIVersion, c.APIVersionSource, err)
	}
	for _, tt := range []struct {
		o    Overrides
		env  string
		want string
	}{
		{Overrides{APIVersion: "2021-10"}, "", "--api-version: api-version \"2021-10\""},
		{Overrides{}, "preview", EnvAPIVersion + ": api-version \"preview\""},
		{Overrides{Profile: "bad"}, "", `profile "bad": api-version "latest"`},
	} {
		t.Setenv(EnvAPIVersion, tt.env)
		if _, err := Load(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v %q: %v, want %q", tt.o, tt.env, err, tt.want)
		}
	}
}
