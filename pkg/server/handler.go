package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// APIVersions lists the api-version values the service API accepts.
var APIVersions = []string{
	"2018-04-01",
	"2018-11-01",
	"2019-03-31",
	"2021-06-01",
	"2021-10-01",
	"2021-11-01-preview",
	"2025-07-01-preview",
}

// Shared access policy rights.
const (
	RightServiceConfig           = "ServiceConfig"
	RightEnrollmentRead          = "EnrollmentRead"
	RightEnrollmentWrite         = "EnrollmentWrite"
	RightDeviceConnect           = "DeviceConnect"
	RightRegistrationStatusRead  = "RegistrationStatusRead"
	RightRegistrationStatusWrite = "RegistrationStatusWrite"
)

// AllRights are the rights of the owner policy.
var AllRights = []string{
	RightServiceConfig, RightEnrollmentRead, RightEnrollmentWrite,
	RightDeviceConnect, RightRegistrationStatusRead, RightRegistrationStatusWrite,
}

// handler is the HTTP API of one instance. A JSON request body, on any
// route, must be valid UTF-8 and nest objects and arrays at most
// MaxJSONDepth (64) levels deep; it is refused with 400 before it is
// decoded or stored otherwise. Bodies are at most MaxBodyBytes.
type handler struct {
	st       *store.Store
	log      *slog.Logger
	now      func() time.Time
	hostName func() string
	policies *policyCache
	// device serves the device registration API (/{idScope}/registrations/…)
	// and hub the local IoT hubs (/devices/…).
	device *deviceAPI
	hub    *hubAPI

	enrollments *kind[model.IndividualEnrollment, *model.IndividualEnrollment]
	groups      *kind[model.EnrollmentGroup, *model.EnrollmentGroup]
	// ops implements the service API routes, by Route.Name.
	ops map[string]serviceFunc
}

// request is a routed service API call.
type request struct {
	r    *http.Request
	id   string // decoded path id, if the route has one
	body []byte
}

// serviceFunc runs a routed service API operation, once the request is
// authorized and its body (if the route takes one) read.
type serviceFunc func(ctx context.Context, w http.ResponseWriter, req *request) error

// bindServiceRoutes returns the implementation of each service API route
// of the table.
func (h *handler) bindServiceRoutes() map[string]serviceFunc {
	return map[string]serviceFunc{
		"get enrollment":                         h.enrollments.runGet,
		"put enrollment":                         h.enrollments.runPut,
		"delete enrollment":                      h.enrollments.runDelete,
		"enrollment attestation mechanism":       h.enrollments.runAttestation,
		"query enrollments":                      h.enrollments.runQuery,
		"bulk enrollments":                       h.enrollments.runBulk,
		"get enrollment group":                   h.groups.runGet,
		"put enrollment group":                   h.groups.runPut,
		"delete enrollment group":                h.groups.runDelete,
		"enrollment group attestation mechanism": h.groups.runAttestation,
		"query enrollment groups":                h.groups.runQuery,
		"bulk enrollment groups":                 h.groups.runBulk,
		"get registration":                       h.runGetRegistration,
		"delete registration":                    h.runDeleteRegistration,
		"query registrations":                    h.runQueryRegistrations,
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := httpapi.NewStatusWriter(w, r)
	var segs []string
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			h.log.Error("panic while serving a request", "method", r.Method, "route", routePattern(r.Method, segs), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			httpapi.WriteError(sw, httpapi.Errorf(model.ErrInternal, "internal error"), h.now())
		}
		h.logRequest(sw, r, segs, start)
		if v == http.ErrAbortHandler {
			panic(v)
		}
	}()
	segs, err := splitPath(r.URL)
	if err != nil {
		httpapi.Fail(sw, r, err, h.log, h.now())
		return
	}
	rt, params, allowed := matchRoute(r.Method, segs)
	switch apiOf(rt, segs, allowed) {
	case DeviceAPI:
		if h.device != nil {
			h.device.serveRoute(sw, r, rt, params, allowed)
			return
		}
	case HubAPI:
		if h.hub != nil {
			h.hub.serveRoute(sw, r, rt, params, allowed)
			return
		}
	}
	if err := h.serveRoute(sw, r, rt, params, allowed); err != nil {
		httpapi.Fail(sw, r, err, h.log, h.now())
	}
}

