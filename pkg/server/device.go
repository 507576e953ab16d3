package server

// The device registration API:
//
//	PUT  /{idScope}/registrations/{id}/register                  register (always 202)
//	GET  /{idScope}/registrations/{id}/operations/{operationId}   operation status
//	POST /{idScope}/registrations/{id}                            status lookup
//
// Decisions where the service's behaviour is not documented:
//
//   - Assignment runs inside the register call: the answer is still 202
//     "assigning" (the C# SDK accepts nothing else), and the first poll
//     finds the operation finished. Retry-After is 1 second.
//   - The operation record is the registration record (one per
//     registration ID, in the store): a poll for an older operation of the
//     same device answers 404 once the device registered again.
//   - An unknown ID scope answers 401 (401002), as an unknown device does.
//   - A refused authentication answers the same 401 whatever the reason
//     (and whether or not the registration ID is enrolled); the reason
//     goes to the server log only.
//   - The body is read after the token or client certificate is verified;
//     only a TPM device's first call, which has neither, is read first.
//   - api-version must be present; any date-shaped value is accepted.
//   - A device authenticates every poll and status lookup again, with the
//     credential it registered with (the SAS key that verified, the TPM
//     challenge or hub key, or the certificate's thumbprint); a status
//     lookup also accepts a fresh full authentication.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
	"github.com/dpsctl/dpsctl/pkg/server/internal/groupcommit"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// RetryAfterSeconds is the Retry-After the device API sends with 202.
const RetryAfterSeconds = 1

// deviceAPI serves the device registration API of one instance.
type deviceAPI struct {
	h       *handler
	idScope string
	creds   *credentialCache
	hubs    *snapshotCache[hubSnapshot]
	webhook *http.Client
	writes  *groupcommit.Batcher
	// runs implements the device API routes, by Route.Name.
	runs map[string]deviceFunc
}

// deviceRequest is a routed device API call.
type deviceRequest struct {
	r     *http.Request
	regID string // as in the path
	opID  string
	body  model.DeviceRegistration // valid once read is set (see readBody)
	read  bool
}

var apiVersionShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[a-z]+)?$`)

// deviceFunc runs a routed device API operation.
type deviceFunc func(context.Context, http.ResponseWriter, *deviceRequest) error

// bindRoutes returns the implementation of each device API route of the
// table.
func (d *deviceAPI) bindRoutes() map[string]deviceFunc {
	return map[string]deviceFunc{
		"register device":            d.register,
		"operation status":           d.operationStatus,
		"registration status lookup": d.statusLookup,
	}
}

// ServeRoute serves a device API request routed by the table (rt is nil
// when no route fits).
func (d *deviceAPI) ServeRoute(w http.ResponseWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) {
	start := time.Now()
	err := d.serve(w, r, rt, params, allowed)
	if err != nil {
		httpapi.Fail(w, r, err, d.h.log, d.h.now())
	}
	if d.h.log.Enabled(r.Context(), slog.LevelDebug) {
		msg := ""
		if err != nil {
			msg = httpapi.LogDetail(err)
		}
		d.h.log.Debug("device API request", "method", r.Method, "route", httpapi.RouteName(rt), "error", msg, "duration", time.Since(start))
	}
}

func (d *deviceAPI) serve(w http.ResponseWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			return &httpapi.MethodError{Method: r.Method, Allowed: allowed}
		}
		return httpapi.Errorf(model.ErrNotFound, "no device API operation at %s", r.URL.Path)
	}
	run := d.runs[rt.Name]
	if run == nil {
		return fmt.Errorf("route %q has no implementation", rt.Name)
	}
	if err := checkDeviceAPIVersion(r); err != nil {
		return err
	}
	if !strings.EqualFold(params["idScope"], d.idScope) {
		return httpapi.Denied("the ID scope %q is not known to this provisioning service", params["idScope"])
	}
	req := &deviceRequest{r: r, regID: params["id"], opID: params["operationId"]}
	if err := httpapi.ValidateID("registration id", req.regID); err != nil {
		return err
	}
	return run(r.Context(), w, req)
}

// readBody reads and decodes the request body, once. Operations call it
// after authentication (see authenticate for the TPM first call).
func (d *deviceAPI) readBody(req *deviceRequest) error {
	if req.read {
		return nil
	}
	req.read = true
	b, err := httpapi.ReadBody(req.r)
	if err != nil {
		return err
	}
	if len(b) > 0 {
		if err := httpapi.DecodeJSON(b, &req.body); err != nil {
			return err
		}
	}
	if id := req.body.RegistrationID; id != "" && !strings.EqualFold(id, req.regID) {
		return httpapi.BadRequest("registrationId %q in the body does not match %q in the path", id, req.regID)
	}
	return nil
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

// register authenticates the device, assigns it and answers 202 with the
// operation, which is already finished.
func (d *deviceAPI) register(ctx context.Context, w http.ResponseWriter, req *deviceRequest) error {
	att, err := d.authenticate(ctx, w, req)
	if err != nil || att == nil {
		return err // att == nil: a TPM challenge was sent
	}
	opID := newOperationID()
	if err := d.assign(ctx, req, att, opID); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	h.Set("Location", d.location(req))
	httpapi.SetHeader(h, "x-ms-request-id", httpapi.NewUUID())
	httpapi.WriteJSON(w, http.StatusAccepted, model.RegistrationOperationStatus{OperationID: opID, Status: model.RegAssigning})
	return nil
}

// location is the register URL itself, as the service sends it.
func (d *deviceAPI) location(req *deviceRequest) string {
	host := req.r.Host
	if host == "" {
		host = d.h.hostName()
	}
	return "https://" + host + "/" + d.idScope + "/registrations/" + req.regID + "/register"
}

// operationStatus answers a poll: 202 while assigning, 200 once done.
func (d *deviceAPI) operationStatus(ctx context.Context, w http.ResponseWriter, req *deviceRequest) error {
	reg, err := d.h.st.Registration(ctx, req.regID)
	if errors.Is(err, store.ErrNotFound) || err == nil && reg.OperationID != req.opID {
		// Check who asks before saying the operation does not exist.
		if _, aerr := d.authenticateAgain(ctx, req, nil); aerr != nil {
			return aerr
		}
		if err := d.readBody(req); err != nil {
			return err
		}
		return httpapi.Errorf(model.ErrNotFound, "operation %q of registration %q does not exist", req.opID, req.regID)
	}
	if err != nil {
		return err
	}
	if _, err := d.authenticateAgain(ctx, req, reg); err != nil {
		return err
	}
	if err := d.readBody(req); err != nil {
		return err
	}
	status := http.StatusOK
	if reg.Result == nil || reg.Result.Status == model.RegAssigning || reg.Result.Status == model.RegUnassigned {
		status = http.StatusAccepted
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	op := model.RegistrationOperationStatus{OperationID: reg.OperationID, Status: model.RegAssigning, RegistrationState: reg.Result}
	if reg.Result != nil {
		op.Status = reg.Result.Status
	}
	httpapi.WriteJSON(w, status, op)
	return nil
}

// statusLookup returns the device's registration result.
func (d *deviceAPI) statusLookup(ctx context.Context, w http.ResponseWriter, req *deviceRequest) error {
	reg, err := d.h.st.Registration(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		reg = nil
	}
	if _, err := d.authenticateAgain(ctx, req, reg); err != nil {
		return err
	}
	if err := d.readBody(req); err != nil {
		return err
	}
	if req.body.CSR != "" {
		return httpapi.BadRequest("csr is not accepted by the status lookup; send it with register")
	}
	if reg == nil || reg.Result == nil {
		return httpapi.Errorf(model.ErrRegistrationNotFound, "registration %q does not exist", req.regID)
	}
	res := *reg.Result
	res.IssuedCertificateChain = nil
	httpapi.WriteJSON(w, http.StatusOK, &res)
	return nil
}

// newOperationID returns an id in the service's shape:
// <digit>.<16 hex>.<uuid>.
func newOperationID() string {
	var b [8]byte
	rand.Read(b[:])
	return "5." + hex.EncodeToString(b[:]) + "." + httpapi.NewUUID()
}

// deviceTime renders a time for registration records.
func deviceTime(t time.Time) string { return model.FormatTime(t) }

// b64 encodes bytes in standard base64.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// describeDevice names a device for messages.
func describeDevice(id string) string { return fmt.Sprintf("registration %q", id) }

// Operations names the routes the device API implements.
func (d *deviceAPI) Operations() []string { return slices.Sorted(maps.Keys(d.runs)) }
