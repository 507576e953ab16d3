package factory

import (
	"context"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

// The client sends the api-version --api-version or DPSCTL_API_VERSION
// names: the embedded service, which knows only 2021-10-01, says which
// one it was sent.
func TestClientSendsTheConfiguredAPIVersion(t *testing.T) {
	for _, tt := range []struct {
		name, flag, env, want string
	}{
		{name: "default", want: ""},
		{name: "flag", flag: "2025-02-01-preview", want: `api-version "2025-02-01-preview" is not supported`},
		{name: "environment", env: "2024-03-01-preview", want: `api-version "2024-03-01-preview" is not supported`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv(config.EnvAPIVersion, tt.env)
			ios, _, _, _ := iostreams.Test()
			f := NewWithIO(ios, "test")
			defer f.Close()
			f.Flags.APIVersion = tt.flag
			c, err := f.Client(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetEnrollment(context.Background(), "dev-1")
			if tt.want == "" {
				if err == nil || strings.Contains(err.Error(), "api-version") {
					t.Fatalf("default api-version: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMalformedAPIVersionIsRefused(t *testing.T) {
	isolate(t)
	ios, _, _, _ := iostreams.Test()
	f := NewWithIO(ios, "test")
	f.Flags.APIVersion = "latest"
	if _, err := f.Client(context.Background()); err == nil || !strings.Contains(err.Error(), `--api-version: api-version "latest" is not of the form YYYY-MM-DD`) {
		t.Fatalf("err = %v", err)
	}
}
