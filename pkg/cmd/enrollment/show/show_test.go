package show

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

func seed(t *testing.T, c *dps.Client) {
	t.Helper()
	e := &model.IndividualEnrollment{
		RegistrationID: "dev-1",
		DeviceID:       "device-one",
		Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
			SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}},
		IoTHubs:          []string{"hub1.azure-devices.net", "hub2.azure-devices.net"},
		AllocationPolicy: model.AllocationHashed,
		InitialTwin:      &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`)},
	}
	if _, err := c.PutEnrollment(context.Background(), e, ""); err != nil {
		t.Fatal(err)
	}
}

func TestNewCmdShow(t *testing.T) {
	tests := []struct {
		args     []string
		wantID   string
		wantKeys bool
		wantErr  bool
	}{
		{args: []string{"dev-1"}, wantID: "dev-1"},
		{args: []string{"dev-1", "--show-keys"}, wantID: "dev-1", wantKeys: true},
		{args: []string{}, wantErr: true},
		{args: []string{"a", "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *ShowOptions
			err := cmdtest.Run(t, f, NewCmdShow(f, func(o *ShowOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.RegistrationID != tt.wantID || got.ShowKeys != tt.wantKeys {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestShowRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c)
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"table tty", true, []string{"dev-1"}},
		{"table not tty", false, []string{"dev-1"}},
		{"json", false, []string{"dev-1", "-o", "json"}},
		{"yaml", false, []string{"dev-1", "-o", "yaml"}},
		{"json show keys", false, []string{"dev-1", "-o", "json", "--show-keys"}},
		{"table tty show keys", true, []string{"dev-1", "--show-keys"}},
		{"query tsv", false, []string{"dev-1", "--query", "iotHubs", "-o", "tsv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, c, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdShow(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(s.Out.String()))
		})
	}
}

func TestShowNotFound(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	f, s := cmdtest.NewFactory(t, c, false)
	err := cmdtest.Run(t, f, NewCmdShow(f, nil), "nope")
	if err == nil || err.Error() != `enrollment "nope" not found` || !dps.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	if s.Out.Len() != 0 {
		t.Fatalf("stdout %q", s.Out)
	}
}
