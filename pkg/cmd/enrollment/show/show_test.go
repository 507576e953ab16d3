package show

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

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
			got, err := cmdtest.Parse(t, NewCmdShow, tt.args...)
			if tt.wantErr {
				cmdtest.WantUsageError(t, err, "")
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
	cmdtest.Goldens(t, c, NewCmdShow, []cmdtest.GoldenRun{
		{Name: "table tty", TTY: true, Args: []string{"dev-1"}},
		{Name: "table not tty", Args: []string{"dev-1"}},
		{Name: "json", Args: []string{"dev-1", "-o", "json"}},
		{Name: "yaml", Args: []string{"dev-1", "-o", "yaml"}},
		{Name: "json show keys", Args: []string{"dev-1", "-o", "json", "--show-keys"}},
		{Name: "table tty show keys", TTY: true, Args: []string{"dev-1", "--show-keys"}},
		{Name: "query tsv", Args: []string{"dev-1", "--query", "iotHubs", "-o", "tsv"}},
	}, cmdtest.ScrubETags)
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
