package factory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const csProd = "HostName=prod.example.net;SharedAccessKeyName=owner;SharedAccessKey=cHJvZA=="

func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for _, e := range []string{config.EnvConnectionString, config.EnvCAFile, config.EnvProfile, config.EnvDataDir, config.EnvOutput, config.EnvQuiet, config.EnvConfigFile, config.EnvAPIVersion} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	return dir
}

func TestEmbeddedClient(t *testing.T) {
	dir := isolate(t)
	ios, _, _, errOut := iostreams.Test()
	f := NewWithIO(ios, "test")
	ctx := context.Background()
	c, err := f.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEnrollment(ctx, &model.IndividualEnrollment{
		RegistrationID:   "dev-1",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}}},
	}, ""); err != nil {
		t.Fatal(err)
	}
	if again, err := f.Client(ctx); err != nil || again != c {
		t.Fatalf("second Client: %v", err)
	}
	want := "using embedded provisioning service (data dir " + filepath.Join(dir, "data", "dpsctl") + ")\n"
	if errOut.String() != want {
		t.Fatalf("stderr %q, want %q", errOut, want)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// The data persists for the next run.
	ios2, _, _, errOut2 := iostreams.Test()
	f2 := NewWithIO(ios2, "test")
	f2.Flags.Quiet = true
	c2, err := f2.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if _, err := c2.GetEnrollment(ctx, "dev-1"); err != nil {
		t.Fatalf("enrollment lost: %v", err)
	}
	if errOut2.Len() != 0 {
		t.Fatalf("quiet run printed %q", errOut2)
	}
}

func TestRemoteClient(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *cmdutil.Factory)
		wantNote string
		wantErr  string
		auth     bool
	}{
		{
			name: "profile",
			setup: func(t *testing.T, f *cmdutil.Factory) {
				path, _ := config.FilePath()
				file, _ := config.ReadFile(path)
				file.Set(config.Profile{Name: "prod", ConnectionString: csProd})
				file.Use("prod")
				if err := file.Save(); err != nil {
					t.Fatal(err)
				}
			},
			wantNote: `using prod.example.net (connection string from profile "prod")` + "\n",
		},
		{
			name: "environment",
			setup: func(t *testing.T, f *cmdutil.Factory) {
				t.Setenv(config.EnvConnectionString, "HostName=env.example.net:8443;SharedAccessKeyName=o;SharedAccessKey=ZW52")
			},
			wantNote: "using env.example.net:8443 (connection string from DPSCTL_CONNECTION_STRING)\n",
		},
		{
			name:    "malformed",
			setup:   func(t *testing.T, f *cmdutil.Factory) { f.Flags.ConnectionString = "HostName=x" },
			wantErr: "connection string from --connection-string: connection string: SharedAccessKey: missing",
			auth:    true,
		},
		{
			name: "missing CA file",
			setup: func(t *testing.T, f *cmdutil.Factory) {
				f.Flags.ConnectionString = csProd
				f.Flags.CAFile = filepath.Join(t.TempDir(), "none.pem")
			},
			wantErr: "--ca-file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			ios, _, _, errOut := iostreams.Test()
			f := NewWithIO(ios, "test")
			tt.setup(t, f)
			c, err := f.Client(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var ae *cmdutil.AuthError
				var pe *sas.ParseError
				if tt.auth != (errors.As(err, &ae) && errors.As(err, &pe)) {
					t.Errorf("auth error classification: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if errOut.String() != tt.wantNote {
				t.Errorf("stderr %q, want %q", errOut, tt.wantNote)
			}
			if !strings.HasPrefix(c.Endpoint(), "https://") {
				t.Errorf("endpoint %q", c.Endpoint())
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	isolate(t)
	ios, _, _, _ := iostreams.Test()
	f := NewWithIO(ios, "test")
	t.Setenv(config.EnvOutput, "yaml")
	p, err := f.Printer()
	if err != nil || p.Format() != "yaml" {
		t.Fatalf("env format: %v %v", p, err)
	}
	f.Flags.Output = "json"
	if p, _ := f.Printer(); p.Format() != "json" {
		t.Fatal("flag does not beat env")
	}
	f.Flags.Query = "[?"
	var fe *cmdutil.FlagError
	if _, err := f.Printer(); !errors.As(err, &fe) {
		t.Fatalf("bad query: %v", err)
	}
}
