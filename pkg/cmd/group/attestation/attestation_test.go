package attestation

import (
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
)

func TestNewCmdAttestation(t *testing.T) {
	tests := []struct {
		args    []string
		wantID  string
		wantErr bool
	}{
		{args: []string{"g1"}, wantID: "g1"},
		{args: nil, wantErr: true},
		{args: []string{"a", "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *AttestationOptions
			err := cmdtest.Run(t, f, NewCmdAttestation(f, func(o *AttestationOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error", err)
				}
				return
			}
			if err != nil || got.GroupID != tt.wantID {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestAttestationRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	ca := grouptest.NewCA(t)
	grouptest.SymmetricGroup(t, c, "keys", nil)
	grouptest.SigningGroup(t, c, "x509", ca.Root.Cert, nil)
	scrub := grouptest.CertScrubs(ca.Root.Cert)
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"keys table tty", true, []string{"keys"}},
		{"keys table tty show keys", true, []string{"keys", "--show-keys"}},
		{"keys json", false, []string{"keys", "-o", "json"}},
		{"keys query show keys", false, []string{"keys", "--show-keys", "--query", "symmetricKey.primaryKey", "-o", "tsv"}},
		{"x509 table tty", true, []string{"x509"}},
		{"x509 table not tty", false, []string{"x509"}},
		{"x509 yaml", false, []string{"x509", "-o", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String(), scrub...)
		})
	}
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), "nope"); !dps.IsNotFound(err) || err.Error() != `enrollment group "nope" not found` {
		t.Fatalf("not found: %v", err)
	}
}
