package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestHubDevices(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for i := range 5 {
		hub := "hub-a.test"
		if i%2 == 1 {
			hub = "hub-b.test"
		}
		d := &HubDevice{HubHostName: hub, DeviceID: fmt.Sprintf("Dev-%d", i), Status: "enabled", AuthenticationType: AuthSAS, PrimaryKey: "a2V5"}
		if err := s.PutHubDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// The same device ID in another hub is another device.
	if err := s.PutHubDevice(ctx, &HubDevice{HubHostName: "hub-b.test", DeviceID: "dev-0", AuthenticationType: AuthSelfSigned, PrimaryThumbprint: "AB"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHubDevice(ctx, &HubDevice{DeviceID: "x"}); err == nil {
		t.Fatal("a device without a hub was stored")
	}
	d, err := s.HubDevice(ctx, "HUB-A.test", "dev-0")
	if err != nil || d.DeviceID != "Dev-0" || d.PrimaryKey != "a2V5" {
		t.Fatalf("%+v, %v", d, err)
	}
	if _, err := s.HubDevice(ctx, "hub-a.test", "dev-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wrong hub: %v", err)
	}
	found, err := s.FindHubDevices(ctx, "DEV-0")
	if err != nil || len(found) != 2 || found[0].HubHostName != "hub-a.test" || found[1].HubHostName != "hub-b.test" {
		t.Fatalf("find: %+v, %v", found, err)
	}
	for _, tt := range []struct {
		hub  string
		want int
	}{{"", 6}, {"hub-a.test", 3}, {"HUB-B.TEST", 3}, {"nowhere", 0}} {
		n, err := s.CountHubDevices(ctx, tt.hub)
		if err != nil || n != tt.want {
			t.Errorf("count %q = %d, %v; want %d", tt.hub, n, err, tt.want)
		}
		var ids []string
		for after, pages := int64(0), 0; pages < 10; pages++ {
			p, err := s.ListHubDevices(ctx, tt.hub, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Items {
				ids = append(ids, d.DeviceID)
			}
			if p.Next == 0 {
				break
			}
			after = p.Next
		}
		if len(ids) != tt.want {
			t.Errorf("list %q: %v", tt.hub, ids)
		}
	}
	// Read-modify-write; a replaced device keeps its place.
	err = s.UpdateHubDevice(ctx, "hub-a.test", "dev-0", func(d *HubDevice) error {
		d.ConnectionState = ConnectionConnected
		d.DeviceToCloudMessageCount++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.ListHubDevices(ctx, "", 0, 10)
	if p.Items[0].DeviceID != "Dev-0" || p.Items[0].ConnectionState != ConnectionConnected || p.Items[0].DeviceToCloudMessageCount != 1 {
		t.Fatalf("after update: %+v", p.Items[0])
	}
	stop := errors.New("stop")
	if err := s.UpdateHubDevice(ctx, "hub-a.test", "dev-0", func(*HubDevice) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn error: %v", err)
	}
	if err := s.UpdateHubDevice(ctx, "hub-a.test", "nobody", func(*HubDevice) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing device: %v", err)
	}
	if err := s.DeleteHubDevice(ctx, "hub-a.test", "DEV-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHubDevice(ctx, "hub-a.test", "dev-0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.ListHubDevices(ctx, "", 0, 0); err == nil {
		t.Fatal("page size 0 accepted")
	}
}

func TestCertificatesAndTPMChallenges(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	c := Certificate{Name: "Lab-CA", Certificate: "-----BEGIN CERTIFICATE-----\n...", Verified: false, Created: "2025-01-01T00:00:00Z"}
	if err := s.PutCertificate(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Verified = true
	if err := s.PutCertificate(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Certificate(ctx, "lab-ca")
	if err != nil || !got.Verified || got.Name != "Lab-CA" {
		t.Fatalf("%+v, %v", got, err)
	}
	all, err := s.Certificates(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("%+v, %v", all, err)
	}
	if err := s.PutCertificate(ctx, Certificate{Name: "x"}); err == nil {
		t.Fatal("a certificate without a body was stored")
	}
	if err := s.DeleteCertificate(ctx, "LAB-CA"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Certificate(ctx, "lab-ca"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteCertificate(ctx, "lab-ca"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	now := time.Now()
	if err := s.PutTPMChallenge(ctx, "Tpm-Dev", "a2V5MQ==", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTPMChallenge(ctx, "tpm-dev", "a2V5Mg==", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if k, err := s.TPMChallenge(ctx, "TPM-DEV", now); err != nil || k != "a2V5Mg==" {
		t.Fatalf("%q, %v", k, err)
	}
	if _, err := s.TPMChallenge(ctx, "tpm-dev", now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired challenge: %v", err)
	}
	if _, err := s.TPMChallenge(ctx, "other", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no challenge: %v", err)
	}
}

// The registration record keeps the device side of the registration.
func TestRegistrationDeviceFields(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	r := &Registration{
		State:             model.DeviceRegistrationState{RegistrationID: "dev-1", Status: model.RegAssigned, ETag: "e"},
		EnrollmentGroupID: "grp",
		OperationID:       "5.0123456789abcdef.op",
		Result:            &model.DeviceRegistrationResult{RegistrationID: "dev-1", Status: model.RegAssigned, TPM: &model.TPMRegistrationResult{AuthenticationKey: "blob"}},
		AuthKeys:          []string{"a2V5"},
		AuthThumbprint:    "ABCD",
	}
	if err := s.PutRegistration(ctx, r, MatchAny); err != nil {
		t.Fatal(err)
	}
	got, err := s.Registration(ctx, "DEV-1")
	if err != nil || got.OperationID != r.OperationID || got.Result == nil || got.Result.TPM.AuthenticationKey != "blob" ||
		len(got.AuthKeys) != 1 || got.AuthThumbprint != "ABCD" || got.EnrollmentGroupID != "grp" {
		t.Fatalf("%+v, %v", got, err)
	}
}

// A database of schema version 1 is upgraded in place.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openDB(filepath.Join(dir, FileName), "immediate", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0] + "PRAGMA user_version = 1;"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO linked_hubs (host_name, connection_string, seq) VALUES ('old.test', 'HostName=old.test', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version %d, %v", v, err)
	}
	if h, err := s.LinkedHub(ctx, "OLD.test"); err != nil || h.HostName != "old.test" || h.AllocationWeight != 1 || !h.ApplyAllocationPolicy {
		t.Fatalf("%+v, %v", h, err)
	}
	if err := s.PutHubDevice(ctx, &HubDevice{HubHostName: "old.test", DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
}
