package config

import (
	"strings"
	"testing"
)

// writeAzureProfiles writes an Azure profile by name ("az", current), one by
// host ("byhost") and a connection string profile ("cs").
func writeAzureProfiles(t *testing.T) {
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
		{Name: "az", DPSName: "profdps", ResourceGroup: "profrg", Subscription: "profsub", Cloud: "AzureChinaCloud", ARMEndpoint: "https://127.0.0.1:1", Credential: "env", IDScope: "0ne00000001"},
		{Name: "byhost", Host: "h.azure-devices-provisioning.net", AuthType: "login"},
		{Name: "cs", ConnectionString: csProd},
	} {
		if err := f.Set(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Use("az"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
}

func TestAzureSettings(t *testing.T) {
	tests := []struct {
		name      string
		o         Overrides
		env       map[string]string
		want      Config // compared fields: see below
		wantErr   string
		embedded  bool
		originHas string
	}{
		{
			name:      "current profile by name: login by default",
			want:      Config{DPSName: "profdps", ResourceGroup: "profrg", Subscription: "profsub", AuthType: AuthLogin, Credential: "env", Cloud: "AzureChinaCloud", ARMEndpoint: "https://127.0.0.1:1", IDScope: "0ne00000001"},
			originHas: `provisioning service "profdps" from profile "az"`,
		},
		{
			name: "flags beat the profile",
			o:    Overrides{DPSName: "flagdps", ResourceGroup: "flagrg", Subscription: "flagsub", AuthType: "KEY", Credential: "device-code", Cloud: "AzureCloud"},
			want: Config{DPSName: "flagdps", ResourceGroup: "flagrg", Subscription: "flagsub", AuthType: AuthKey, Credential: "device-code", Cloud: "AzureCloud", ARMEndpoint: "https://127.0.0.1:1"},
		},
		{
			name: "endpoint flags beat the environment and the profile",
			o:    Overrides{ARMEndpoint: "https://127.0.0.1:4", AuthorityHost: "https://127.0.0.1:5"},
			env:  map[string]string{EnvARMEndpoint: "https://127.0.0.1:2", EnvAuthorityHost: "https://127.0.0.1:3"},
			want: Config{DPSName: "profdps", ResourceGroup: "profrg", Subscription: "profsub", AuthType: AuthLogin, Credential: "env", Cloud: "AzureChinaCloud", ARMEndpoint: "https://127.0.0.1:4", AuthorityHost: "https://127.0.0.1:5", IDScope: "0ne00000001"},
		},
		{
			name: "environment beats the profile",
			env:  map[string]string{EnvDPSName: "envdps", EnvAuthType: "key", EnvARMEndpoint: "https://127.0.0.1:2", EnvAuthorityHost: "https://127.0.0.1:3", EnvCloud: "AzureUSGovernment"},
			want: Config{DPSName: "envdps", ResourceGroup: "profrg", Subscription: "profsub", AuthType: AuthKey, Credential: "env", Cloud: "AzureUSGovernment", ARMEndpoint: "https://127.0.0.1:2", AuthorityHost: "https://127.0.0.1:3"},
		},
		{
			name:      "a connection string flag beats the profile's name: key",
			o:         Overrides{ConnectionString: csFlag},
			want:      Config{ConnectionString: csFlag, ResourceGroup: "profrg", Subscription: "profsub", AuthType: AuthKey, Credential: "env", Cloud: "AzureChinaCloud", ARMEndpoint: "https://127.0.0.1:1"},
			originHas: "--connection-string",
		},
		{
			name: "a name in the environment beats a connection string profile",
			o:    Overrides{Profile: ""},
			env:  map[string]string{EnvProfile: "cs", EnvDPSName: "envdps"},
			want: Config{DPSName: "envdps", AuthType: AuthLogin},
		},
		{
			name:      "a profile by host signs in",
			o:         Overrides{Profile: "byhost"},
			env:       map[string]string{EnvDPSName: "ignored: --profile beats the environment"},
			want:      Config{Host: "h.azure-devices-provisioning.net", AuthType: AuthLogin},
			originHas: `host h.azure-devices-provisioning.net from profile "byhost"`,
		},
		{
			name:    "a host alone cannot use keys",
			o:       Overrides{Profile: "byhost", AuthType: "key"},
			wantErr: "--auth-type login",
		},
		{
			name:    "bad auth type",
			o:       Overrides{AuthType: "password"},
			wantErr: `auth type "password"`,
		},
		{
			name:    "--data-dir and --dps-name name two services",
			o:       Overrides{DataDir: "/tmp/x", DPSName: "d"},
			wantErr: "--dps-name",
		},
		{
			name:     "--data-dir selects the embedded service: no profile is in effect",
			o:        Overrides{DataDir: "/tmp/x"},
			want:     Config{AuthType: AuthLogin},
			embedded: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			writeAzureProfiles(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := Config{ConnectionString: c.ConnectionString, DPSName: c.DPSName, ResourceGroup: c.ResourceGroup, Subscription: c.Subscription, Host: c.Host, IDScope: c.IDScope,
				AuthType: c.AuthType, Credential: c.Credential, Cloud: c.Cloud, ARMEndpoint: c.ARMEndpoint, AuthorityHost: c.AuthorityHost}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			if c.Embedded() != tt.embedded {
				t.Fatalf("Embedded() = %v", c.Embedded())
			}
			if tt.originHas != "" && !strings.Contains(c.ServiceOrigin(), tt.originHas) {
				t.Fatalf("ServiceOrigin() = %q, want %q in it", c.ServiceOrigin(), tt.originHas)
			}
		})
	}
}

func TestAzureProfileRoundTrip(t *testing.T) {
	isolate(t)
	writeAzureProfiles(t)
	path, _ := FilePath()
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Get("az")
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{Name: "az", DPSName: "profdps", ResourceGroup: "profrg", Subscription: "profsub", Cloud: "AzureChinaCloud", ARMEndpoint: "https://127.0.0.1:1", Credential: "env", IDScope: "0ne00000001", Current: true}
	if p != want {
		t.Fatalf("got  %+v\nwant %+v", p, want)
	}
}
