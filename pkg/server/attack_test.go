package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// The attack suite: every route of the table the server dispatches by,
// attacked with every kind of bad credential, over TLS on 127.0.0.1. Each
// attack must get exactly a 401 in the route's error format; a valid
// credential must get through (so a route cannot pass by refusing
// everyone).

// attackFixture is a served instance with one enrolled, registered
// symmetric-key device and one symmetric-key group.
type attackFixture struct {
	t      *testing.T
	s      *served
	dev    *devClient
	scope  string
	devKey string // dev-1's primary key (also its hub key)
	opID   string // dev-1's registration operation
	owner  store.Policy
	reader store.Policy
	config store.Policy // a policy with no data-plane right
	hub    string
	hubKey string // the hub's iothubowner key
	target string // the registration ID device credentials are made for
}

const (
	attackDevice = "dev-1"
	attackGroup  = "grp-1"
)

func newAttackFixture(t *testing.T) *attackFixture {
	t.Helper()
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	env := envFor(t, inst)
	devKey := httpapi.RandomKey(32)
	env.put("/enrollments/"+attackDevice, map[string]any{
		"registrationId": attackDevice,
		"attestation":    map[string]any{"type": "symmetricKey", "symmetricKey": map[string]string{"primaryKey": devKey, "secondaryKey": httpapi.RandomKey(32)}},
	})
	env.put("/enrollmentGroups/"+attackGroup, symGroup(attackGroup))
	ctx := context.Background()
	config := store.Policy{Name: "configonly", Rights: []string{RightServiceConfig}, PrimaryKey: httpapi.RandomKey(32), SecondaryKey: httpapi.RandomKey(32)}
	if err := inst.st.PutPolicy(ctx, config); err != nil {
		t.Fatal(err)
	}
	f := &attackFixture{t: t, s: serve(t, inst), scope: inst.IDScope(), devKey: devKey, config: config, hub: DefaultHostName, target: attackDevice}
	f.dev = f.s.client(t, nil, true)
	if f.owner, err = inst.st.Policy(ctx, OwnerPolicy); err != nil {
		t.Fatal(err)
	}
	if f.reader, err = inst.st.Policy(ctx, ReadOnlyPolicy); err != nil {
		t.Fatal(err)
	}
	op := f.dev.provision(attackDevice, f.dev.symToken(attackDevice, devKey), map[string]string{"registrationId": attackDevice})
	if op.Status != model.RegAssigned {
		t.Fatalf("fixture device not assigned: %+v", op)
	}
	f.opID = op.OperationID
	hubs, err := inst.LinkedHubs(ctx)
	if err != nil || len(hubs) == 0 {
		t.Fatalf("linked hubs %v, %v", hubs, err)
	}
	cs, err := sas.ParseConnectionString(hubs[0].ConnectionString)
	if err != nil {
		t.Fatal(err)
	}
	f.hubKey = cs.Key
	return f
}

// path fills in a route's pattern for the fixture's device (or id when
// given) and adds the api-version its API takes.
func (f *attackFixture) path(rt Route, id string) string {
	p := rt.Pattern
	if id == "" {
		id = attackDevice
		if strings.HasPrefix(strings.ToLower(p), "/enrollmentgroups/") || strings.HasPrefix(strings.ToLower(p), "/registrations/{id}/query") {
			id = attackGroup
		}
	}
	p = strings.NewReplacer("{idScope}", f.scope, "{id}", url.PathEscape(id), "{operationId}", f.opID).Replace(p)
	switch rt.API {
	case DeviceAPI:
		return p + "?api-version=2019-03-31"
	case HubAPI:
		return p + "?api-version=2020-09-30"
	case HubServiceAPI:
		// An event stream a valid credential opens ends after a second.
		return p + "?api-version=2021-04-12&timeoutSeconds=1"
	}
	return p + "?api-version=" + model.APIVersion
}

