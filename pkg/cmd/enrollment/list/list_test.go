package list

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

func seed(t *testing.T, c *dps.Client, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		e := &model.IndividualEnrollment{
			RegistrationID:   fmt.Sprintf("dev-%d", i),
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}}},
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
	cmdtest.PagingLines(t, NewCmdList, func(o *ListOptions) (int, int) { return o.PageSize, o.Top })
	_, err := cmdtest.Parse(t, NewCmdList, "extra")
	cmdtest.WantUsageError(t, err, "")
}

func TestListRun(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	seed(t, c, 3)
	_, empty := cmdtest.NewServer(t)
	cmdtest.Goldens(t, c, NewCmdList, []cmdtest.GoldenRun{
		{Name: "table tty", TTY: true},
		{Name: "table not tty"},
		{Name: "tsv on tty", TTY: true, Args: []string{"-o", "tsv"}},
		{Name: "json", Args: []string{"-o", "json"}},
		{Name: "yaml", Args: []string{"-o", "yaml"}},
		{Name: "top", Args: []string{"--top", "2", "-o", "json", "--query", "[].registrationId"}},
		{Name: "small pages", Args: []string{"--page-size", "1", "--query", "[].registrationId"}},
		{Name: "query filter", Args: []string{"--query", "[?provisioningStatus=='disabled'].[registrationId, deviceId]"}},
		{Name: "empty table", Client: empty, TTY: true, WantErrOut: "no enrollments found\n"},
		{Name: "empty json", Client: empty, Args: []string{"-o", "json"}},
		{Name: "empty yaml", Client: empty, Args: []string{"-o", "yaml"}},
	}, cmdtest.ScrubETags)
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
