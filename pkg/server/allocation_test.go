package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func linkTestHubs(t *testing.T, inst *Instance, hubs ...store.LinkedHub) {
	t.Helper()
	for _, h := range hubs {
		if _, err := inst.LinkHub(context.Background(), h.HostName, h.AllocationWeight, h.ApplyAllocationPolicy); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllocationPolicies(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	def := e.inst.Info().HostName
	linkTestHubs(t, e.inst,
		store.LinkedHub{HostName: "hub-a.test", AllocationWeight: 1, ApplyAllocationPolicy: true},
		store.LinkedHub{HostName: "hub-b.test", AllocationWeight: 3, ApplyAllocationPolicy: true},
		store.LinkedHub{HostName: "hub-zero.test", AllocationWeight: 0, ApplyAllocationPolicy: true},
		store.LinkedHub{HostName: "hub-private.test", AllocationWeight: 5, ApplyAllocationPolicy: false},
	)
	e.put("/enrollmentGroups/hashed", map[string]any{"enrollmentGroupId": "hashed", "attestation": symKeys(keyA, keyB)})
	counts := map[string]int{}
	for i := range 40 {
		id := fmt.Sprintf("h-dev-%02d", i)
		tok := d.symToken(id, deriveKey(t, keyA, id))
		op := d.provision(id, tok, nil)
		hub := op.RegistrationState.AssignedHub
		counts[hub]++
		if again := d.provision(id, tok, nil); again.RegistrationState.AssignedHub != hub {
			t.Fatalf("%s moved from %s to %s", id, hub, again.RegistrationState.AssignedHub)
		}
	}
	if counts["hub-zero.test"] != 0 || counts["hub-private.test"] != 0 || counts[def] == 0 || counts["hub-a.test"] == 0 || counts["hub-b.test"] <= counts["hub-a.test"] {
		t.Fatalf("hashed over weights 1,1,3: %v", counts)
	}

	tests := []struct {
		name    string
		policy  string
		iotHubs []string
		want    string
	}{
		{"static", "static", []string{"hub-b.test"}, "hub-b.test"},
		{"static to a hub outside the allocation policy", "static", []string{"HUB-PRIVATE.test"}, "hub-private.test"},
		{"geoLatency takes the first candidate", "geoLatency", []string{"hub-zero.test", "hub-a.test"}, "hub-zero.test"},
		{"geoLatency skips unlinked hubs", "geoLatency", []string{"gone.test", "hub-a.test"}, "hub-a.test"},
		{"hashed among the enrollment's hubs", "hashed", []string{"hub-private.test"}, "hub-private.test"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("p-dev-%d", i)
			e.put("/enrollments/"+id, map[string]any{"registrationId": id, "attestation": symKeys(keyA, keyB), "allocationPolicy": tt.policy, "iotHubs": tt.iotHubs})
			op := d.provision(id, d.symToken(id, keyA), nil)
			if op.RegistrationState.AssignedHub != tt.want {
				t.Fatalf("%+v", op.RegistrationState)
			}
		})
	}
	// The legacy iotHubHostName also names the candidate.
	e.put("/enrollments/legacy", map[string]any{"registrationId": "legacy", "attestation": symKeys(keyA, keyB), "iotHubHostName": "hub-private.test"})
	if op := d.provision("legacy", d.symToken("legacy", keyA), nil); op.RegistrationState.AssignedHub != "hub-private.test" {
		t.Fatalf("%+v", op.RegistrationState)
	}
	// The service-level policy applies to enrollments without one.
	if err := e.inst.st.SetMeta(context.Background(), store.MetaAllocationPolicy, model.AllocationGeoLatency); err != nil {
		t.Fatal(err)
	}
	e.inst.invalidate()
	e.put("/enrollments/svc", map[string]any{"registrationId": "svc", "attestation": symKeys(keyA, keyB), "iotHubs": []string{"hub-zero.test", "hub-b.test"}})
	if op := d.provision("svc", d.symToken("svc", keyA), nil); op.RegistrationState.AssignedHub != "hub-zero.test" {
		t.Fatalf("%+v", op.RegistrationState)
	}
}

// webhook is a custom allocation function for tests.
type webhook struct {
	mu   sync.Mutex
	reqs []model.AllocationRequest
	// answer builds the response body and status from the request.
	answer func(model.AllocationRequest) (int, string)
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var req model.AllocationRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		rw.WriteHeader(400)
		return
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, req)
	w.mu.Unlock()
	status, body := w.answer(req)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	rw.Write([]byte(body))
}

