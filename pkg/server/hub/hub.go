// Package hub is the device side of the local IoT hubs, served on the
// service's own listener:
//
//	POST /devices/{id}/messages/events        device-to-cloud message (204)
//	GET  /devices/{id}/messages/deviceBound   cloud-to-device poll (204: none)
//
// The default hub, linked when the data directory is created, is named
// after the service's own host name (localhost unless --hostname says
// otherwise): names such as local-hub.azure-devices.net would not resolve,
// while the service's host name reaches this listener and its TLS
// certificate already covers it. A device therefore connects to
// https://{assignedHub}:{the service's port}. Other hubs may be linked
// under any name; they are served here too (a client has to reach this
// address for them).
//
// A device authenticates as with IoT Hub: a SAS token whose sr is
// {hub}/devices/{id} (any URL encoding, no skn) signed with its primary or
// secondary key, or a TLS client certificate whose SHA-256 or SHA-1
// thumbprint is the device's. The hub is taken from the token's sr, or for
// certificates from the Host header (falling back to the only hub that
// has the device). Errors are IoT Hub's: a JSON body with Message and
// ExceptionMessage, and an iothub-errorcode header.
package hub

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// MaxMessageBytes is the largest device-to-cloud message the hub accepts
// (IoT Hub's limit).
const MaxMessageBytes = 256 * 1024

// Config is what the hub API runs on.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
}

// API serves the device side of the local IoT hubs.
type API struct {
	st  *store.Store
	log *slog.Logger
	now func() time.Time
	// runs implements the hub routes, by Route.Name.
	runs map[string]hubFunc
}

// New returns the hub API over c.Store.
func New(c Config) *API {
	a := &API{st: c.Store, log: c.Log, now: c.Now}
	a.runs = a.bindRoutes()
	return a
}

// hubError is an IoT Hub error answer.
type hubError struct {
	status int
	code   string // e.g. IotHubUnauthorizedAccess
	msg    string
}

func (e *hubError) Error() string { return e.code + ": " + e.msg }

func hubUnauthorized(format string, args ...any) *hubError {
	return &hubError{status: http.StatusUnauthorized, code: "IotHubUnauthorizedAccess", msg: fmt.Sprintf(format, args...)}
}

// ServeRoute serves a hub request routed by the table (rt is nil when no
// route fits).
func (a *API) ServeRoute(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) {
	err := a.serve(w, r, rt, params, allowed)
	if err == nil {
		return
	}
	httpapi.NoteError(w, err)
	httpapi.CloseIfBodyUnread(w, r)
	var he *hubError
	if !errors.As(err, &he) {
		if ae, ok := httpapi.AsError(err); ok {
			he = &hubError{status: ae.Status(), code: "ArgumentInvalid", msg: ae.Msg}
		} else {
			a.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			he = &hubError{status: http.StatusInternalServerError, code: "ServerError", msg: "internal error"}
		}
	}
	now := a.now()
	body, _ := json.Marshal(map[string]string{
		"Message":          "ErrorCode:" + he.code + ";" + he.msg,
		"ExceptionMessage": "Tracking ID:" + httpapi.NewUUID() + "-TimeStamp:" + now.UTC().Format("01/02/2006 15:04:05"),
	})
	hd := w.Header()
	hd.Set("Content-Type", httpapi.ContentTypeJSON)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	httpapi.SetHeader(hd, "iothub-errorcode", he.code)
	w.WriteHeader(he.status)
	w.Write(body)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt *httpapi.Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return &hubError{status: http.StatusMethodNotAllowed, code: "MethodNotAllowed", msg: "use " + strings.Join(allowed, " or ")}
		}
		return &hubError{status: http.StatusNotFound, code: "NotFound", msg: "no IoT hub operation at " + r.URL.Path}
	}
	if r.URL.Query().Get("api-version") == "" {
		return &hubError{status: http.StatusBadRequest, code: "InvalidProtocolVersion", msg: "the api-version query parameter is required (for example api-version=2020-09-30)"}
	}
	id := params["id"]
	if id == "" {
		return &hubError{status: http.StatusNotFound, code: "NotFound", msg: "no IoT hub operation at " + r.URL.Path}
	}
	ctx := r.Context()
	dev, err := a.authenticate(ctx, r, id)
	if err != nil {
		return err
	}
	run := a.runs[rt.Name]
	if run == nil {
		return fmt.Errorf("route %q has no implementation", rt.Name)
	}
	return run(ctx, w, r, dev)
}

// hubFunc runs a routed hub operation for an authenticated device.
type hubFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, dev *store.HubDevice) error

// bindRoutes returns the implementation of each hub route of the table.
func (a *API) bindRoutes() map[string]hubFunc {
	return map[string]hubFunc{
		"device-to-cloud message": a.receive,
		"cloud-to-device poll":    a.poll,
	}
}

