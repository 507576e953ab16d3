package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
	fastjson "github.com/segmentio/encoding/json"
)

// MaxBodyBytes is the largest request body the service accepts (the DPS
// message size limit, 96 KB).
const MaxBodyBytes = 96 * 1024

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

// bodyMode says what an operation does with the request body.
type bodyMode int

const (
	bodyIgnored  bodyMode = iota // never read
	bodyOptional                 // JSON if present
	bodyRequired                 // JSON, must be present
)

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
	sw := newStatusWriter(w, r)
	var segs []string
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			h.log.Error("panic while serving a request", "method", r.Method, "route", routePattern(r.Method, segs), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeErrorBody(sw, errorf(model.ErrInternal, "internal error"), h.now())
		}
		h.logRequest(sw, r, segs, start)
		if v == http.ErrAbortHandler {
			panic(v)
		}
	}()
	segs, err := splitPath(r.URL)
	if err != nil {
		h.fail(sw, r, err)
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
		h.fail(sw, r, err)
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
func (h *handler) serveRoute(sw *statusWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			return &methodError{method: r.Method, allowed: allowed}
		}
		return errorf(model.ErrNotFound, "no service API operation at %s", r.URL.Path)
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
		sw.onSuccess = h.device.creds.invalidate
	}
	return h.serve(sw, rt, run, &request{r: r, id: params["id"]})
}

// fail answers err: its DPS error when it is an apiError, 500 otherwise.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *methodError
	if errors.As(err, &me) {
		w.Header().Set("Allow", strings.Join(me.allowed, ", "))
		err = errorf(model.ErrMethodNotAllowed, "method %s is not allowed here; use %s", me.method, strings.Join(me.allowed, " or "))
	}
	noteError(w, err)
	closeIfBodyUnread(w, r)
	ae, ok := asAPIError(err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			ae = errorf(model.ErrServiceUnavailable, "the request was cancelled")
		} else {
			h.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = errorf(model.ErrInternal, "internal error")
		}
	}
	writeErrorBody(w, ae, h.now())
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
	if rt.Body != bodyIgnored {
		b, err := readBody(r)
		if err != nil {
			return err
		}
		if rt.Body == bodyRequired && len(bytes.TrimSpace(b)) == 0 {
			return badRequest("the request body is empty; a JSON object is required")
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
			return nil, badRequest("the request path is not URL-encoded correctly")
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

// methodError becomes a 405 with an Allow header.
type methodError struct {
	method  string
	allowed []string
}

func (e *methodError) Error() string { return "method not allowed" }

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
		return badRequest("the api-version query parameter is required (for example api-version=%s)", model.APIVersion)
	}
	for _, known := range APIVersions {
		if v == known {
			return nil
		}
	}
	return badRequest("api-version %q is not supported; supported versions: %s", v, strings.Join(APIVersions, ", "))
}

// readBody reads at most MaxBodyBytes and checks the content type of a
// non-empty body.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errorf(model.ErrRequestTooLarge, "the request body is %d bytes; the limit is %d", r.ContentLength, MaxBodyBytes)
	}
	if r.Body == nil {
		return nil, nil
	}
	// The buffer grows as data arrives: the declared length is the
	// client's word, and a slow client declaring MaxBodyBytes must not
	// hold that much memory for the few bytes it sent.
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if len(b) > MaxBodyBytes {
		return nil, errorf(model.ErrRequestTooLarge, "the request body exceeds the limit of %d bytes", MaxBodyBytes)
	}
	if err != nil {
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, badRequest("could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")) {
			return nil, errorf(model.ErrUnsupportedMediaType, "content type %q is not supported; send application/json", ct)
		}
	}
	return b, nil
}

// decodeJSON decodes a JSON object body into v, with messages that name
// the offending field.
//
// Bodies are decoded where they lie, with github.com/segmentio/encoding/json:
// decoding request bodies is most of the service's own work in a bulk
// import, and that decoder takes a third of the time of encoding/json, with
// the same semantics. Its error messages are vaguer, though (no offset, no
// JSON type), so a body it refuses is decoded again by encoding/json, whose
// answer is given: a bad request costs a little more, a good one much less.
//
// Before decoding, a body that is not valid UTF-8 or nests deeper than
// MaxJSONDepth is refused (400): one pass over the bytes each, a small part
// of the cost of decoding.
func decodeJSON(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	if err := checkJSONBody(t); err != nil {
		return err
	}
	if fastjson.Unmarshal(t, v) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return decodeJSONStd(t, v)
}

// decodeJSONStd decodes the JSON object t into v with encoding/json and
// answers a body it refuses with the offending field or offset.
func decodeJSONStd(t []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return badRequest("the request body is not valid JSON (offset %d): %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return badRequest("field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is truncated JSON")
	}
	return badRequest("the request body is not valid: %v", err)
}

// parseIfMatch returns the If-Match header with one pair of surrounding
// quotes (and a weak "W/" prefix) removed; "" when absent.
func parseIfMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	return stripETagQuotes(v)
}

func stripETagQuotes(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v
}
