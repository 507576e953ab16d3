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
	hub    http.Handler

	enrollments *kind[model.IndividualEnrollment]
	groups      *kind[model.EnrollmentGroup]
	regOps      struct{ get, del, query operation }
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

// operation is one routed service API operation.
type operation struct {
	name  string
	right string
	body  bodyMode
	run   func(ctx context.Context, w http.ResponseWriter, req *request) error
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
	if err == nil && isDeviceAPI(segs) && h.device != nil {
		h.device.ServeHTTP(sw, r)
		return
	}
	if err == nil && isHubAPI(segs) && h.hub != nil {
		h.hub.ServeHTTP(sw, r)
		return
	}
	var op *operation
	var req *request
	if err == nil {
		op, req, err = h.route(r, segs)
	}
	if err == nil {
		if op.right == RightEnrollmentWrite && h.device != nil {
			// Enrollments or groups may have changed: the device API
			// reloads its group index. Only a write that succeeded
			// does this (before its answer goes out): refused writes
			// cost nothing to the devices registering meanwhile.
			sw.onSuccess = h.device.creds.invalidate
		}
		err = h.serve(sw, op, req)
	}
	if err != nil {
		h.fail(sw, r, err)
	}
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
func (h *handler) serve(w http.ResponseWriter, op *operation, req *request) error {
	r := req.r
	if err := checkAPIVersion(r.URL); err != nil {
		return err
	}
	if err := h.authorize(r, op.right); err != nil {
		return err
	}
	if op.body != bodyIgnored {
		b, err := readBody(r)
		if err != nil {
			return err
		}
		if op.body == bodyRequired && len(bytes.TrimSpace(b)) == 0 {
			return badRequest("the request body is empty; a JSON object is required")
		}
		req.body = b
	}
	return op.run(r.Context(), w, req)
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

// route maps a request to an operation. Paths match without regard to case.
func (h *handler) route(r *http.Request, segs []string) (*operation, *request, error) {
	req := &request{r: r}
	notFound := errorf(model.ErrNotFound, "no service API operation at %s", r.URL.Path)
	if len(segs) == 0 {
		return nil, nil, notFound
	}
	var allowed []string
	op := func() *operation {
		switch strings.ToLower(segs[0]) {
		case "enrollments":
			return routeKind(h.enrollments, r.Method, segs, req, &allowed)
		case "enrollmentgroups":
			return routeKind(h.groups, r.Method, segs, req, &allowed)
		case "registrations":
			return h.routeRegistrations(r.Method, segs, req, &allowed)
		}
		return nil
	}()
	if op != nil {
		return op, req, nil
	}
	if allowed != nil {
		return nil, nil, &methodError{method: r.Method, allowed: allowed}
	}
	return nil, nil, notFound
}

// methodError becomes a 405 with an Allow header.
type methodError struct {
	method  string
	allowed []string
}

func (e *methodError) Error() string { return "method not allowed" }

func routeKind[T any](k *kind[T], method string, segs []string, req *request, allowed *[]string) *operation {
	switch {
	case len(segs) == 1:
		if method == http.MethodPost {
			return k.opBulk()
		}
		*allowed = []string{http.MethodPost}
	case len(segs) == 2:
		req.id = segs[1]
		switch method {
		case http.MethodGet:
			return k.opGet()
		case http.MethodPut:
			return k.opPut()
		case http.MethodDelete:
			return k.opDelete()
		case http.MethodPost:
			if strings.EqualFold(segs[1], "query") {
				req.id = ""
				return k.opQuery()
			}
		}
		*allowed = []string{http.MethodGet, http.MethodPut, http.MethodDelete}
	case len(segs) == 3 && strings.EqualFold(segs[2], "attestationmechanism"):
		req.id = segs[1]
		if method == http.MethodPost {
			return k.opAttestation()
		}
		*allowed = []string{http.MethodPost}
	}
	return nil
}

func (h *handler) routeRegistrations(method string, segs []string, req *request, allowed *[]string) *operation {
	switch {
	case len(segs) == 2:
		req.id = segs[1]
		switch method {
		case http.MethodGet:
			return h.opGetRegistration()
		case http.MethodDelete:
			return h.opDeleteRegistration()
		}
		*allowed = []string{http.MethodGet, http.MethodDelete}
	case len(segs) == 3 && strings.EqualFold(segs[2], "query"):
		req.id = segs[1]
		if method == http.MethodPost {
			return h.opQueryRegistrations()
		}
		*allowed = []string{http.MethodPost}
	}
	return nil
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
