package server

import (
	"slices"

	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/server/service"
)

type (
	// API names the part of the HTTP API a route belongs to; each
	// authenticates differently.
	API = httpapi.API
	// Route is one operation of the service's HTTP API.
	Route = httpapi.Route
)

// Shared access policy rights, which the service API routes require.
const (
	RightServiceConfig           = service.RightServiceConfig
	RightEnrollmentRead          = service.RightEnrollmentRead
	RightEnrollmentWrite         = service.RightEnrollmentWrite
	RightDeviceConnect           = service.RightDeviceConnect
	RightRegistrationStatusRead  = service.RightRegistrationStatusRead
	RightRegistrationStatusWrite = service.RightRegistrationStatusWrite
)

// Limits of the service API and of the JSON bodies of every API.
const (
	MaxBulkItems = service.MaxBulkItems
	MaxPageSize  = service.MaxPageSize
	MaxBodyBytes = httpapi.MaxBodyBytes
	MaxJSONDepth = httpapi.MaxJSONDepth
)

// AllRights are the rights of the owner policy.
var AllRights = service.AllRights

// APIVersions lists the api-version values the service API accepts.
var APIVersions = service.APIVersions

// The APIs of the routes.
const (
	ServiceAPI = httpapi.ServiceAPI
	DeviceAPI  = httpapi.DeviceAPI
	HubAPI     = httpapi.HubAPI
	// HubServiceAPI routes take a SAS token of a linked hub's owner
	// policy (iothubowner; sr = the hub's host name): the service side of
	// the local hubs (hubservice.go).
	HubServiceAPI = httpapi.HubServiceAPI
)

// routes is the whole HTTP API, in one table: the router dispatches by it,
// the request log names its patterns, and the security tests attack every
// entry.
var routes = []Route{
	{Name: "get enrollment", Method: "GET", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentRead},
	{Name: "put enrollment", Method: "PUT", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentWrite, Body: httpapi.BodyRequired},
	{Name: "delete enrollment", Method: "DELETE", Pattern: "/enrollments/{id}", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "enrollment attestation mechanism", Method: "POST", Pattern: "/enrollments/{id}/attestationmechanism", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "query enrollments", Method: "POST", Pattern: "/enrollments/query", API: ServiceAPI, Right: RightEnrollmentRead, Body: httpapi.BodyOptional},
	{Name: "bulk enrollments", Method: "POST", Pattern: "/enrollments", API: ServiceAPI, Right: RightEnrollmentWrite, Body: httpapi.BodyRequired},

	{Name: "get enrollment group", Method: "GET", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentRead},
	{Name: "put enrollment group", Method: "PUT", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentWrite, Body: httpapi.BodyRequired},
	{Name: "delete enrollment group", Method: "DELETE", Pattern: "/enrollmentGroups/{id}", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "enrollment group attestation mechanism", Method: "POST", Pattern: "/enrollmentGroups/{id}/attestationmechanism", API: ServiceAPI, Right: RightEnrollmentWrite},
	{Name: "query enrollment groups", Method: "POST", Pattern: "/enrollmentGroups/query", API: ServiceAPI, Right: RightEnrollmentRead, Body: httpapi.BodyOptional},
	{Name: "bulk enrollment groups", Method: "POST", Pattern: "/enrollmentGroups", API: ServiceAPI, Right: RightEnrollmentWrite, Body: httpapi.BodyRequired},

	{Name: "get registration", Method: "GET", Pattern: "/registrations/{id}", API: ServiceAPI, Right: RightRegistrationStatusRead},
	{Name: "delete registration", Method: "DELETE", Pattern: "/registrations/{id}", API: ServiceAPI, Right: RightRegistrationStatusWrite},
	{Name: "query registrations", Method: "POST", Pattern: "/registrations/{id}/query", API: ServiceAPI, Right: RightRegistrationStatusRead, Body: httpapi.BodyOptional},

	{Name: "register device", Method: "PUT", Pattern: "/{idScope}/registrations/{id}/register", API: DeviceAPI, Body: httpapi.BodyOptional},
	{Name: "operation status", Method: "GET", Pattern: "/{idScope}/registrations/{id}/operations/{operationId}", API: DeviceAPI, Body: httpapi.BodyOptional},
	{Name: "registration status lookup", Method: "POST", Pattern: "/{idScope}/registrations/{id}", API: DeviceAPI, Body: httpapi.BodyOptional},

	{Name: "device-to-cloud message", Method: "POST", Pattern: "/devices/{id}/messages/events", API: HubAPI},
	{Name: "cloud-to-device poll", Method: "GET", Pattern: "/devices/{id}/messages/deviceBound", API: HubAPI},

	{Name: "get twin", Method: "GET", Pattern: "/twins/{id}", API: HubServiceAPI},
	{Name: "update twin", Method: "PATCH", Pattern: "/twins/{id}", API: HubServiceAPI, Body: httpapi.BodyRequired},
	{Name: "invoke direct method", Method: "POST", Pattern: "/twins/{id}/methods", API: HubServiceAPI, Body: httpapi.BodyRequired},
	{Name: "send cloud-to-device message", Method: "POST", Pattern: "/local/devices/{id}/messages/cloudToDevice", API: HubServiceAPI, Body: httpapi.BodyRequired},
	{Name: "device-to-cloud event stream", Method: "GET", Pattern: "/local/events", API: HubServiceAPI},
}

// Routes returns the HTTP API's routes.
func Routes() []Route { return slices.Clone(routes) }

// matchRoute finds the route of a request. Among the routes whose pattern
// fits the path and whose method is the request's, the one with the most
// literal segments wins (POST /enrollments/query is the query, GET
// /enrollments/query reads the enrollment "query"). When patterns fit but
// no method does, allowed lists the methods that would, for a 405.
func matchRoute(method string, segs []string) (rt *Route, params map[string]string, allowed []string) {
	for i := range routes {
		r := &routes[i]
		p, ok := r.MatchPath(segs)
		if !ok {
			continue
		}
		if r.Method != method {
			if !slices.Contains(allowed, r.Method) {
				allowed = append(allowed, r.Method)
			}
			continue
		}
		if rt == nil || r.Literals() > rt.Literals() {
			rt, params = r, p
		}
	}
	if rt != nil {
		allowed = nil
	}
	return rt, params, allowed
}
