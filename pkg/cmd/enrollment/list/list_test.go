package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func seed(t *testing.T, c *dps.Client, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		e := &model.IndividualEnrollment{
			RegistrationID: fmt.Sprintf("dev-%d", i),
			Attestation:    &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}},
		}
		if i%2 == 0 {
			e.DeviceID = fmt.Sprintf("device-%d", i)
			e.IoTHubs = []string{"hub1.azure-devices.net", "hub2.azure-devices.net"}
			e.AllocationPolicy = model.AllocationHashed
			e.ProvisioningStatus = model.StatusDisabled
		}
		if _, err := c.PutEnrollment(context.Background(), e, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewCmdList(t *testing.T) {
	tests := []struct {
		args     []string
		pageSize int
		top      int
		wantErr  bool
	}{
		{args: nil},
		{args: []string{"--page-size", "10", "--top", "3"}, pageSize: 10, top: 3},
		{args: []string{"--top", "-1"}, wantErr: true},
		{args: []string{"--page-size", "x"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			var got *ListOptions
			err := cmdtest.Run(t, f, NewCmdList(f, func(o *ListOptions) error { got = o; return nil }), tt.args...)
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
			if got.PageSize != tt.pageSize || got.Top != tt.top {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestListRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c, 3)
	_, empty := cmdtest.NewServer(t)
	tests := []struct {
		name       string
		client     *dps.Client
		tty        bool
		args       []string
		wantErrOut string
	}{
		{name: "table tty", client: c, tty: true},
		{name: "table not tty", client: c},
		{name: "tsv on tty", client: c, tty: true, args: []string{"-o", "tsv"}},
		{name: "json", client: c, args: []string{"-o", "json"}},
		{name: "yaml", client: c, args: []string{"-o", "yaml"}},
		{name: "top", client: c, args: []string{"--top", "2", "-o", "json", "--query", "[].registrationId"}},
		{name: "small pages", client: c, args: []string{"--page-size", "1", "--query", "[].registrationId"}},
		{name: "query filter", client: c, args: []string{"--query", "[?provisioningStatus=='disabled'].[registrationId, deviceId]"}},
		{name: "empty table", client: empty, tty: true, wantErrOut: "no enrollments found\n"},
		{name: "empty json", client: empty, args: []string{"-o", "json"}},
		{name: "empty yaml", client: empty, args: []string{"-o", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, tt.client, tt.tty)
			if err := cmdtest.Run(t, f, NewCmdList(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			if s.ErrOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", s.ErrOut, tt.wantErrOut)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(s.Out.String()))
		})
	}
}

// List streams: more enrollments than one page arrive complete and in order.
func TestListPages(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c, 25)
	f, s := cmdtest.NewFactory(t, c, false)
	if err := cmdtest.Run(t, f, NewCmdList(f, nil), "--page-size", "4", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []model.IndividualEnrollment
	if err := json.Unmarshal(s.Out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Fatalf("%d enrollments, want 25", len(got))
	}
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.RegistrationID] = true
	}
	if len(seen) != 25 {
		t.Fatalf("duplicates: %d distinct", len(seen))
	}
}
