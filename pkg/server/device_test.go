package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func TestSymmetricKeyIndividual(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	hub := e.inst.Info().HostName
	e.put("/enrollments/dev-sym", map[string]any{
		"registrationId": "dev-sym", "attestation": symKeys(keyA, keyB),
		"initialTwin": map[string]any{"tags": map[string]any{"site": "lab"}, "properties": map[string]any{"desired": map[string]any{"rate": 5}}},
	})
	e.put("/enrollments/dev-off", map[string]any{"registrationId": "dev-off", "attestation": symKeys(keyA, keyB), "provisioningStatus": "disabled"})

	tests := []struct {
		name, id, key string
		wantStatus    string
	}{
		{"primary key", "dev-sym", keyA, model.RegAssigned},
		{"secondary key", "dev-sym", keyB, model.RegAssigned},
		{"disabled enrollment", "dev-off", keyA, model.RegDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := d.provision(tt.id, d.symToken(tt.id, tt.key), nil)
			rs := op.RegistrationState
			if op.Status != tt.wantStatus || rs == nil || rs.Status != tt.wantStatus || rs.RegistrationID != tt.id {
				t.Fatalf("operation %+v", op)
			}
			if rs.SymmetricKey == nil || rs.SymmetricKey.EnrollmentGroupID != "" || rs.ETag == "" || rs.CreatedDateTimeUTC == "" || rs.LastUpdatedDateTimeUTC == "" {
				t.Fatalf("registration state %+v", rs)
			}
			if tt.wantStatus == model.RegAssigned && (rs.AssignedHub != hub || rs.DeviceID != tt.id || rs.Substatus == "") {
				t.Fatalf("assignment %+v", rs)
			}
			if tt.wantStatus == model.RegDisabled && rs.AssignedHub != "" {
				t.Fatalf("disabled device assigned: %+v", rs)
			}
		})
	}
	// Wrong key, and a key of another device: 401.
	for _, key := range []string{keyC, deriveKey(t, keyA, "dev-sym")} {
		r := d.register("dev-sym", d.symToken("dev-sym", key), nil)
		mustStatus(t, r, 401, model.ErrUnauthorized)
	}
	// No credentials at all.
	mustStatus(t, d.register("dev-sym", "", nil), 401, model.ErrUnauthorized)

	// The service API sees the registration, also in the enrollment.
	r := e.call(http.MethodGet, "/registrations/dev-sym", nil)
	mustStatus(t, r, 200)
	var st model.DeviceRegistrationState
	r.json(t, &st)
	if st.Status != model.RegAssigned || st.AssignedHub != hub || st.DeviceID != "dev-sym" || st.Substatus != model.SubstatusReprovisionedToInitialAssignment {
		t.Fatalf("registration state %s", r.body)
	}
	r = e.call(http.MethodGet, "/enrollments/dev-sym", nil)
	var enr model.IndividualEnrollment
	r.json(t, &enr)
	if enr.RegistrationState == nil || enr.RegistrationState.Status != model.RegAssigned || enr.RegistrationState.ETag != st.ETag {
		t.Fatalf("enrollment's registration state: %s", r.body)
	}
	r = e.call(http.MethodGet, "/registrations/dev-off", nil)
	r.json(t, &st)
	if st.Status != model.RegDisabled {
		t.Fatalf("disabled registration %s", r.body)
	}

	// The hub registry has the device with the enrollment's keys and twin.
	dev := e.hubDevice(hub, "dev-sym")
	if dev.AuthenticationType != store.AuthSAS || dev.PrimaryKey != keyA || dev.SecondaryKey != keyB || dev.Status != "enabled" ||
		dev.ConnectionState != store.ConnectionDisconnected || string(dev.Tags) != `{"site":"lab"}` || string(dev.Desired) != `{"rate":5}` {
		t.Fatalf("hub device %+v", dev)
	}
	if _, err := e.inst.st.HubDevice(context.Background(), hub, "dev-off"); err == nil {
		t.Fatal("a disabled device got a hub identity")
	}
}