// body is a well-formed body for the route, so that only the credential
// can be wrong.
func (f *attackFixture) body(rt Route, id string) any {
	switch {
	case rt.API == HubAPI && rt.Method == http.MethodPost:
		return `{"temperature":21}`
	case rt.Name == "update twin":
		return map[string]any{"properties": map[string]any{"desired": map[string]int{"interval": 30}}}
	case rt.Name == "invoke direct method":
		return map[string]any{"methodName": "reboot", "payload": map[string]int{"delay": 1}, "responseTimeoutInSeconds": 5}
	case rt.Name == "send cloud-to-device message":
		return map[string]any{"payload": "hello"}
	case rt.API == HubServiceAPI:
		return nil
	case rt.API == DeviceAPI:
		return map[string]string{"registrationId": id}
	case rt.Body == httpapi.BodyIgnored:
		return nil
	case rt.Name == "put enrollment":
		return symEnrollment(id)
	case rt.Name == "put enrollment group":
		return symGroup(id)
	case strings.HasPrefix(rt.Name, "bulk"):
		return map[string]any{"mode": "create", "enrollments": []any{symEnrollment("bulk-1")}}
	}
	return map[string]any{"query": "*"}
}

func (f *attackFixture) sign(key, sr, skn string, expiry time.Time) string {
	tok, err := sas.NewToken(key, sr, skn, expiry)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// good returns a valid credential for the route.
func (f *attackFixture) good(rt Route) string {
	hour := time.Now().Add(time.Hour)
	switch rt.API {
	case DeviceAPI:
		return f.sign(f.devKey, f.scope+"/registrations/"+f.target, model.DeviceKeyName, hour)
	case HubAPI:
		return f.sign(f.devKey, url.QueryEscape(f.hub+"/devices/"+f.target), "", hour)
	case HubServiceAPI:
		return f.sign(f.hubKey, f.hub, hubKeyName, hour)
	}
	return f.sign(f.owner.PrimaryKey, DefaultHostName, f.owner.Name, hour)
}

// attack is one kind of bad credential: auth is the Authorization value
// ("" for none), host a Host header to send instead of the service's.
type attack struct {
	name string
	auth func(f *attackFixture, rt Route) (auth, host string)
}

var attacks = []attack{
	{"no auth", func(*attackFixture, Route) (string, string) { return "", "" }},
	{"expired", func(f *attackFixture, rt Route) (string, string) {
		past := time.Now().Add(-time.Hour)
		switch rt.API {
		case DeviceAPI:
			return f.sign(f.devKey, f.scope+"/registrations/"+f.target, model.DeviceKeyName, past), ""
		case HubAPI:
			return f.sign(f.devKey, url.QueryEscape(f.hub+"/devices/"+f.target), "", past), ""
		case HubServiceAPI:
			return f.sign(f.hubKey, f.hub, hubKeyName, past), ""
		}
		return f.sign(f.owner.PrimaryKey, DefaultHostName, f.owner.Name, past), ""
	}},
	{"wrong key", func(f *attackFixture, rt Route) (string, string) {
		hour, other := time.Now().Add(time.Hour), httpapi.RandomKey(32)
		switch rt.API {
		case DeviceAPI:
			return f.sign(other, f.scope+"/registrations/"+f.target, model.DeviceKeyName, hour), ""
		case HubAPI:
			return f.sign(other, url.QueryEscape(f.hub+"/devices/"+f.target), "", hour), ""
		case HubServiceAPI:
			return f.sign(other, f.hub, hubKeyName, hour), ""
		}
		return f.sign(other, DefaultHostName, f.owner.Name, hour), ""
	}},
	{"tampered signature", func(f *attackFixture, rt Route) (string, string) {
		return tamper(f.t, f.good(rt)), ""
	}},
	{"wrong policy right", func(f *attackFixture, rt Route) (string, string) {
		hour := time.Now().Add(time.Hour)
		switch rt.API {
		case DeviceAPI:
			// A shared access policy is no device credential, whatever its rights.
			return f.sign(f.owner.PrimaryKey, f.scope+"/registrations/"+f.target, f.owner.Name, hour), ""
		case HubAPI:
			return f.sign(f.owner.PrimaryKey, url.QueryEscape(f.hub+"/devices/"+f.target), f.owner.Name, hour), ""
		case HubServiceAPI:
			// The provisioning service's owner policy is no hub policy,
			// and a device's key is none either.
			return f.sign(f.owner.PrimaryKey, f.hub, f.owner.Name, hour), ""
		}
		p := f.config
		if rt.Right == RightEnrollmentWrite || rt.Right == RightRegistrationStatusWrite {
			p = f.reader // reads, but may not write
		}
		return f.sign(p.PrimaryKey, DefaultHostName, p.Name, hour), ""
	}},
	{"device token on service route", func(f *attackFixture, rt Route) (string, string) {
		if rt.API != ServiceAPI {
			return f.good(rt), "" // a device's own token on its route: the control
		}
		return f.sign(f.devKey, f.scope+"/registrations/"+f.target, model.DeviceKeyName, time.Now().Add(time.Hour)), ""
	}},
	{"service token on device route", func(f *attackFixture, rt Route) (string, string) {
		if rt.API == ServiceAPI {
			return f.good(rt), "" // the control
		}
		return f.sign(f.owner.PrimaryKey, DefaultHostName, f.owner.Name, time.Now().Add(time.Hour)), ""
	}},
	{"wrong sr", func(f *attackFixture, rt Route) (string, string) {
		hour := time.Now().Add(time.Hour)
		switch rt.API {
		case DeviceAPI:
			return f.sign(f.devKey, f.scope+"/registrations/other-device", model.DeviceKeyName, hour), ""
		case HubAPI:
			return f.sign(f.devKey, url.QueryEscape(f.hub+"/devices/other-device"), "", hour), ""
		case HubServiceAPI:
			// Another hub's name, signed with this hub's key.
			return f.sign(f.hubKey, "other-hub.example", hubKeyName, hour), ""
		}
		// The audience is the service, not whatever Host the caller sends.
		return f.sign(f.owner.PrimaryKey, "evil.example", f.owner.Name, hour), "evil.example"
	}},
}

// tamper changes one character of a token's signature.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	i := strings.Index(tok, "sig=")
	if i < 0 {
		t.Fatalf("no sig in %q", tok)
	}
	i += len("sig=")
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// isControl reports whether the attack sends a valid credential for this
// route (the cross-API cases on their own API).
func isControl(a attack, rt Route) bool {
	return a.name == "device token on service route" && rt.API != ServiceAPI ||
		a.name == "service token on device route" && rt.API == ServiceAPI
}

// send makes one request with the given Authorization and Host.
func (f *attackFixture) send(rt Route, id, auth, host string) resp {
	f.t.Helper()
	req, err := http.NewRequest(rt.Method, f.dev.base+f.path(rt, id), bodyReader(f.t, f.body(rt, f.bodyID(rt, id))))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if host != "" {
		req.Host = host
	}
	if rt.Method == http.MethodPut || rt.Method == http.MethodDelete {
		req.Header.Set("If-Match", "*")
	}
	res, err := f.dev.c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		f.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// bodyID is the ID a body names: the path's.
func (f *attackFixture) bodyID(rt Route, id string) string {
	if id != "" {
		return id
	}
	if rt.API == ServiceAPI && strings.Contains(strings.ToLower(rt.Pattern), "enrollmentgroups") {
		return attackGroup
	}
	return attackDevice
}

func bodyReader(t testing.TB, body any) *strings.Reader {
	switch b := body.(type) {
	case nil:
		return strings.NewReader("")
	case string:
		return strings.NewReader(b)
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReader(string(j))
}

// mustRefuse checks an attack's answer: 401 in the route's error format.
func mustRefuse(t *testing.T, rt Route, r resp) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.status, r.body)
	}
	if rt.API == HubAPI || rt.API == HubServiceAPI {
		if got := r.header.Get("iothub-errorcode"); got != "IotHubUnauthorizedAccess" {
			t.Fatalf("iothub-errorcode %q, want IotHubUnauthorizedAccess: %s", got, r.body)
		}
		return
	}
	if code := r.errorCode(t); code != model.ErrUnauthorized {
		t.Fatalf("errorCode %d, want %d: %s", code, model.ErrUnauthorized, r.body)
	}
}

