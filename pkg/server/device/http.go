package device

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// The HTTPS adapter: the routes of the device API, a thin layer over the
// core that reads the credential from the Authorization header and the TLS
// connection, reads the body only when the core asks for it, and writes
// the core's Response with its headers.

var apiVersionShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[a-z]+)?$`)

// deviceFunc runs a routed device API operation: the core's, and what
// HTTPS adds to its answer.
type deviceFunc struct {
	run op
	// headers, if set, adds the headers of a successful answer.
	headers func(h http.Header, r *http.Request, req *deviceRequest)
}

// bindRoutes returns the implementation of each device API route of the
// table.
func (d *API) bindRoutes() map[string]deviceFunc {
	return map[string]deviceFunc{
		"register device":            {run: d.register, headers: d.registerHeaders},
		"operation status":           {run: d.operationStatus},
		"registration status lookup": {run: d.statusLookup},
	}
}

// Operations names the routes the device API implements.
func (d *API) Operations() []string { return slices.Sorted(maps.Keys(d.runs)) }

// ServeRoute serves a device API request routed by the table (rt is nil
// when no route fits the path; allowed then lists the methods that would).
func (d *API) ServeRoute(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) {
	start := time.Now()
	err := d.serve(w, r, rt, params, allowed)
	if err != nil {
		httpapi.Fail(w, r, err, d.log, d.now())
	}
	if d.log.Enabled(r.Context(), slog.LevelDebug) {
		msg := ""
		if err != nil {
			msg = httpapi.LogDetail(err)
		}
		d.log.Debug("device API request", "method", r.Method, "route", httpapi.RouteName(rt), "error", msg, "duration", time.Since(start))
	}
}

func (d *API) serve(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			return &httpapi.MethodError{Method: r.Method, Allowed: allowed}
		}
		return httpapi.Errorf(model.ErrNotFound, "no device API operation at %s", r.URL.Path)
	}
	f, ok := d.runs[rt.Name]
	if !ok {
		return fmt.Errorf("route %q has no implementation", rt.Name)
	}
	if err := checkDeviceAPIVersion(r); err != nil {
		return err
	}
	req := &deviceRequest{
		regID: params["id"],
		opID:  params["operationId"],
		cred:  Credential{SASToken: r.Header.Get("Authorization"), Chain: httpapi.PeerChain(r)},
		raw:   func() ([]byte, error) { return httpapi.ReadBody(r) },
	}
	resp, err := d.run(r.Context(), f.run, params["idScope"], req)
	if err != nil {
		return err
	}
	h := w.Header()
	if f.headers != nil && !resp.Challenge {
		f.headers(h, r, req)
	}
	if resp.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(resp.RetryAfter))
	}
	httpapi.WriteJSONBytes(w, resp.Status, resp.Body)
	return nil
}

// registerHeaders adds the headers of a register answer: the operation's
// Location (the register URL itself, as the service sends it) and a
// request id.
func (d *API) registerHeaders(h http.Header, r *http.Request, req *deviceRequest) {
	host := r.Host
	if host == "" {
		host = d.hostName()
	}
	h.Set("Location", "https://"+host+"/"+d.idScope+"/registrations/"+req.regID+"/register")
	httpapi.SetHeader(h, "x-ms-request-id", httpapi.NewUUID())
}

func checkDeviceAPIVersion(r *http.Request) error {
	for k, vs := range r.URL.Query() {
		if strings.EqualFold(k, "api-version") && len(vs) > 0 && vs[0] != "" {
			if !apiVersionShape.MatchString(vs[0]) {
				return httpapi.BadRequest("api-version %q is not valid (for example api-version=%s)", vs[0], model.DeviceAPIVersion)
			}
			return nil
		}
	}
	return httpapi.BadRequest("the api-version query parameter is required (for example api-version=%s)", model.DeviceAPIVersion)
}
