// Package service is the service API of the local provisioning service:
// individual enrollments, enrollment groups and registration states, with
// their query and bulk operations, authorized by the SAS token of a shared
// access policy. pkg/server routes requests to it by its route table
// (ServeRoute, by Route.Name).
//
// The API follows the Device Provisioning Service data plane
// (api-version 2021-10-01 and the older and preview versions the SDKs send).
// Decisions where the service's behaviour is not documented:
//
//   - PUT with If-Match "*" creates a missing entity or replaces an existing
//     one; PUT with an etag on a missing entity answers 412.
//   - A PUT that leaves out symmetric keys keeps the stored keys (new
//     entities get 64-byte random keys), so a read-modify-write round trip
//     of a GET result does not rotate device keys.
//   - A PUT may send back an X.509 certificate with its info only (as GET
//     shows it); the stored certificate is kept when the SHA-256 thumbprint
//     matches.
//   - Bulk mode update is an unconditional upsert; updateIfMatchETag uses
//     each item's etag (none means unconditional); delete ignores etags.
//   - The SAS audience (sr) must name the configured host name (with or
//     without a port), whatever host the request was sent to.
package service

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/groupcommit"
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

// Config is what the service API runs on.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
	// HostName is the service's configured host name (the SAS audience).
	HostName func() string
}

// API is the service API of one instance.
type API struct {
	st       *store.Store
	log      *slog.Logger
	now      func() time.Time
	hostName func() string
	policies *policyCache

	enrollments *kind[model.IndividualEnrollment, *model.IndividualEnrollment]
	groups      *kind[model.EnrollmentGroup, *model.EnrollmentGroup]
	// ops implements the service API routes, by Route.Name.
	ops map[string]serviceFunc
}

// New returns the service API over c.Store.
func New(c Config) *API {
	h := &API{
		st:       c.Store,
		log:      c.Log,
		now:      c.Now,
		hostName: c.HostName,
		policies: &policyCache{st: c.Store},
	}
	h.enrollments = newEnrollmentKind(h)
	h.groups = newGroupKind(h)
	h.ops = h.bindServiceRoutes()
	return h
}

// Operations names the routes the API implements.
func (h *API) Operations() []string {
	names := make([]string, 0, len(h.ops))
	for name := range h.ops {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// BulkCallsInFlight reports the bulk calls of both kinds that announced
// themselves to their writer and have not queued their write yet
// (preparing), and those not finished (active): both zero when the API is
// idle.
func (h *API) BulkCallsInFlight() (preparing, active int) {
	for _, w := range []*groupcommit.BulkWriter{h.enrollments.writes, h.groups.writes} {
		p, a := w.InFlight()
		preparing += p
		active += a
	}
	return preparing, active
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
func (h *API) bindServiceRoutes() map[string]serviceFunc {
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

// ServeRoute serves a service API request routed by the table (rt is nil
// when no route fits the path; allowed then lists the methods that would).
func (h *API) ServeRoute(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) {
	if err := h.serveRoute(w, r, rt, params, allowed); err != nil {
		httpapi.Fail(w, r, err, h.log, h.now())
	}
}

func (h *API) serveRoute(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) error {
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
	return h.serve(w, rt, run, &request{r: r, id: params["id"]})
}

// serve runs the checks every operation shares, then the operation.
func (h *API) serve(w http.ResponseWriter, rt *httpapi.Route, run serviceFunc, req *request) error {
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
