// Package device is the device registration API of the local provisioning
// service: attestation (symmetric key, X.509, TPM), allocation to a linked
// IoT hub (custom allocation webhooks included) and the registration
// records, behind a core that does not depend on the transport.
//
// # The core
//
// API.Register, API.OperationStatus and API.StatusLookup are the three
// operations of the device registration API, whatever carried them. Each
// takes the ID scope and registration ID (and operation ID) the device
// named, the Credential it presented (a SAS token, and the TLS client
// certificate chain it proved it holds) and the request body (JSON, may be
// empty), and returns the Response to send: a status code in HTTP terms,
// a JSON body and a Retry-After. A refusal is the returned error;
// API.ErrorResponse renders it as the service does (status code and DPS
// error body). The HTTPS adapter (ServeRoute, routed by pkg/server's route
// table) writes the same answers with headers; an MQTT transport maps them
// onto its topics.
//
// TPM attestation takes two calls with a challenge in between, and the
// service offers it over HTTPS only: a transport that cannot carry it
// sets Credential.NoTPM, and a TPM call then fails with ErrTPMNeedsHTTPS.
//
// # The HTTPS routes
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
//   - A failed custom allocation webhook call fails the registration with
//     one generic message; the reason goes to the server log (webhook.go).
package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/groupcommit"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// RetryAfterSeconds is the Retry-After the device API sends with 202.
const RetryAfterSeconds = 1

// Config is what the device API runs on.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
	// HostName is the service's host name (the Location of a register
	// call sent without a Host).
	HostName func() string
	// IDScope is the instance's ID scope.
	IDScope string
	// Webhook calls custom allocation webhooks: a client of WebhookClient.
	Webhook *http.Client
}

// API is the device registration API of one instance.
type API struct {
	st       *store.Store
	log      *slog.Logger
	now      func() time.Time
	hostName func() string
	idScope  string
	creds    *credentialCache
	hubs     *snapshotCache[hubSnapshot]
	webhook  *http.Client
	writes   *groupcommit.Batcher
	// runs implements the device API routes, by Route.Name.
	runs map[string]deviceFunc
}

// New returns the device API over c.Store.
func New(c Config) *API {
	st := c.Store
	d := &API{
		st:       st,
		log:      c.Log,
		now:      c.Now,
		hostName: c.HostName,
		idScope:  c.IDScope,
		creds:    newCredentialCache(st),
		hubs: &snapshotCache[hubSnapshot]{
			ttl:  credentialTTL,
			load: func(ctx context.Context) (hubSnapshot, error) { return loadHubSnapshot(ctx, st) },
		},
		webhook: c.Webhook,
		writes:  groupcommit.NewBatcher(st),
	}
	d.runs = d.bindRoutes()
	return d
}

// Invalidate drops what the API keeps in memory (linked hubs, enrollment
// groups), after a change made by another way than the device API.
func (d *API) Invalidate() {
	d.hubs.invalidate()
	d.creds.invalidate()
}

// InvalidateGroups drops the index of enrollment groups, after a write of
// enrollments or groups.
func (d *API) InvalidateGroups() { d.creds.invalidate() }

// LoadGroups loads the index of enrollment groups, unless it is in memory
// (a warm-up: registrations otherwise load it when they need it).
func (d *API) LoadGroups(ctx context.Context) error {
	_, err := d.creds.get(ctx)
	return err
}

// GroupsLoaded reports whether the index of enrollment groups is in memory.
func (d *API) GroupsLoaded() bool {
	return d.creds.cur.Load() != nil
}

// Credential is what a device presented to authenticate a call.
type Credential struct {
	// SASToken is the SharedAccessSignature token (the Authorization
	// header of HTTPS, the password of MQTT); "" for none.
	SASToken string
	// Chain is the TLS client certificate chain, leaf first, whose leaf
	// key the device proved it holds (the TLS handshake did); nil for
	// none.
	Chain []*x509.Certificate
	// NoTPM says the transport cannot carry TPM attestation (MQTT): a
	// TPM challenge or a TPM device's token is refused with
	// ErrTPMNeedsHTTPS.
	NoTPM bool
}

// ErrTPMNeedsHTTPS refuses TPM attestation on a transport that cannot
// carry it (Credential.NoTPM).
var ErrTPMNeedsHTTPS error = httpapi.BadRequest("TPM attestation is only available over HTTPS")

// Response is the answer of an operation of the core, for any transport.
type Response struct {
	// Status is the status code, in HTTP terms: 200, 202 (assigning), or
	// 401 with a TPM challenge (Challenge).
	Status int
	// Body is the JSON body: a RegistrationOperationStatus, a
	// DeviceRegistrationResult, or a TPMChallenge.
	Body []byte
	// RetryAfter is when to poll again, in seconds (0: no Retry-After).
	RetryAfter int
	// Challenge says Body is a TPM challenge (the first TPM call).
	Challenge bool
}

// ErrorResponse renders a refusal of the core (or any error) as the
// service answers it: the status code and DPS error body of an API error,
// 503 for a cancelled call, 500 for any other error (logged).
func (d *API) ErrorResponse(err error) Response {
	ae := httpapi.AnswerOf(err, d.log)
	return Response{Status: ae.Status(), Body: httpapi.ErrorBody(ae, d.now())}
}

// deviceRequest is one call of the device API, from any transport.
type deviceRequest struct {
	regID string // as the device named it
	opID  string
	cred  Credential
	// raw reads the raw body, once; the core calls it after the
	// credential is verified (see readBody).
	raw  func() ([]byte, error)
	body model.DeviceRegistration // valid once read is set (see readBody)
	read bool
}

// op is an operation of the core.
type op func(context.Context, *deviceRequest) (Response, error)

