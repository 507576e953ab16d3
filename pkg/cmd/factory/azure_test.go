package factory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/azure/armtest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

const testSub = "00000000-0000-0000-0000-000000000001"

// azureSetup starts the ARM look-alike with a provisioning service whose
// service API it also serves, and puts a fake az on PATH that is signed in
// to testSub and hands out $FAKE_AZ_TOKEN.
func azureSetup(t *testing.T) (*armtest.Server, string) {
	t.Helper()
	isolate(t)
	for _, e := range []string{config.EnvAuthType, config.EnvCredential, config.EnvDPSName, config.EnvResourceGroup, config.EnvSubscription, config.EnvHost, config.EnvCloud, config.EnvARMEndpoint, config.EnvAuthorityHost} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	dir := t.TempDir()
	srv, err := armtest.Start(dir, testSub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddDPS(armtest.DPS{
		Name: "mydps", ResourceGroup: "rg", Location: "westeurope", HostName: srv.Host, IDScope: "0ne00000001",
		Policies: []armtest.Policy{{KeyName: "provisioningserviceowner", PrimaryKey: "b3duZXI=", SecondaryKey: "c2Vj", Rights: "ServiceConfig, EnrollmentRead, EnrollmentWrite"}},
	})
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "az.log")
	script := `#!/bin/sh
echo "$@" >> ` + log + `
case "$2" in
get-access-token) echo "{\"accessToken\":\"${FAKE_AZ_TOKEN:-good}\",\"expires_on\":4102444800}";;
show) echo '{"id":"` + testSub + `"}';;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
	t.Setenv("FAKE_AZ_TOKEN", "good")
	t.Setenv(config.EnvARMEndpoint, srv.URL)
	t.Setenv(config.EnvCAFile, srv.CAFile)
	return srv, log
}

func TestAzureLoginClient(t *testing.T) {
	tests := []struct {
		name      string
		flags     config.Overrides
		env       map[string]string
		token     string
		wantNote  string
		wantErr   string
		wantAuth  bool
		wantHint  string
		wantCalls []string
	}{
		{
			name:      "by name: ARM finds the host, Entra ID token for the service API",
			flags:     config.Overrides{DPSName: "mydps", ResourceGroup: "rg"},
			wantNote:  `(provisioning service "mydps" from the command line; Microsoft Entra ID: the Azure CLI's signed-in account)`,
			wantCalls: []string{"GET /subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Devices/provisioningServices/mydps", "POST /enrollments/query"},
		},
		{
			name:      "by name without a resource group: the subscription is searched",
			flags:     config.Overrides{DPSName: "mydps"},
			wantCalls: []string{"GET /subscriptions/" + testSub + "/providers/Microsoft.Devices/provisioningServices", "GET /subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Devices/provisioningServices/mydps", "POST /enrollments/query"},
		},
		{
			name:      "by name with keys: listKeys gives the connection string",
			flags:     config.Overrides{DPSName: "mydps", ResourceGroup: "rg", AuthType: "key"},
			wantNote:  "key of policy provisioningserviceowner",
			wantErr:   "401", // the look-alike only takes bearer tokens on its service API
			wantAuth:  true,
			wantCalls: []string{"GET /subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Devices/provisioningServices/mydps", "POST /subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Devices/provisioningServices/mydps/listkeys", "POST /enrollments/query"},
		},
		{
			name:     "no role on the instance",
			flags:    config.Overrides{DPSName: "mydps", ResourceGroup: "rg"},
			token:    armtest.NoRoleToken,
			wantErr:  "AuthorizationFailed",
			wantAuth: true,
		},
		{
			name:     "by host: no ARM call, a refused token says which role is missing",
			env:      map[string]string{config.EnvHost: "HOST"},
			token:    armtest.NoRoleToken,
			wantErr:  "403",
			wantAuth: true,
			wantHint: "Device Provisioning Service Data Contributor",
		},
		{
			name:    "missing instance",
			flags:   config.Overrides{DPSName: "nope", ResourceGroup: "rg"},
			wantErr: "ResourceNotFound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := azureSetup(t)
			if tt.token != "" {
				t.Setenv("FAKE_AZ_TOKEN", tt.token)
			}
			for k, v := range tt.env {
				t.Setenv(k, strings.ReplaceAll(v, "HOST", srv.Host))
			}
			ios, _, _, errOut := iostreams.Test()
			f := NewWithIO(ios, "test")
			f.Flags.Overrides = tt.flags
			defer f.Close()
			ctx := context.Background()
			c, err := f.Client(ctx)
			if err == nil {
				_, err = c.QueryEnrollmentsPage(ctx, dps.QueryOptions{}, "")
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error: %v", err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				isAuth := azure.IsAuthFailure(err) || dps.IsUnauthorized(err) || errors.As(err, new(*cmdutil.AuthError))
				if isAuth != tt.wantAuth {
					t.Fatalf("auth failure = %v for %v", isAuth, err)
				}
			}
			if tt.wantHint != "" {
				var h *dps.HintedError
				if !errors.As(err, &h) || !strings.Contains(h.Hint(), tt.wantHint) {
					t.Fatalf("error %v has no hint with %q", err, tt.wantHint)
				}
			}
			if tt.wantNote != "" && !strings.Contains(errOut.String(), tt.wantNote) {
				t.Fatalf("stderr %q, want %q", errOut, tt.wantNote)
			}
			if tt.wantCalls != nil {
				got := srv.Seen()
				if strings.Join(got, "\n") != strings.Join(tt.wantCalls, "\n") {
					t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantCalls, "\n"))
				}
			}
		})
	}
}

func TestAzureTargetAndBadSettings(t *testing.T) {
	azureSetup(t)
	ios, _, _, _ := iostreams.Test()
	f := NewWithIO(ios, "test")
	defer f.Close()
	if _, err := f.Azure(context.Background()); err == nil || !strings.Contains(err.Error(), "--dps-name") {
		t.Fatalf("no name: %v", err)
	}
	f = NewWithIO(ios, "test")
	f.Flags.DPSName, f.Flags.Subscription = "mydps", testSub
	tg, err := f.Azure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tg.Instance.IDScope != "0ne00000001" || tg.Instance.ResourceGroup != "rg" || tg.ARM.Subscription() != testSub {
		t.Fatalf("target = %+v", tg.Instance)
	}
	for _, o := range []config.Overrides{{DPSName: "d", Cloud: "Mars"}, {DPSName: "d", Credential: "browser"}} {
		f = NewWithIO(ios, "test")
		f.Flags.Overrides = o
		_, err := f.Client(context.Background())
		if !errors.As(err, new(*cmdutil.FlagError)) {
			t.Fatalf("%+v: error %v, want a usage error", o, err)
		}
	}
}