func TestAttackEveryRoute(t *testing.T) {
	f := newAttackFixture(t)
	if len(Routes()) == 0 {
		t.Fatal("the server exposes no routes")
	}
	for _, rt := range Routes() {
		for _, a := range attacks {
			t.Run(rt.Name+"/"+a.name, func(t *testing.T) {
				f.t = t
				auth, host := a.auth(f, rt)
				id := ""
				if isControl(a, rt) && rt.API == ServiceAPI && rt.Method != http.MethodGet {
					// A valid write must not remove what later routes attack.
					id = "control-1"
				}
				r := f.send(rt, id, auth, host)
				if isControl(a, rt) {
					if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status >= 500 {
						t.Fatalf("a valid credential got %d: %s", r.status, r.body)
					}
					return
				}
				mustRefuse(t, rt, r)
				if strings.Contains(string(r.body), "sig=") || strings.Contains(string(r.body), f.devKey) {
					t.Fatalf("the answer echoes the credential: %s", r.body)
				}
			})
		}
	}
}

// TestAttackNothingWrittenOnRefusal checks that refused writes change
// nothing: the device and its enrollment are still there, and no bulk item
// was created.
func TestAttackNothingWrittenOnRefusal(t *testing.T) {
	f := newAttackFixture(t)
	for _, rt := range Routes() {
		if rt.API != ServiceAPI || rt.Method == http.MethodGet {
			continue
		}
		for _, a := range attacks {
			if isControl(a, rt) {
				continue
			}
			f.t = t
			auth, host := a.auth(f, rt)
			f.send(rt, "", auth, host)
		}
	}
	ctx := context.Background()
	if _, err := f.s.inst.st.Enrollment(ctx, attackDevice); err != nil {
		t.Fatalf("enrollment after refused writes: %v", err)
	}
	if _, err := f.s.inst.st.EnrollmentGroup(ctx, attackGroup); err != nil {
		t.Fatalf("group after refused writes: %v", err)
	}
	if _, err := f.s.inst.st.Enrollment(ctx, "bulk-1"); err == nil {
		t.Fatal("a refused bulk call created an enrollment")
	}
	if _, err := f.s.inst.st.Registration(ctx, attackDevice); err != nil {
		t.Fatalf("registration after refused deletes: %v", err)
	}
}

// TestAttackDeviceAnswersRevealNothing checks that a refused device call
// gets the same answer whether or not the registration ID is enrolled.
func TestAttackDeviceAnswersRevealNothing(t *testing.T) {
	f := newAttackFixture(t)
	for _, rt := range Routes() {
		if rt.API != DeviceAPI {
			continue
		}
		for _, a := range attacks {
			if isControl(a, rt) || a.name == "wrong sr" {
				continue
			}
			t.Run(rt.Name+"/"+a.name, func(t *testing.T) {
				f.t = t
				var msgs [2]string
				for i, id := range []string{attackDevice, "no-such-device"} {
					f.target = id
					auth, host := a.auth(f, rt)
					f.target = attackDevice
					r := f.send(rt, id, auth, host)
					mustRefuse(t, rt, r)
					var d model.ErrorDetails
					r.json(t, &d)
					d.TrackingID, d.TimestampUTC = "", ""
					b, _ := json.Marshal(d)
					msgs[i] = string(b)
				}
				if msgs[0] != msgs[1] {
					t.Fatalf("answers differ between an enrolled and a missing device:\n%s\n%s", msgs[0], msgs[1])
				}
			})
		}
	}
}