func (w *webhook) last() model.AllocationRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reqs[len(w.reqs)-1]
}

func TestCustomAllocation(t *testing.T) {
	hook := &webhook{answer: func(req model.AllocationRequest) (int, string) {
		var p struct {
			Hub    string
			Status int
			Sleep  bool
		}
		json.Unmarshal(req.DeviceRuntimeContext.Payload, &p)
		if p.Sleep {
			time.Sleep(time.Second)
		}
		if p.Status != 0 {
			return p.Status, `{}`
		}
		return 200, `{"iotHubHostName":"` + p.Hub + `","initialTwin":{"tags":{"chosen":true},"properties":{"desired":{"mode":"hook"}}},"payload":{"welcome":"` + req.DeviceRuntimeContext.RegistrationID + `"}}`
	}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	inst, err := Open(Options{DataDir: t.TempDir(), WebhookClient: &http.Client{Timeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e := envFor(t, inst)
	d := e.deviceClient()
	linkTestHubs(t, inst, store.LinkedHub{HostName: "hub-a.test", AllocationWeight: 1, ApplyAllocationPolicy: true}, store.LinkedHub{HostName: "hub-b.test", AllocationWeight: 1})
	e.put("/enrollmentGroups/custom", map[string]any{
		"enrollmentGroupId": "custom", "attestation": symKeys(keyA, keyB), "allocationPolicy": "custom",
		"iotHubs":                    []string{"hub-a.test", "hub-b.test"},
		"initialTwin":                map[string]any{"tags": map[string]any{"from": "enrollment"}},
		"customAllocationDefinition": map[string]string{"webhookUrl": srv.URL + "/api/allocate?code=secret", "apiVersion": "2021-10-01"},
	})
	prov := func(id string, payload any) model.RegistrationOperationStatus {
		return d.provision(id, d.symToken(id, deriveKey(t, keyA, id)), map[string]any{"registrationId": id, "payload": payload})
	}
	op := prov("c-dev", map[string]any{"hub": "HUB-B.test"})
	rs := op.RegistrationState
	if op.Status != model.RegAssigned || rs.AssignedHub != "hub-b.test" || string(rs.Payload) != `{"welcome":"c-dev"}` {
		t.Fatalf("%+v %+v", op, rs)
	}
	req := hook.last()
	if req.EnrollmentGroup == nil || req.EnrollmentGroup.EnrollmentGroupID != "custom" || req.EnrollmentGroup.Attestation.SymmetricKey != nil || req.EnrollmentGroup.ETag == "" ||
		req.IndividualEnrollment != nil || req.DeviceRuntimeContext.RegistrationID != "c-dev" || req.DeviceRuntimeContext.SymmetricKey == nil ||
		req.DeviceRuntimeContext.CurrentIoTHubHostName != "" || strings.Join(req.LinkedHubs, ",") != "hub-a.test,hub-b.test" {
		t.Fatalf("webhook request %+v", req)
	}
	dev := e.hubDevice("hub-b.test", "c-dev")
	if string(dev.Tags) != `{"chosen":true}` || string(dev.Desired) != `{"mode":"hook"}` {
		t.Fatalf("twin %+v", dev)
	}
	var st model.DeviceRegistrationState
	e.call(http.MethodGet, "/registrations/c-dev", nil).json(t, &st)
	if string(st.Payload) != `{"welcome":"c-dev"}` {
		t.Fatalf("service view %+v", st)
	}
	// Re-registration tells the webhook where the device is.
	prov("c-dev", map[string]any{"hub": "hub-a.test"})
	if ctx := hook.last().DeviceRuntimeContext; ctx.CurrentIoTHubHostName != "hub-b.test" || ctx.CurrentDeviceID != "c-dev" {
		t.Fatalf("%+v", ctx)
	}

	bad := []struct {
		name    string
		payload any
		want    string
	}{
		{"hub not linked", map[string]any{"hub": "elsewhere.test"}, "not one of"},
		// The precise reason of a failed call goes to the server log only
		// (see webhook_security_test.go).
		{"no hub", map[string]any{}, webhookFailed},
		{"webhook fails", map[string]any{"status": 500}, webhookFailed},
		{"webhook too slow", map[string]any{"sleep": true}, webhookFailed},
	}
	for i, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			op := prov(fmt.Sprintf("c-bad-%d", i), b.payload)
			if op.Status != model.RegFailed || op.RegistrationState.ErrorCode != model.ErrHubNotSpecified || !strings.Contains(op.RegistrationState.ErrorMessage, b.want) {
				t.Fatalf("%+v", op.RegistrationState)
			}
		})
	}
}

func TestReprovisionPolicies(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	linkTestHubs(t, e.inst, store.LinkedHub{HostName: "hub-a.test", AllocationWeight: 1}, store.LinkedHub{HostName: "hub-b.test", AllocationWeight: 1})
	enroll := func(id, hub string, update, migrate bool) {
		e.put("/enrollments/"+id, map[string]any{
			"registrationId": id, "attestation": symKeys(keyA, keyB), "iotHubs": []string{hub},
			"initialTwin":       map[string]any{"tags": map[string]any{"twin": "initial"}},
			"reprovisionPolicy": map[string]bool{"updateHubAssignment": update, "migrateDeviceData": migrate},
		})
	}
	ctx := context.Background()
	// The device's twin changes in its hub (as a back end would change it).
	touchTwin := func(hub, id string) {
		err := e.inst.st.UpdateHubDevice(ctx, hub, id, func(dv *store.HubDevice) error {
			dv.Tags = json.RawMessage(`{"twin":"changed"}`)
			dv.Reported = json.RawMessage(`{"fw":"2.0"}`)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name                       string
		update, migrate            bool
		wantHub, wantSub, wantTags string
		wantOldGone                bool
	}{
		{"migrate", true, true, "hub-b.test", model.SubstatusDeviceDataMigrated, `{"twin":"changed"}`, true},
		{"reset", true, false, "hub-b.test", model.SubstatusDeviceDataReset, `{"twin":"initial"}`, true},
		{"never", false, false, "hub-a.test", model.SubstatusReprovisionedToInitialAssignment, `{"twin":"changed"}`, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("r-dev-%d", i)
			enroll(id, "hub-a.test", tt.update, tt.migrate)
			op := d.provision(id, d.symToken(id, keyA), nil)
			if op.RegistrationState.AssignedHub != "hub-a.test" || op.RegistrationState.Substatus != model.SubstatusInitialAssignment {
				t.Fatalf("first: %+v", op.RegistrationState)
			}
			touchTwin("hub-a.test", id)
			enroll(id, "hub-b.test", tt.update, tt.migrate) // the enrollment now names another hub
			op = d.provision(id, d.symToken(id, keyA), nil)
			rs := op.RegistrationState
			if rs.AssignedHub != tt.wantHub || rs.Substatus != tt.wantSub {
				t.Fatalf("again: %+v", rs)
			}
			dev := e.hubDevice(tt.wantHub, id)
			if string(dev.Tags) != tt.wantTags {
				t.Fatalf("twin tags %s, want %s", dev.Tags, tt.wantTags)
			}
			_, err := e.inst.st.HubDevice(ctx, "hub-a.test", id)
			if gone := err != nil; gone != tt.wantOldGone {
				t.Fatalf("old hub device gone %v, want %v", gone, tt.wantOldGone)
			}
			var st model.DeviceRegistrationState
			e.call(http.MethodGet, "/registrations/"+id, nil).json(t, &st)
			if st.Substatus != tt.wantSub || st.AssignedHub != tt.wantHub {
				t.Fatalf("service view %+v", st)
			}
		})
	}
	// Registering again to the same hub keeps the device and its twin.
	enroll("same", "hub-a.test", true, false)
	d.provision("same", d.symToken("same", keyA), nil)
	touchTwin("hub-a.test", "same")
	op := d.provision("same", d.symToken("same", keyA), nil)
	if op.RegistrationState.Substatus != model.SubstatusReprovisionedToInitialAssignment {
		t.Fatalf("%+v", op.RegistrationState)
	}
	if dev := e.hubDevice("hub-a.test", "same"); string(dev.Tags) != `{"twin":"changed"}` || string(dev.Reported) != `{"fw":"2.0"}` {
		t.Fatalf("%+v", dev)
	}
}
