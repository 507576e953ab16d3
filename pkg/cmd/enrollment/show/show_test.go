package show

import (
	"context"
	"encoding/json"
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
		EnrollmentCommon: model.EnrollmentCommon{
			Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key1, SecondaryKey: key2}},
			IoTHubs:          []string{"hub1.azure-devices.net", "hub2.azure-devices.net"},
			AllocationPolicy: model.AllocationHashed,
			InitialTwin:      &model.InitialTwin{Tags: json.RawMessage(`{"site":"lab"}`)},
		},
	}
	if _, err := c.PutEnrollment(context.Background(), e, ""); err != nil {
		t.Fatal(err)
	}
}

func TestNewCmdShow(t *testing.T) {
	cmdtest.IDLines(t, NewCmdShow, func(o *ShowOptions) string { return o.RegistrationID }, "dev-1")
	for _, keys := range []bool{false, true} {
		args := []string{"dev-1"}
		if keys {
			args = append(args, "--show-keys")
		}
		if got, err := cmdtest.Parse(t, NewCmdShow, args...); err != nil || got.RegistrationID != "dev-1" || got.ShowKeys != keys {
			t.Fatalf("%v: got %+v, %v", args, got, err)
		}
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