// Register authenticates the device, assigns it to a hub and answers 202
// with the operation, which is already finished; or, for a TPM device's
// first call (no token, no certificate, tpm.endorsementKey in the body),
// answers the TPM challenge (401, Challenge).
func (d *API) Register(ctx context.Context, idScope, regID string, cred Credential, body []byte) (Response, error) {
	return d.run(ctx, d.register, idScope, &deviceRequest{regID: regID, cred: cred, raw: bodyOf(body)})
}

// OperationStatus answers a poll of a register operation: 202 while
// assigning, 200 with the registration state once done.
func (d *API) OperationStatus(ctx context.Context, idScope, regID, opID string, cred Credential, body []byte) (Response, error) {
	return d.run(ctx, d.operationStatus, idScope, &deviceRequest{regID: regID, opID: opID, cred: cred, raw: bodyOf(body)})
}

// StatusLookup answers the device's registration result (200).
func (d *API) StatusLookup(ctx context.Context, idScope, regID string, cred Credential, body []byte) (Response, error) {
	return d.run(ctx, d.statusLookup, idScope, &deviceRequest{regID: regID, cred: cred, raw: bodyOf(body)})
}

// bodyOf reads a body given whole, within MaxBodyBytes as over HTTPS.
func bodyOf(b []byte) func() ([]byte, error) {
	return func() ([]byte, error) {
		if len(b) > httpapi.MaxBodyBytes {
			return nil, httpapi.Errorf(model.ErrRequestTooLarge, "the request body exceeds the limit of %d bytes", httpapi.MaxBodyBytes)
		}
		return b, nil
	}
}

// run checks what every operation shares, then runs it.
func (d *API) run(ctx context.Context, run op, idScope string, req *deviceRequest) (Response, error) {
	if !strings.EqualFold(idScope, d.idScope) {
		return Response{}, httpapi.Denied("the ID scope %q is not known to this provisioning service", idScope)
	}
	if err := httpapi.ValidateID("registration id", req.regID); err != nil {
		return Response{}, err
	}
	return run(ctx, req)
}

// readBody reads and decodes the request body, once. Operations call it
// after authentication (see authenticate for the TPM first call).
func (d *API) readBody(req *deviceRequest) error {
	if req.read {
		return nil
	}
	req.read = true
	b, err := req.raw()
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := httpapi.DecodeJSON(b, &req.body); err != nil {
			return err
		}
	}
	if id := req.body.RegistrationID; id != "" && !strings.EqualFold(id, req.regID) {
		return httpapi.BadRequest("registrationId %q in the body does not match %q in the path", id, req.regID)
	}
	return nil
}

// answer is a Response with v as its JSON body.
func answer(status int, v any) (Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{}, fmt.Errorf("%T: %w", v, err)
	}
	return Response{Status: status, Body: b}, nil
}

// register authenticates the device, assigns it and answers 202 with the
// operation, which is already finished.
func (d *API) register(ctx context.Context, req *deviceRequest) (Response, error) {
	att, challenge, err := d.authenticate(ctx, req)
	if err != nil || att == nil {
		return challenge, err // att == nil: a TPM challenge
	}
	opID := newOperationID()
	if err := d.assign(ctx, req, att, opID); err != nil {
		return Response{}, err
	}
	resp, err := answer(http.StatusAccepted, model.RegistrationOperationStatus{OperationID: opID, Status: model.RegAssigning})
	resp.RetryAfter = RetryAfterSeconds
	return resp, err
}

// operationStatus answers a poll: 202 while assigning, 200 once done.
func (d *API) operationStatus(ctx context.Context, req *deviceRequest) (Response, error) {
	reg, err := d.st.Registration(ctx, req.regID)
	if errors.Is(err, store.ErrNotFound) || err == nil && reg.OperationID != req.opID {
		// Check who asks before saying the operation does not exist.
		if _, aerr := d.authenticateAgain(ctx, req, nil); aerr != nil {
			return Response{}, aerr
		}
		if err := d.readBody(req); err != nil {
			return Response{}, err
		}
		return Response{}, httpapi.Errorf(model.ErrNotFound, "operation %q of registration %q does not exist", req.opID, req.regID)
	}
	if err != nil {
		return Response{}, err
	}
	if _, err := d.authenticateAgain(ctx, req, reg); err != nil {
		return Response{}, err
	}
	if err := d.readBody(req); err != nil {
		return Response{}, err
	}
	status, retry := http.StatusOK, 0
	if reg.Result == nil || reg.Result.Status == model.RegAssigning || reg.Result.Status == model.RegUnassigned {
		status, retry = http.StatusAccepted, RetryAfterSeconds
	}
	op := model.RegistrationOperationStatus{OperationID: reg.OperationID, Status: model.RegAssigning, RegistrationState: reg.Result}
	if reg.Result != nil {
		op.Status = reg.Result.Status
	}
	resp, err := answer(status, op)
	resp.RetryAfter = retry
	return resp, err
}

// statusLookup returns the device's registration result.
func (d *API) statusLookup(ctx context.Context, req *deviceRequest) (Response, error) {
	reg, err := d.st.Registration(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Response{}, err
	}
	if errors.Is(err, store.ErrNotFound) {
		reg = nil
	}
	if _, err := d.authenticateAgain(ctx, req, reg); err != nil {
		return Response{}, err
	}
	if err := d.readBody(req); err != nil {
		return Response{}, err
	}
	if req.body.CSR != "" {
		return Response{}, httpapi.BadRequest("csr is not accepted by the status lookup; send it with register")
	}
	if reg == nil || reg.Result == nil {
		return Response{}, httpapi.Errorf(model.ErrRegistrationNotFound, "registration %q does not exist", req.regID)
	}
	res := *reg.Result
	res.IssuedCertificateChain = nil
	return answer(http.StatusOK, &res)
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
