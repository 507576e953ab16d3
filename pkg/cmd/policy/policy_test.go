package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

func azurePolicies(context.Context) (*cmdutil.PolicySet, error) {
	return &cmdutil.PolicySet{Host: "mydps.azure-devices-provisioning.net", Policies: []sas.Policy{
		{KeyName: "provisioningserviceowner", PrimaryKey: "b3duZXI=", SecondaryKey: "c2Vjb25k", Rights: []string{"ServiceConfig", "EnrollmentRead", "EnrollmentWrite"}},
		{KeyName: "enrollmentread", PrimaryKey: "cmVhZA==", SecondaryKey: "cmVhZDI=", Rights: []string{"EnrollmentRead"}},
	}}, nil
}

func TestPolicyCommands(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		args    []string
		wantErr bool
	}{
		{"list table", true, []string{"list"}, false},
		{"list piped", false, []string{"list"}, false},
		{"list json keys", false, []string{"list", "-o", "json", "--show-keys"}, false},
		{"show", true, []string{"show", "enrollmentread"}, false},
		{"show json", false, []string{"show", "ENROLLMENTREAD", "-o", "json"}, false},
		{"connection-string default", false, []string{"connection-string"}, false},
		{"connection-string shown", false, []string{"connection-string", "enrollmentread", "--show-keys", "-o", "tsv"}, false},
		{"show missing", false, []string{"show", "nope"}, true},
		{"connection-string two", false, []string{"connection-string", "a", "b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out := cmdtest.NewFactory(t, nil, tt.tty)
			f.Policies = azurePolicies
			err := cmdtest.Run(t, f, NewCmdPolicy(f), tt.args...)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				cmdtest.Golden(t, err.Error()+"\n")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, out.Out.String())
		})
	}
}

// The local service's policies come from its data directory.
func TestLocalPolicies(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("DPSCTL_DATA_DIR", filepath.Join(dir, "data"))
	for _, e := range []string{"DPSCTL_CONNECTION_STRING", "DPSCTL_PROFILE", "DPSCTL_DPS_NAME", "DPSCTL_HOST"} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	f, out := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdPolicy(f), "connection-string", "--show-keys", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	got := out.Out.String()
	set, err := f.Policies(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	owner, err := set.Policy("provisioningserviceowner")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sas.ParseConnectionString(owner.ConnectionString(set.Host))
	if err != nil || cs.Key == "" || len(set.Policies) < 2 {
		t.Fatalf("policies %+v: %v", set, err)
	}
	want := "{\n  \"keyName\": \"provisioningserviceowner\",\n  \"connectionString\": \"" + owner.ConnectionString(set.Host) + "\"\n}\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