// poll answers a cloud-to-device poll: there are no such messages, so
// "none", and the activity is noted.
func (a *API) poll(ctx context.Context, w http.ResponseWriter, _ *http.Request, dev *store.HubDevice) error {
	if err := a.touch(ctx, dev, a.now(), 0); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// receive takes a device-to-cloud message.
func (a *API) receive(ctx context.Context, w http.ResponseWriter, r *http.Request, dev *store.HubDevice) error {
	now := a.now()
	if r.ContentLength > MaxMessageBytes {
		return &hubError{status: http.StatusRequestEntityTooLarge, code: "MessageTooLarge", msg: fmt.Sprintf("the message exceeds %d bytes", MaxMessageBytes)}
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, MaxMessageBytes+1))
	if err != nil {
		return &hubError{status: http.StatusBadRequest, code: "ArgumentInvalid", msg: "could not read the message"}
	}
	if n > MaxMessageBytes {
		return &hubError{status: http.StatusRequestEntityTooLarge, code: "MessageTooLarge", msg: fmt.Sprintf("the message exceeds %d bytes", MaxMessageBytes)}
	}
	if err := a.touch(ctx, dev, now, 1); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// touch records a device's call over HTTPS: last activity and messages.
// The connection state stays as it was: IoT Hub follows it for MQTT and
// AMQP connections only, and an HTTPS call opens none that could end.
func (a *API) touch(ctx context.Context, dev *store.HubDevice, now time.Time, messages int64) error {
	ts := model.FormatTime(now.UTC())
	return a.st.UpdateHubDevice(ctx, dev.HubHostName, dev.DeviceID, func(d *store.HubDevice) error {
		d.LastActivityTime = ts
		d.DeviceToCloudMessageCount += messages
		return nil
	})
}

// authenticate finds the device and checks its credential.
func (a *API) authenticate(ctx context.Context, r *http.Request, id string) (*store.HubDevice, error) {
	now := a.now()
	hdr := strings.TrimSpace(r.Header.Get("Authorization"))
	if hdr != "" {
		tok, err := sas.ParseToken(hdr)
		if err != nil {
			return nil, hubUnauthorized("the Authorization header is not a valid SharedAccessSignature token: %v", err)
		}
		host, path, _ := strings.Cut(strings.Trim(tok.Resource, "/"), "/")
		host = httpapi.StripPort(strings.TrimPrefix(host, "https://"))
		if !strings.EqualFold(path, "devices/"+id) {
			return nil, hubUnauthorized("the SAS token's sr %q does not name device %q", tok.Resource, id)
		}
		if tok.KeyName != "" {
			return nil, hubUnauthorized("the SAS token names the policy %q; devices sign with their own key and send no skn", tok.KeyName)
		}
		dev, err := a.st.HubDevice(ctx, host, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, hubUnauthorized("device %q is not registered in IoT hub %q", id, host)
		}
		if err != nil {
			return nil, err
		}
		if dev.AuthenticationType != store.AuthSAS {
			return nil, hubUnauthorized("device %q authenticates with an X.509 certificate, not a SAS token", id)
		}
		if _, err := httpapi.VerifyKeys(tok, now, dev.PrimaryKey, dev.SecondaryKey); err != nil {
			if errors.Is(err, sas.ErrExpired) {
				return nil, hubUnauthorized("the SAS token expired")
			}
			return nil, hubUnauthorized("the SAS token signature does not match the keys of device %q", id)
		}
		return a.enabled(dev)
	}
	chain := httpapi.PeerChain(r)
	if len(chain) == 0 {
		return nil, hubUnauthorized("no credentials: send a SAS token or a TLS client certificate")
	}
	dev, err := a.st.HubDevice(ctx, httpapi.StripPort(r.Host), id)
	if errors.Is(err, store.ErrNotFound) {
		devs, ferr := a.st.FindHubDevices(ctx, id)
		if ferr != nil {
			return nil, ferr
		}
		if len(devs) != 1 {
			return nil, hubUnauthorized("device %q is not registered in IoT hub %q", id, httpapi.StripPort(r.Host))
		}
		dev, err = devs[0], nil
	}
	if err != nil {
		return nil, err
	}
	if !certMatches(chain[0], dev) {
		return nil, hubUnauthorized("the client certificate's thumbprint is not the one registered for device %q", id)
	}
	if now.Before(chain[0].NotBefore) || now.After(chain[0].NotAfter) {
		return nil, hubUnauthorized("the client certificate is not valid at this time")
	}
	return a.enabled(dev)
}

func (a *API) enabled(dev *store.HubDevice) (*store.HubDevice, error) {
	if dev.Status == model.StatusDisabled {
		return nil, hubUnauthorized("device %q is disabled", dev.DeviceID)
	}
	return dev, nil
}

func certMatches(leaf *x509.Certificate, dev *store.HubDevice) bool {
	if dev.AuthenticationType != store.AuthSelfSigned {
		return false
	}
	s256, s1 := certs.Thumbprint(leaf, crypto.SHA256), certs.Thumbprint(leaf, crypto.SHA1)
	for _, t := range []string{dev.PrimaryThumbprint, dev.SecondaryThumbprint} {
		if t != "" && (strings.EqualFold(t, s256) || strings.EqualFold(t, s1)) {
			return true
		}
	}
	return false
}

// Operations names the routes the hub API implements.
func (a *API) Operations() []string { return slices.Sorted(maps.Keys(a.runs)) }
