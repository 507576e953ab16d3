package attestation

import (
	"context"
	"errors"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

func TestNewCmdAttestation(t *testing.T) {
	f, _ := cmdtest.NewFactory(t, nil, false)
	var got *AttestationOptions
	if err := cmdtest.Run(t, f, NewCmdAttestation(f, func(o *AttestationOptions) error { got = o; return nil }), "dev-1"); err != nil || got.RegistrationID != "dev-1" {
		t.Fatalf("got %+v, %v", got, err)
	}
	f, _ = cmdtest.NewFactory(t, nil, false)
	err := cmdtest.Run(t, f, NewCmdAttestation(f, func(*AttestationOptions) error { return nil }))
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("no ID: %v", err)
	}
}

func TestAttestationRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	_, err := c.PutEnrollment(context.Background(), &model.IndividualEnrollment{
		RegistrationID: "dev-1",
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
			SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"table tty masked", true, []string{"dev-1"}},
		{"table not tty masked", false, []string{"dev-1"}},
		{"json masked", false, []string{"dev-1", "-o", "json"}},
		{"json show keys", false, []string{"dev-1", "-o", "json", "--show-keys"}},
		{"yaml show keys", false, []string{"dev-1", "-o", "yaml", "--show-keys"}},
		{"query primary key", false, []string{"dev-1", "--show-keys", "--query", "symmetricKey.primaryKey", "-o", "tsv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
	f, _ := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdAttestation(f, nil), "nope"); !dps.IsNotFound(err) || err.Error() != `enrollment "nope" not found` {
		t.Fatalf("not found: %v", err)
	}
}
