package server

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// TestEveryRouteIsServed checks that the table and the implementations
// agree: each route has one, and no implementation is bound to a name the
// table does not have.
func TestEveryRouteIsServed(t *testing.T) {
	e := newEnv(t)
	bound := map[API]map[string]bool{ServiceAPI: {}, DeviceAPI: {}, HubAPI: {}, HubServiceAPI: {}}
	for api, s := range e.inst.h.apis {
		for _, name := range s.Operations() {
			bound[api][name] = true
		}
	}
	seen := map[string]bool{}
	for _, rt := range Routes() {
		if seen[rt.Name] {
			t.Errorf("route name %q is used twice", rt.Name)
		}
		seen[rt.Name] = true
		if !bound[rt.API][rt.Name] {
			t.Errorf("route %q (%s %s) has no %s implementation", rt.Name, rt.Method, rt.Pattern, rt.API)
		}
		if rt.API == ServiceAPI && rt.Right == "" {
			t.Errorf("service route %q requires no right", rt.Name)
		}
		if rt.API != ServiceAPI && rt.Right != "" {
			t.Errorf("%s route %q names a policy right", rt.API, rt.Name)
		}
	}
	for api, names := range bound {
		for name := range names {
			if !seen[name] {
				t.Errorf("%s implementation %q has no route", api, name)
			}
		}
	}
}

func TestMatchRoute(t *testing.T) {
	tests := []struct {
		method, path string
		route        string   // "" for none
		params       string   // k=v,k=v
		allowed      []string // for no route
	}{
		{"GET", "/enrollments/dev-1", "get enrollment", "id=dev-1", nil},
		{"GET", "/ENROLLMENTS/dev-1", "get enrollment", "id=dev-1", nil},
		{"POST", "/enrollments/query", "query enrollments", "", nil},
		{"GET", "/enrollments/query", "get enrollment", "id=query", nil},
		{"POST", "/enrollments/dev-1", "", "", []string{"GET", "PUT", "DELETE"}},
		{"POST", "/enrollmentgroups/g/attestationmechanism", "enrollment group attestation mechanism", "id=g", nil},
		{"GET", "/enrollments/x/attestationmechanism", "", "", []string{"POST"}},
		{"POST", "/enrollments", "bulk enrollments", "", nil},
		{"GET", "/enrollments", "", "", []string{"POST"}},
		{"POST", "/registrations/grp/query", "query registrations", "id=grp", nil},
		{"DELETE", "/registrations/dev-1", "delete registration", "id=dev-1", nil},
		{"PUT", "/0ne00000001/registrations/dev-1/register", "register device", "id=dev-1,idScope=0ne00000001", nil},
		{"POST", "/0ne00000001/registrations/dev-1", "registration status lookup", "id=dev-1,idScope=0ne00000001", nil},
		{"GET", "/0ne00000001/registrations/dev-1/operations/5.ab.cd", "operation status", "id=dev-1,idScope=0ne00000001,operationId=5.ab.cd", nil},
		{"GET", "/0ne00000001/registrations/dev-1/register", "", "", []string{"PUT"}},
		{"POST", "/devices/dev-1/messages/events", "device-to-cloud message", "id=dev-1", nil},
		{"GET", "/devices/dev-1/messages/devicebound", "cloud-to-device poll", "id=dev-1", nil},
		{"GET", "/devices/dev-1/messages/events", "", "", []string{"POST"}},
		{"GET", "/nothing/here", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			segs := strings.Split(strings.Trim(tt.path, "/"), "/")
			rt, params, allowed := matchRoute(tt.method, segs)
			if got := httpapi.RouteName(rt); got != tt.route {
				t.Fatalf("route %q, want %q", got, tt.route)
			}
			var ps []string
			for k, v := range params {
				ps = append(ps, k+"="+v)
			}
			slices.Sort(ps)
			if got := strings.Join(ps, ","); got != tt.params {
				t.Errorf("params %q, want %q", got, tt.params)
			}
			slices.Sort(allowed)
			want := slices.Clone(tt.allowed)
			slices.Sort(want)
			if !slices.Equal(allowed, want) {
				t.Errorf("allowed %v, want %v", allowed, want)
			}
		})
	}
}

// TestMethodNotAllowedAnswers checks each API's 405 through the whole
// handler: the Allow header lists the route table's methods.
func TestMethodNotAllowedAnswers(t *testing.T) {
	e := newEnv(t)
	dev := e.deviceClient()
	for _, tt := range []struct{ method, path, allow string }{
		{"PATCH", "/enrollments/x?api-version=2021-10-01", "GET, PUT, DELETE"},
		{"GET", "/" + e.inst.IDScope() + "/registrations/x/register?api-version=2019-03-31", "PUT"},
		{"GET", "/devices/x/messages/events?api-version=2020-09-30", "POST"},
	} {
		r := dev.must(tt.method, tt.path, nil, "")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q: %s", tt.method, tt.path, r.status, r.header.Get("Allow"), tt.allow, r.body)
		}
	}
}

// TestSecurityDocListsEveryRoute keeps the route table of docs/security.md
// in step with the server's: the same routes, and for the service API the
// same rights.
func TestSecurityDocListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (GET|PUT|POST|PATCH|DELETE) \\| `([^`]+)` \\| (service|device|hub|hubservice) \\| ([^|]+) \\|$")
	documented := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		key := m[1] + " " + m[2]
		if _, dup := documented[key]; dup {
			t.Errorf("docs/security.md lists %s twice", key)
		}
		documented[key] = m[3] + " " + strings.TrimSpace(m[4])
	}
	for _, rt := range Routes() {
		key := rt.Method + " " + rt.Pattern
		want := string(rt.API) + " "
		switch rt.API {
		case ServiceAPI:
			want += rt.Right
		case DeviceAPI:
			want += "enrollment credential"
		case HubAPI:
			want += "hub credential"
		case HubServiceAPI:
			want += "hub owner policy"
		}
		got, ok := documented[key]
		switch {
		case !ok:
			t.Errorf("docs/security.md does not list %s", key)
		case got != want:
			t.Errorf("docs/security.md says %s takes %q; the server: %q", key, got, want)
		}
		delete(documented, key)
	}
	for key := range documented {
		t.Errorf("docs/security.md lists %s, which the server does not serve", key)
	}
}