// apiOf names the API whose answers a request gets: its route's, else
// (no route) the API whose paths it looks like.
func apiOf(rt *Route, segs []string, allowed []string) API {
	switch {
	case rt != nil:
		return rt.API
	case len(allowed) > 0:
		if other, _, _ := matchRoute(allowed[0], segs); other != nil {
			return other.API
		}
	case isDeviceAPI(segs):
		return DeviceAPI
	case isHubAPI(segs):
		return HubAPI
	}
	return ServiceAPI
}

// serveRoute serves a service API request.
func (h *handler) serveRoute(sw *httpapi.StatusWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			return &httpapi.MethodError{Method: r.Method, Allowed: allowed}
		}
		return httpapi.Errorf(model.ErrNotFound, "no service API operation at %s", r.URL.Path)
	}
	run := h.ops[rt.Name]
	if run == nil {
		return fmt.Errorf("route %q has no implementation", rt.Name)
	}
	if rt.Right == RightEnrollmentWrite && h.device != nil {
		// Enrollments or groups may have changed: the device API reloads
		// its group index. Only a write that succeeded does this (before
		// its answer goes out): refused writes cost nothing to the
		// devices registering meanwhile.
		sw.OnSuccess = h.device.creds.invalidate
	}
	return h.serve(sw, rt, run, &request{r: r, id: params["id"]})
}

// serve runs the checks every operation shares, then the operation.
func (h *handler) serve(w http.ResponseWriter, rt *Route, run serviceFunc, req *request) error {
	r := req.r
	if err := checkAPIVersion(r.URL); err != nil {
		return err
	}
	if err := h.authorize(r, rt.Right); err != nil {
		return err
	}
	if rt.Body != httpapi.BodyIgnored {
		b, err := httpapi.ReadBody(r)
		if err != nil {
			return err
		}
		if rt.Body == httpapi.BodyRequired && len(bytes.TrimSpace(b)) == 0 {
			return httpapi.BadRequest("the request body is empty; a JSON object is required")
		}
		req.body = b
	}
	return run(r.Context(), w, req)
}

// splitPath returns the decoded, non-empty-trimmed path segments. A
// trailing slash is ignored; empty segments inside the path are kept (so
// "/enrollments//x" routes with an empty id and fails validation).
func splitPath(u *url.URL) ([]string, error) {
	p := strings.Trim(u.EscapedPath(), "/")
	if p == "" {
		return nil, nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, httpapi.BadRequest("the request path is not URL-encoded correctly")
		}
		parts[i] = d
	}
	return parts, nil
}

// isDeviceAPI reports whether the path is /{idScope}/registrations/… (the
// device registration API).
func isDeviceAPI(segs []string) bool {
	return len(segs) >= 3 && strings.EqualFold(segs[1], "registrations") && !strings.EqualFold(segs[0], "registrations")
}

// checkAPIVersion requires a known api-version query parameter.
func checkAPIVersion(u *url.URL) error {
	var v string
	found := false
	for k, vs := range u.Query() {
		if strings.EqualFold(k, "api-version") && len(vs) > 0 {
			v, found = vs[0], true
			break
		}
	}
	if !found || v == "" {
		return httpapi.BadRequest("the api-version query parameter is required (for example api-version=%s)", model.APIVersion)
	}
	for _, known := range APIVersions {
		if v == known {
			return nil
		}
	}
	return httpapi.BadRequest("api-version %q is not supported; supported versions: %s", v, strings.Join(APIVersions, ", "))
}