func TestDeviceSASEncodings(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollments/enc-dev", map[string]any{"registrationId": "enc-dev", "attestation": symKeys(keyA, keyB)})
	now := time.Now()
	for name, style := range srStyles {
		for _, skn := range []string{"registration", "", "REGISTRATION"} {
			t.Run(name+" skn="+skn, func(t *testing.T) {
				tok := deviceSAS(t, keyA, style(d.scope, "enc-dev"), skn, now.Add(time.Hour))
				if op := d.provision("enc-dev", tok, nil); op.Status != model.RegAssigned {
					t.Fatalf("%+v", op)
				}
			})
		}
	}
	// skn left out entirely (sas.NewToken with an empty name omits it), a
	// C#-style one-day token and one a little longer.
	for _, life := range []time.Duration{time.Minute, 24 * time.Hour, 25 * time.Hour} {
		tok := deviceSAS(t, keyA, d.scope+"%2Fregistrations%2Fenc-dev", "", now.Add(life))
		if strings.Contains(tok, "skn=") {
			t.Fatalf("token has skn: %s", tok)
		}
		if op := d.provision("enc-dev", tok, nil); op.Status != model.RegAssigned {
			t.Fatalf("lifetime %s: %+v", life, op)
		}
	}
	bad := []struct{ name, tok string }{
		{"expired", deviceSAS(t, keyA, d.scope+"/registrations/enc-dev", "registration", now.Add(-10*time.Minute))},
		{"other device", deviceSAS(t, keyA, d.scope+"/registrations/other", "registration", now.Add(time.Hour))},
		{"other scope", deviceSAS(t, keyA, "0ne00000000/registrations/enc-dev", "registration", now.Add(time.Hour))},
		{"policy name", deviceSAS(t, keyA, d.scope+"/registrations/enc-dev", "provisioningserviceowner", now.Add(time.Hour))},
		{"not a token", "Bearer abc"},
		{"signed sr differs from sent sr", strings.Replace(deviceSAS(t, keyA, d.scope+"/registrations/enc-dev", "registration", now.Add(time.Hour)), "sr="+d.scope+"/", "sr="+d.scope+"%2F", 1)},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			mustStatus(t, d.register("enc-dev", b.tok, nil), 401, model.ErrUnauthorized)
		})
	}
}

func TestSymmetricKeyGroups(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollmentGroups/grp-on", map[string]any{"enrollmentGroupId": "grp-on", "attestation": symKeys(keyA, keyB)})
	e.put("/enrollmentGroups/grp-off", map[string]any{"enrollmentGroupId": "grp-off", "attestation": symKeys(keyC, keyD), "provisioningStatus": "disabled"})
	// One device of the enabled group is switched off by a disabled
	// individual enrollment with keys of its own; another has an enabled
	// individual enrollment, which takes precedence over the group.
	e.put("/enrollments/g-dev-off", map[string]any{"registrationId": "g-dev-off", "attestation": symKeys(keyC, keyD), "provisioningStatus": "disabled"})
	e.put("/enrollments/g-dev-own", map[string]any{"registrationId": "g-dev-own", "attestation": symKeys(keyC, keyD)})

	tests := []struct {
		name, id, groupKey string
		wantStatus         string
		wantGroup          string
	}{
		{"primary group key", "g-dev-1", keyA, model.RegAssigned, "grp-on"},
		{"secondary group key", "g-dev-2", keyB, model.RegAssigned, "grp-on"},
		{"disabled group", "g-dev-3", keyC, model.RegDisabled, "grp-off"},
		{"disabled by individual enrollment", "g-dev-off", keyA, model.RegDisabled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := deriveKey(t, tt.groupKey, tt.id)
			op := d.provision(tt.id, d.symToken(tt.id, key), nil)
			rs := op.RegistrationState
			if op.Status != tt.wantStatus || rs.SymmetricKey == nil || rs.SymmetricKey.EnrollmentGroupID != tt.wantGroup {
				t.Fatalf("%+v / %+v", op, rs)
			}
			if tt.wantStatus == model.RegAssigned {
				dev := e.hubDevice(rs.AssignedHub, tt.id)
				if dev.PrimaryKey != deriveKey(t, keyA, tt.id) || dev.SecondaryKey != deriveKey(t, keyB, tt.id) {
					t.Fatalf("hub device keys %+v", dev)
				}
			}
		})
	}
	// The enabled individual enrollment wins over the group: the group's
	// derived key is refused, the enrollment's own key accepted.
	mustStatus(t, d.register("g-dev-own", d.symToken("g-dev-own", deriveKey(t, keyA, "g-dev-own")), nil), 401, model.ErrUnauthorized)
	if op := d.provision("g-dev-own", d.symToken("g-dev-own", keyC), nil); op.Status != model.RegAssigned || op.RegistrationState.SymmetricKey.EnrollmentGroupID != "" {
		t.Fatalf("%+v", op)
	}
	// A key derived for another device is refused.
	mustStatus(t, d.register("g-dev-9", d.symToken("g-dev-9", deriveKey(t, keyA, "g-dev-1")), nil), 401, model.ErrUnauthorized)

	// The group's registrations are listed by the service API.
	r := e.call(http.MethodPost, "/registrations/grp-on/query", nil)
	mustStatus(t, r, 200)
	var items []model.DeviceRegistrationState
	r.json(t, &items)
	if len(items) != 2 || items[0].RegistrationID != "g-dev-1" || items[1].RegistrationID != "g-dev-2" {
		t.Fatalf("group registrations %s", r.body)
	}

	// A group created after the first registrations is found at once.
	e.put("/enrollmentGroups/grp-new", map[string]any{"enrollmentGroupId": "grp-new", "attestation": symKeys(keyD, keyC)})
	if op := d.provision("n-dev", d.symToken("n-dev", deriveKey(t, keyD, "n-dev")), nil); op.RegistrationState.SymmetricKey.EnrollmentGroupID != "grp-new" {
		t.Fatalf("%+v", op)
	}
}

