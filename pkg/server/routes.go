package server

import (
	"slices"
	"strings"
)

// API names the part of the HTTP API a route belongs to; each authenticates
// differently.
type API string

const (
	// ServiceAPI routes take a SAS token of a shared access policy that
	// grants Route.Right.
	ServiceAPI API = "service"
	// DeviceAPI routes take a device's enrollment credential: a SAS token
	// signed with its symmetric key (or the key a TPM challenge gave it), or
	// a TLS client certificate.
	DeviceAPI API = "device"
	// HubAPI routes take an IoT hub device credential: a SAS token signed
	// with the device's hub key, or its TLS client certificate.
	HubAPI API = "hub"
)

// Route is one operation of the service's HTTP API.
type Route struct {
	// Name identifies the operation (also in the request log).
	Name   string
	Method string
	// Pattern is the path. Literal segments match without regard to case;
	// a segment in braces ({id}) matches any one segment.
	Pattern string
	API     API
	// Right is the shared access policy right a ServiceAPI route requires.
	Right string
	// Body says whether the operation reads a request body.
	Body bodyMode
}

// routes is the whole HTTP API, in one table: the router dispatches by it,
// the request log names its patterns, and the security tests attack every
// entry.
var routes = []Route{
	{Name: "get enrollment", Method: "GET", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentRead},
	{Name: "put enrollment", Method: "PUT", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentWrite, Body: bodyRequired},
	{Name: "delete enrollment", Method: "DELETE", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "enrollment attestation mechanism", Method: "POST", Pattern: "/enrollments/{id}/attestationmechanism", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "query enrollments", Method: "POST", Pattern: "/enrollments/query", API: ServiceAPI, Right: RightEnrollmentRead, Body: bodyOptional},
	{Name: "bulk enrollments", Method: "POST", Pattern: "/enrollments", API: ServiceAPI, Right: RightEnrollmentWrite, Body: bodyRequired},

	{Name: "get enrollment group", Method: "GET", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentRead},
	{Name: "put enrollment group", Method: "PUT", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentWrite, Body: bodyRequired},
	{Name: "delete enrollment group", Method: "DELETE", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "enrollment group attestation mechanism", Method: "POST", Pattern: "/enrollmentGroups/{id}/attestationmechanism", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "query enrollment groups", Method: "POST", Pattern: "/enrollmentGroups/query", API: ServiceAPI, Right: RightEnrollmentRead, Body: bodyOptional},
	{Name: "bulk enrollment groups", Method: "POST", Pattern: "/enrollmentGroups", API: ServiceAPI, Right: RightEnrollmentWrite, Body: bodyRequired},

	{Name: "get registration", Method: "GET", Pattern: "/registrations/{id}", API: ServiceAPI, Right: RightRegistrationStatusRead},
	{Name: "delete registration", Method: "DELETE", Pattern: "/registrations/{id}", API: ServiceAPI, Right: RightRegistrationStatusWrite},
	{Name: "query registrations", Method: "POST", Pattern: "/registrations/{id}/query", API: ServiceAPI, Right: RightRegistrationStatusRead, Body: bodyOptional},

	{Name: "register device", Method: "PUT", Pattern: "/{idScope}/registrations/{id}/register", API: DeviceAPI, Body: bodyOptional},
	{Name: "operation status", Method: "GET", Pattern: "/{idScope}/registrations/{id}/operations/{operationId}", API: DeviceAPI, Body: bodyOptional},
	{Name: "registration status lookup", Method: "POST", Pattern: "/{idScope}/registrations/{id}", API: DeviceAPI, Body: bodyOptional},

	{Name: "device-to-cloud message", Method: "POST", Pattern: "/devices/{id}/messages/events", API: HubAPI},
	{Name: "cloud-to-device poll", Method: "GET", Pattern: "/devices/{id}/messages/deviceBound", API: HubAPI},
}

// Routes returns the HTTP API's routes.
func Routes() []Route { return slices.Clone(routes) }

// routeName names a route for the log ("" for none).
func routeName(rt *Route) string {
	if rt == nil {
		return ""
	}
	return rt.Name
}

// segments returns the pattern's segments.
func (rt *Route) segments() []string { return strings.Split(strings.Trim(rt.Pattern, "/"), "/") }

// literals counts the pattern's literal segments (its specificity).
func (rt *Route) literals() int {
	n := 0
	for _, s := range rt.segments() {
		if !isParam(s) {
			n++
		}
	}
	return n
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// matchPath reports whether segs fit the pattern and, if so, returns the
// parameters by name.
func (rt *Route) matchPath(segs []string) (map[string]string, bool) {
	ps := rt.segments()
	if len(ps) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range ps {
		if isParam(p) {
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return params, true
}

// matchRoute finds the route of a request. Among the routes whose pattern
// fits the path and whose method is the request's, the one with the most
// literal segments wins (POST /enrollments/query is the query, GET
// /enrollments/query reads the enrollment "query"). When patterns fit but
// no method does, allowed lists the methods that would, for a 405.
func matchRoute(method string, segs []string) (rt *Route, params map[string]string, allowed []string) {
	for i := range routes {
		r := &routes[i]
		p, ok := r.matchPath(segs)
		if !ok {
			continue
		}
		if r.Method != method {
			if !slices.Contains(allowed, r.Method) {
				allowed = append(allowed, r.Method)
			}
			continue
		}
		if rt == nil || r.literals() > rt.literals() {
			rt, params = r, p
		}
	}
	if rt != nil {
		allowed = nil
	}
	return rt, params, allowed
}
