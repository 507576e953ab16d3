package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// TestInstanceHubService runs the instance as the hub commands use it.
func TestInstanceHubService(t *testing.T) {
	ctx := context.Background()
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	var svc linkedhub.Service = inst

	hs, err := svc.LinkedHubs(ctx)
	if err != nil || len(hs) != 1 || hs[0].HostName != "localhost" || hs[0].AllocationWeight != 1 || !hs[0].ApplyAllocationPolicy {
		t.Fatalf("default hubs %+v, %v", hs, err)
	}
	h, err := svc.LinkHub(ctx, "hub-b.example.test", 3, false)
	if err != nil || h.HostName != "hub-b.example.test" || h.AllocationWeight != 3 || h.ApplyAllocationPolicy || h.ConnectionString == "" {
		t.Fatalf("linked %+v, %v", h, err)
	}

	// More devices than one page of the store read, in two hubs.
	const n = 2*hubDevicePage + 7
	err = inst.st.Update(ctx, func(tx *store.Tx) error {
		for k := range n {
			hub := "localhost"
			if k%3 == 0 {
				hub = "hub-b.example.test"
			}
			if err := tx.PutHubDevice(&store.HubDevice{HubHostName: hub, DeviceID: fmt.Sprintf("dev-%04d", k), Status: "enabled", AuthenticationType: store.AuthSAS}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, hub := range []string{"", "localhost", "hub-b.example.test"} {
		count, err := svc.CountHubDevices(ctx, hub)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for d, err := range svc.HubDevices(ctx, hub) {
			if err != nil {
				t.Fatal(err)
			}
			if hub != "" && d.HubHostName != hub {
				t.Fatalf("hub %q: device %+v", hub, d)
			}
			ids = append(ids, d.DeviceID)
		}
		if len(ids) != count || count == 0 {
			t.Fatalf("hub %q: walked %d devices, counted %d", hub, len(ids), count)
		}
		for k := 1; k < len(ids); k++ {
			if ids[k] <= ids[k-1] {
				t.Fatalf("hub %q: %s after %s: not in creation order", hub, ids[k], ids[k-1])
			}
		}
	}
	walked := 0
	for range svc.HubDevices(ctx, "") {
		if walked++; walked == 3 {
			break
		}
	}

	put := linkedhub.Device{HubHostName: "hub-b.example.test", DeviceID: "seeded", Status: "disabled", AuthenticationType: linkedhub.AuthSelfSigned, PrimaryThumbprint: "AB12"}
	if err := inst.PutHubDevice(ctx, put); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.HubDevice(ctx, "hub-b.example.test", "seeded"); err != nil || !reflect.DeepEqual(got, put) {
		t.Fatalf("seeded device %+v, %v", got, err)
	}

	d, err := svc.HubDevice(ctx, "", "DEV-0001")
	if err != nil || d.DeviceID != "dev-0001" || d.HubHostName != "localhost" {
		t.Fatalf("device %+v, %v", d, err)
	}
	for _, c := range []struct{ hub, id string }{{"", "nobody"}, {"hub-b.example.test", "dev-0001"}} {
		_, err := svc.HubDevice(ctx, c.hub, c.id)
		if !errors.Is(err, linkedhub.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("device %q in %q: %v", c.id, c.hub, err)
		}
	}
	if err := svc.UnlinkHub(ctx, "nowhere.example.test"); !errors.Is(err, linkedhub.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unlink a hub never linked: %v", err)
	}
	if err := svc.UnlinkHub(ctx, "hub-b.example.test"); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.CountHubDevices(ctx, "hub-b.example.test"); err != nil || n == 0 {
		t.Errorf("the registry of an unlinked hub: %d devices, %v", n, err)
	}
}

func TestPutRegistration(t *testing.T) {
	ctx := context.Background()
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s := model.DeviceRegistrationState{RegistrationID: "grouped-1", Status: model.RegAssigned, AssignedHub: "localhost", DeviceID: "grouped-1", ETag: "x"}
	if err := inst.PutRegistration(ctx, "group-a", s); err != nil {
		t.Fatal(err)
	}
	r, err := inst.st.Registration(ctx, "grouped-1")
	if err != nil || r.EnrollmentGroupID != "group-a" || !reflect.DeepEqual(r.State, s) {
		t.Fatalf("stored %+v, %v", r, err)
	}
}