func TestDeviceRequestChecks(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollments/chk", map[string]any{"registrationId": "chk", "attestation": symKeys(keyA, keyB)})
	tok := d.symToken("chk", keyA)
	reg := d.regPath("chk") + "/register"
	tests := []struct {
		name, method, path string
		body               any
		auth               string
		status, code       int
	}{
		{"no api-version", "PUT", reg, nil, tok, 400, model.ErrBadRequest},
		{"bad api-version", "PUT", reg + "?api-version=latest", nil, tok, 400, model.ErrBadRequest},
		{"unknown scope", "PUT", "/0ne00000000/registrations/chk/register?api-version=2019-03-31", nil, tok, 401, model.ErrUnauthorized},
		{"bad registration id", "PUT", d.regPath("bad!id") + "/register?api-version=2019-03-31", nil, tok, 400, model.ErrInvalidRegistrationID},
		{"body id differs", "PUT", reg + "?api-version=2019-03-31", `{"registrationId":"other"}`, tok, 400, model.ErrBadRequest},
		{"body not JSON", "PUT", reg + "?api-version=2019-03-31", `{"registrationId":`, tok, 400, model.ErrBadRequest},
		{"body too large", "PUT", reg + "?api-version=2019-03-31", `{"payload":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, tok, 413, model.ErrRequestTooLarge},
		{"csr", "PUT", reg + "?api-version=2025-07-01-preview", `{"registrationId":"chk","csr":"MIIB"}`, tok, 400, model.ErrBadRequest},
		{"wrong method", "POST", reg + "?api-version=2019-03-31", nil, tok, 405, model.ErrMethodNotAllowed},
		{"unknown path", "GET", d.regPath("chk") + "/nothing/here?api-version=2019-03-31", nil, tok, 404, model.ErrNotFound},
		{"unknown operation", "GET", d.regPath("chk") + "/operations/5.0.x?api-version=2019-03-31", nil, tok, 404, model.ErrNotFound},
		{"operation without auth", "GET", d.regPath("chk") + "/operations/5.0.x?api-version=2019-03-31", nil, "", 401, model.ErrUnauthorized},
		{"status lookup before registration", "POST", d.regPath("chk") + "?api-version=2019-03-31", `{"registrationId":"chk"}`, tok, 404, model.ErrRegistrationNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.must(tt.method, tt.path, tt.body, tt.auth)
			mustStatus(t, r, tt.status, tt.code)
		})
	}
	// Every api-version the SDKs send, and C# MQTT/AMQP's empty body.
	for _, v := range model.DeviceAPIVersions {
		d.version = v
		if op := d.provision("chk", tok, ""); op.Status != model.RegAssigned {
			t.Fatalf("%s: %+v", v, op)
		}
	}
}

func TestOperationAndStatusLookup(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollments/look", map[string]any{"registrationId": "look", "attestation": symKeys(keyA, keyB)})
	e.put("/enrollments/peer", map[string]any{"registrationId": "peer", "attestation": symKeys(keyC, keyD)})
	tok := d.symToken("look", keyA)
	r := d.register("look", tok, map[string]any{"registrationId": "look", "payload": map[string]any{"model": "x"}})
	mustStatus(t, r, 202)
	var op model.RegistrationOperationStatus
	r.json(t, &op)
	if !strings.HasPrefix(op.OperationID, "5.") || len(strings.Split(op.OperationID, ".")) != 3 || r.header.Get("Retry-After") != "1" || r.header.Get("Content-Type") != httpapi.ContentTypeJSON {
		t.Fatalf("%s %v", r.body, r.header)
	}
	// The poll needs the device's credential: another device's token, or
	// the right device with a wrong key, is refused.
	mustStatus(t, d.operation("look", op.OperationID, d.symToken("peer", keyC)), 401, model.ErrUnauthorized)
	mustStatus(t, d.operation("look", op.OperationID, d.symToken("look", keyC)), 401, model.ErrUnauthorized)
	mustStatus(t, d.operation("peer", op.OperationID, d.symToken("peer", keyC)), 404, model.ErrNotFound)
	r = d.operation("look", op.OperationID, tok)
	mustStatus(t, r, 200)
	var done model.RegistrationOperationStatus
	r.json(t, &done)
	if done.OperationID != op.OperationID || done.Status != model.RegAssigned {
		t.Fatalf("%s", r.body)
	}
	// Status lookup: the result, not wrapped.
	r = d.must(http.MethodPost, d.regPath("look")+"?api-version=2021-06-01", `{"registrationId":"look"}`, d.symToken("look", keyB))
	mustStatus(t, r, 200)
	var res model.DeviceRegistrationResult
	r.json(t, &res)
	if res.Status != model.RegAssigned || res.RegistrationID != "look" || res.AssignedHub == "" {
		t.Fatalf("%s", r.body)
	}
	mustStatus(t, d.must(http.MethodPost, d.regPath("look")+"?api-version=2021-06-01", `{"registrationId":"look"}`, d.symToken("look", keyC)), 401, model.ErrUnauthorized)

	// The operation record is in the store: another instance on the same
	// data directory answers the poll.
	other, err := Open(Options{DataDir: e.inst.DataDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d2 := envFor(t, other).deviceClient()
	mustStatus(t, d2.operation("look", op.OperationID, tok), 200)
}

func TestNoHubFails(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	ctx := context.Background()
	hubs, err := e.inst.LinkedHubs(ctx)
	if err != nil || len(hubs) != 1 || hubs[0].HostName != e.inst.Info().HostName || !hubs[0].ApplyAllocationPolicy || hubs[0].AllocationWeight != 1 {
		t.Fatalf("default hubs %+v, %v", hubs, err)
	}
	e.put("/enrollments/lonely", map[string]any{"registrationId": "lonely", "attestation": symKeys(keyA, keyB), "iotHubs": []string{"elsewhere.azure-devices.net"}})
	op := d.provision("lonely", d.symToken("lonely", keyA), nil)
	if op.Status != model.RegFailed || op.RegistrationState.ErrorCode != model.ErrHubNotSpecified || !strings.Contains(op.RegistrationState.ErrorMessage, "elsewhere") {
		t.Fatalf("%+v %+v", op, op.RegistrationState)
	}
	if err := e.inst.UnlinkHub(ctx, hubs[0].HostName); err != nil {
		t.Fatal(err)
	}
	e.put("/enrollments/lonely", map[string]any{"registrationId": "lonely", "attestation": symKeys(keyA, keyB)})
	op = d.provision("lonely", d.symToken("lonely", keyA), nil)
	if op.Status != model.RegFailed || op.RegistrationState.ErrorCode != model.ErrHubNotSpecified {
		t.Fatalf("%+v", op)
	}
	var st model.DeviceRegistrationState
	r := e.call(http.MethodGet, "/registrations/lonely", nil)
	r.json(t, &st)
	if st.Status != model.RegFailed || st.ErrorCode != model.ErrHubNotSpecified {
		t.Fatalf("%s", r.body)
	}
	// Unlinking sticks: reopening does not bring the default hub back.
	dir := e.inst.DataDir()
	e.inst.Close()
	inst, err := Open(Options{DataDir: dir, Hubs: []string{"hub-b.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	hubs, _ = inst.LinkedHubs(ctx)
	if len(hubs) != 1 || hubs[0].HostName != "hub-b.example.test" || !strings.HasPrefix(hubs[0].ConnectionString, "HostName=hub-b.example.test;SharedAccessKeyName=iothubowner;SharedAccessKey=") {
		t.Fatalf("hubs after reopen %+v", hubs)
	}
}

func TestHubAcceptsAssignedDevice(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollments/talker", map[string]any{"registrationId": "talker", "attestation": symKeys(keyA, keyB)})
	op := d.provision("talker", d.symToken("talker", keyA), nil)
	hub, id := op.RegistrationState.AssignedHub, op.RegistrationState.DeviceID
	for _, key := range []string{keyA, keyB} {
		mustHub(t, d.sendMessage(id, hubToken(t, hub, id, key)), 204)
	}
	// HTTPS calls count as activity; the connection state is IoT Hub's
	// for MQTT and AMQP only, so it stays Disconnected.
	dev := e.hubDevice(hub, id)
	if dev.ConnectionState != store.ConnectionDisconnected || dev.DeviceToCloudMessageCount != 2 || dev.LastActivityTime == "" || dev.ConnectionStateUpdatedTime == "" {
		t.Fatalf("after messages: %+v", dev)
	}
	bad := []struct{ name, auth string }{
		{"wrong key", hubToken(t, hub, id, keyC)},
		{"wrong hub", hubToken(t, "other.example.test", id, keyA)},
		{"other device", hubToken(t, hub, "nobody", keyA)},
		{"with policy name", deviceSAS(t, keyA, hub+"/devices/"+id, "iothubowner", time.Now().Add(time.Hour))},
		{"expired", deviceSAS(t, keyA, hub+"/devices/"+id, "", time.Now().Add(-time.Hour))},
		{"none", ""},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) { mustHub(t, d.sendMessage(id, b.auth), 401) })
	}
	// Raw sr and the C2D poll.
	mustHub(t, d.sendMessage(id, deviceSAS(t, keyA, hub+"/devices/"+id, "", time.Now().Add(time.Hour))), 204)
	mustHub(t, d.must(http.MethodGet, "/devices/"+id+"/messages/deviceBound?api-version=2020-09-30", nil, hubToken(t, hub, id, keyA)), 204)
	mustHub(t, d.must(http.MethodGet, "/devices/"+id+"/messages/events?api-version=2020-09-30", nil, hubToken(t, hub, id, keyA)), 405)
	mustHub(t, d.must(http.MethodPost, "/devices/"+id+"/messages/events", "x", hubToken(t, hub, id, keyA)), 400)
	mustHub(t, d.must(http.MethodPost, "/devices/"+id+"/twin?api-version=2020-09-30", "x", hubToken(t, hub, id, keyA)), 404)
	if dev := e.hubDevice(hub, id); dev.DeviceToCloudMessageCount != 3 {
		t.Fatalf("count %d", dev.DeviceToCloudMessageCount)
	}
}

// mustHub checks an IoT hub answer: the status, and for errors the IoT Hub
// error shape.
func mustHub(t testing.TB, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status >= 400 {
		var body struct{ Message, ExceptionMessage string }
		if err := json.Unmarshal(r.body, &body); err != nil || !strings.HasPrefix(body.Message, "ErrorCode:") || r.header.Get("iothub-errorcode") == "" {
			t.Fatalf("error body %s, headers %v", r.body, r.header)
		}
	}
}

var _ = url.QueryEscape

// TestSymmetricKeyOverTLS runs the symmetric-key cases over real HTTPS on
// loopback: individual and group, enabled and disabled, and a wrong key.
func TestSymmetricKeyOverTLS(t *testing.T) {
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e := envFor(t, inst)
	e.put("/enrollments/tls-ind", map[string]any{"registrationId": "tls-ind", "attestation": symKeys(keyA, keyB)})
	e.put("/enrollments/tls-ind-off", map[string]any{"registrationId": "tls-ind-off", "attestation": symKeys(keyA, keyB), "provisioningStatus": "disabled"})
	e.put("/enrollmentGroups/tls-grp", map[string]any{"enrollmentGroupId": "tls-grp", "attestation": symKeys(keyC, keyD)})
	e.put("/enrollmentGroups/tls-grp-off", map[string]any{"enrollmentGroupId": "tls-grp-off", "attestation": symKeys(keyB, keyA), "provisioningStatus": "disabled"})
	s := serve(t, inst)
	d := s.client(t, nil, true)
	tests := []struct {
		name, id, key, want, group string
	}{
		{"individual", "tls-ind", keyA, model.RegAssigned, ""},
		{"individual disabled", "tls-ind-off", keyB, model.RegDisabled, ""},
		{"group", "tls-g-1", deriveKey(t, keyC, "tls-g-1"), model.RegAssigned, "tls-grp"},
		{"group disabled", "tls-g-2", deriveKey(t, keyB, "tls-g-2"), model.RegDisabled, "tls-grp-off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := d.provision(tt.id, d.symToken(tt.id, tt.key), nil)
			if op.Status != tt.want || op.RegistrationState.SymmetricKey.EnrollmentGroupID != tt.group {
				t.Fatalf("%+v %+v", op, op.RegistrationState)
			}
			if tt.want == model.RegAssigned {
				rs := op.RegistrationState
				dev := e.hubDevice(rs.AssignedHub, rs.DeviceID)
				mustHub(t, d.sendMessage(rs.DeviceID, hubToken(t, rs.AssignedHub, rs.DeviceID, dev.PrimaryKey)), 204)
			}
		})
	}
	for _, id := range []string{"tls-ind", "tls-g-3"} {
		mustStatus(t, d.register(id, d.symToken(id, keyD), nil), 401, model.ErrUnauthorized)
	}
}

// TestDeviceCoreSharesTheInstance registers a device through the core of
// the device API, as a transport other than HTTPS does, and finds the
// result through the HTTPS routes: one instance, one set of records.
func TestDeviceCoreSharesTheInstance(t *testing.T) {
	e := newEnv(t)
	e.put("/enrollments/core-1", map[string]any{"registrationId": "core-1", "attestation": symKeys(keyA, keyB)})
	d := e.deviceClient()
	core := e.inst.DeviceAPI()
	cred := device.Credential{SASToken: d.symToken("core-1", keyA), NoTPM: true}
	resp, err := core.Register(t.Context(), e.inst.IDScope(), "core-1", cred, nil)
	if err != nil || resp.Status != http.StatusAccepted || resp.RetryAfter != RetryAfterSeconds {
		t.Fatalf("register: %+v %s, %v", resp, resp.Body, err)
	}
	var op model.RegistrationOperationStatus
	if err := json.Unmarshal(resp.Body, &op); err != nil {
		t.Fatal(err)
	}
	// The HTTPS poll sees the operation the core started.
	done := d.operation("core-1", op.OperationID, d.symToken("core-1", keyA))
	mustStatus(t, done, 200)
	var st model.RegistrationOperationStatus
	done.json(t, &st)
	if st.Status != model.RegAssigned || st.RegistrationState == nil || st.RegistrationState.AssignedHub == "" {
		t.Fatalf("%s", done.body)
	}
	// The service API lists its registration state.
	mustStatus(t, e.call(http.MethodGet, "/registrations/core-1", nil), 200)
	// A refusal renders as the HTTPS routes answer it.
	_, err = core.Register(t.Context(), e.inst.IDScope(), "core-1", device.Credential{SASToken: d.symToken("core-1", keyC)}, nil)
	if ans := core.ErrorResponse(err); ans.Status != http.StatusUnauthorized || !strings.Contains(string(ans.Body), `"errorCode":401002`) {
		t.Fatalf("refusal: %v → %d %s", err, ans.Status, ans.Body)
	}
}
