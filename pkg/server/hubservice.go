package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// The service side of the local IoT hubs, over HTTPS: device twins and
// direct methods in the shapes of IoT Hub's service REST API
// (api-version 2021-04-12), and two local endpoints where IoT Hub uses
// AMQP: sending a cloud-to-device message, and the stream of
// device-to-cloud messages (JSON lines). Every call is authorized by a
// SAS token of the hub's owner policy (iothubowner): its sr names the
// hub, whose key must have signed it. The state is the in-memory hub of
// the instance (Instance.Hub), which devices reach over MQTT.

// Limits of the hub service API.
const (
	// MaxEventStream bounds one event stream request; a monitor
	// reconnects for more.
	MaxEventStream = time.Hour
	// maxConnectTimeout bounds connectTimeoutInSeconds of a direct
	// method: how long to wait for the device to come online.
	maxConnectTimeout = 300 * time.Second
)

// hubService serves HubServiceAPI.
type hubService struct {
	inst *Instance
	log  *slog.Logger
	now  func() time.Time
	runs map[string]func(ctx context.Context, w http.ResponseWriter, r *http.Request, hub *mqttbroker.Hub, id string) error
}

func newHubService(i *Instance) *hubService {
	s := &hubService{inst: i, log: i.log, now: i.now}
	s.runs = map[string]func(context.Context, http.ResponseWriter, *http.Request, *mqttbroker.Hub, string) error{
		"get twin":                     s.getTwin,
		"update twin":                  s.updateTwin,
		"invoke direct method":         s.invokeMethod,
		"send cloud-to-device message": s.sendC2D,
		"device-to-cloud event stream": s.events,
	}
	return s
}

func (s *hubService) Operations() []string { return slices.Sorted(maps.Keys(s.runs)) }

// svcError is an error answer in IoT Hub's shape.
type svcError struct {
	status int
	code   string
	msg    string
}

func (e *svcError) Error() string { return e.code + ": " + e.msg }

func svcErr(status int, code, format string, args ...any) *svcError {
	return &svcError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *hubService) ServeRoute(w http.ResponseWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) {
	err := s.serve(w, r, rt, params, allowed)
	if err == nil {
		return
	}
	httpapi.NoteError(w, err)
	httpapi.CloseIfBodyUnread(w, r)
	var se *svcError
	if !errors.As(err, &se) {
		if ae, ok := httpapi.AsError(err); ok {
			se = &svcError{status: ae.Status(), code: "ArgumentInvalid", msg: ae.Msg}
		} else {
			s.log.Error("internal error", "method", r.Method, "route", httpapi.RouteName(rt), "err", err)
			se = &svcError{status: http.StatusInternalServerError, code: "ServerError", msg: "internal error"}
		}
	}
	body, _ := json.Marshal(map[string]string{
		"Message":          "ErrorCode:" + se.code + ";" + se.msg,
		"ExceptionMessage": "Tracking ID:" + httpapi.NewUUID() + "-TimeStamp:" + s.now().UTC().Format("01/02/2006 15:04:05"),
	})
	h := w.Header()
	h.Set("Content-Type", httpapi.ContentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	httpapi.SetHeader(h, "iothub-errorcode", se.code)
	w.WriteHeader(se.status)
	w.Write(body)
}

func (s *hubService) serve(w http.ResponseWriter, r *http.Request, rt *Route, params map[string]string, allowed []string) error {
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return svcErr(http.StatusMethodNotAllowed, "MethodNotAllowed", "use %s", strings.Join(allowed, " or "))
		}
		return svcErr(http.StatusNotFound, "NotFound", "no IoT hub operation at this path")
	}
	if r.URL.Query().Get("api-version") == "" {
		return svcErr(http.StatusBadRequest, "InvalidProtocolVersion", "the api-version query parameter is required (for example api-version=2021-04-12)")
	}
	ctx := r.Context()
	hub, err := s.authorize(ctx, r)
	if err != nil {
		return err
	}
	id := params["id"]
	// A direct method may wait for its device to come online
	// (connectTimeoutInSeconds) before the registry is asked.
	if rt.Pattern != "/local/events" && rt.Name != "invoke direct method" {
		if err := s.checkDevice(ctx, hub, id); err != nil {
			return err
		}
	}
	return s.runs[rt.Name](ctx, w, r, hub, id)
}

// checkDevice answers 404 for a device the hub's registry does not have.
func (s *hubService) checkDevice(ctx context.Context, hub *mqttbroker.Hub, id string) error {
	if err := httpapi.ValidateID("device id", id); err != nil {
		return err
	}
	_, err := s.inst.HubDevice(ctx, hub.Host(), id)
	if errors.Is(err, linkedhub.ErrNotFound) {
		return svcErr(http.StatusNotFound, "DeviceNotFound", "device %q is not in the registry of %s", id, hub.Host())
	}
	return err
}

// authorize checks the SAS token of the hub's owner policy and returns
// the hub its sr names.
func (s *hubService) authorize(ctx context.Context, r *http.Request) (*mqttbroker.Hub, error) {
	hdr := strings.TrimSpace(r.Header.Get("Authorization"))
	if hdr == "" {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the Authorization header with a SAS token of the hub's iothubowner policy is required")
	}
	tok, err := sas.ParseToken(hdr)
	if err != nil {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the Authorization header is not a valid SharedAccessSignature token")
	}
	sr := strings.Trim(tok.Resource, "/")
	if d, err := url.QueryUnescape(sr); err == nil {
		sr = d
	}
	host := httpapi.StripPort(strings.TrimPrefix(strings.TrimPrefix(sr, "https://"), "http://"))
	if strings.Contains(host, "/") {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the SAS token's sr must be the hub's host name")
	}
	linked, err := s.inst.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	var lh *linkedhub.Hub
	for i := range linked {
		if strings.EqualFold(linked[i].HostName, host) {
			lh = &linked[i]
		}
	}
	if lh == nil {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the SAS token's sr names no linked hub")
	}
	cs, err := sas.ParseConnectionString(lh.ConnectionString)
	if err != nil || cs.Key == "" {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "hub %s has no owner key of its own", lh.HostName)
	}
	if !strings.EqualFold(tok.KeyName, cs.KeyName) {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the SAS token's skn must be the hub's %s policy", cs.KeyName)
	}
	if _, err := httpapi.VerifyKeys(tok, s.now(), cs.Key); err != nil {
		return nil, svcErr(http.StatusUnauthorized, "IotHubUnauthorizedAccess", "the SAS token is not valid: %v", err)
	}
	return s.inst.Hub(ctx, lh.HostName)
}

// twinView is a twin in the shape of IoT Hub's service API.
type twinView struct {
	DeviceID   string                    `json:"deviceId"`
	ETag       string                    `json:"etag"`
	Version    int64                     `json:"version"`
	Status     string                    `json:"status"`
	Connection string                    `json:"connectionState"`
	Properties mqttbroker.TwinProperties `json:"properties"`
}

func (s *hubService) twin(hub *mqttbroker.Hub, id string) (twinView, error) {
	t, err := hub.Twin(id)
	if err != nil {
		return twinView{}, hubStateError(err)
	}
	dv, _ := t.Properties.Desired["$version"].(int64)
	rv, _ := t.Properties.Reported["$version"].(int64)
	conn := "Disconnected"
	if hub.Online(id) {
		conn = "Connected"
	}
	return twinView{DeviceID: id, ETag: "\"" + strconv.FormatInt(dv, 10) + "-" + strconv.FormatInt(rv, 10) + "\"",
		Version: dv + rv, Status: "enabled", Connection: conn, Properties: t.Properties}, nil
}

func (s *hubService) getTwin(_ context.Context, w http.ResponseWriter, _ *http.Request, hub *mqttbroker.Hub, id string) error {
	t, err := s.twin(hub, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (s *hubService) updateTwin(_ context.Context, w http.ResponseWriter, r *http.Request, hub *mqttbroker.Hub, id string) error {
	b, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	var patch struct {
		Properties *struct {
			Desired json.RawMessage `json:"desired"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &patch); err != nil {
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", "the body is not a twin patch: %v", err)
	}
	if patch.Properties == nil || len(patch.Properties.Desired) == 0 {
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", `the patch must set properties.desired ({"properties":{"desired":{…}}}); tags are not kept by the local hub`)
	}
	if _, err := hub.UpdateDesired(id, patch.Properties.Desired); err != nil {
		return hubStateError(err)
	}
	return s.getTwin(r.Context(), w, r, hub, id)
}

func (s *hubService) invokeMethod(ctx context.Context, w http.ResponseWriter, r *http.Request, hub *mqttbroker.Hub, id string) error {
	b, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		MethodName      string          `json:"methodName"`
		Payload         json.RawMessage `json:"payload"`
		ResponseTimeout *int            `json:"responseTimeoutInSeconds"`
		ConnectTimeout  *int            `json:"connectTimeoutInSeconds"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", "the body is not a direct method call: %v", err)
	}
	if req.MethodName == "" {
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", "methodName is required")
	}
	var timeout time.Duration
	if req.ResponseTimeout != nil {
		if *req.ResponseTimeout < 5 || *req.ResponseTimeout > 300 {
			return svcErr(http.StatusBadRequest, "ArgumentInvalid", "responseTimeoutInSeconds must be 5 to 300, not %d", *req.ResponseTimeout)
		}
		timeout = time.Duration(*req.ResponseTimeout) * time.Second
	}
	if req.ConnectTimeout != nil {
		ct := time.Duration(*req.ConnectTimeout) * time.Second
		if ct < 0 || ct > maxConnectTimeout {
			return svcErr(http.StatusBadRequest, "ArgumentInvalid", "connectTimeoutInSeconds must be 0 to 300, not %d", *req.ConnectTimeout)
		}
		if err := waitOnline(ctx, hub, id, ct); err != nil {
			return err
		}
	}
	if err := s.checkDevice(ctx, hub, id); err != nil {
		return err
	}
	res, err := hub.InvokeMethod(ctx, id, req.MethodName, req.Payload, timeout)
	if err != nil {
		return hubStateError(err)
	}
	if len(res.Payload) == 0 {
		res.Payload = json.RawMessage("null")
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

// waitOnline waits up to d for the device to be connected and subscribed
// to methods, as IoT Hub's connectTimeoutInSeconds; polled, bounded.
func waitOnline(ctx context.Context, hub *mqttbroker.Hub, id string, d time.Duration) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !hub.AnswersMethods(id) {
		select {
		case <-ctx.Done():
			return svcErr(http.StatusServiceUnavailable, "ServiceUnavailable", "the call ended while waiting for the device to connect")
		case <-deadline.C:
			return nil // InvokeMethod answers 404103
		case <-tick.C:
		}
	}
	return nil
}

// c2dRequest is the body of a cloud-to-device send.
type c2dRequest struct {
	Payload       string            `json:"payload"`
	MessageID     string            `json:"messageId"`
	CorrelationID string            `json:"correlationId"`
	ContentType   string            `json:"contentType"`
	Properties    map[string]string `json:"properties"`
}

func (s *hubService) sendC2D(_ context.Context, w http.ResponseWriter, r *http.Request, hub *mqttbroker.Hub, id string) error {
	b, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	var req c2dRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", "the body is not a cloud-to-device message: %v", err)
	}
	m := mqttbroker.C2DMessage{MessageID: req.MessageID, CorrelationID: req.CorrelationID, ContentType: req.ContentType, Payload: []byte(req.Payload)}
	for _, k := range slices.Sorted(maps.Keys(req.Properties)) {
		m.Properties = append(m.Properties, topics.Property{Key: k, Value: req.Properties[k]})
	}
	mid, err := hub.SendC2D(id, m)
	if err != nil {
		return hubStateError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"messageId": mid, "pending": hub.PendingC2D(id)})
	return nil
}

// events streams device-to-cloud messages as JSON lines: the kept ones
// enqueued at or after since (RFC 3339), then live ones, for
// timeoutSeconds (at most MaxEventStream); deviceId limits it to one
// device.
func (s *hubService) events(ctx context.Context, w http.ResponseWriter, r *http.Request, hub *mqttbroker.Hub, _ string) error {
	q := r.URL.Query()
	opts := mqttbroker.StreamOptions{DeviceID: q.Get("deviceId")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return svcErr(http.StatusBadRequest, "ArgumentInvalid", "since %q is not an RFC 3339 time", v)
		}
		opts.Since = t
	}
	d := MaxEventStream
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || time.Duration(n)*time.Second > MaxEventStream {
			return svcErr(http.StatusBadRequest, "ArgumentInvalid", "timeoutSeconds must be 1 to %d", int(MaxEventStream/time.Second))
		}
		d = time.Duration(n) * time.Second
	}
	st, err := hub.Subscribe(opts)
	if err != nil {
		return hubStateError(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(d + 10*time.Second))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for {
		ev, err := st.Next(ctx)
		if err != nil {
			return nil // the stream's time is up, or the client left
		}
		if err := enc.Encode(ev); err != nil {
			return nil
		}
		// Flushed once the stream has nothing more at hand: a burst goes
		// out in as few writes as the response's buffer allows, and the
		// last event of it at once.
		if st.Buffered() > 0 {
			continue
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// hubStateError answers an error of the in-memory hub as IoT Hub does.
func hubStateError(err error) error {
	switch {
	case errors.Is(err, mqttbroker.ErrDeviceNotOnline):
		return svcErr(http.StatusNotFound, "DeviceNotOnline", "the device is not online")
	case errors.Is(err, mqttbroker.ErrMethodTimeout):
		return svcErr(http.StatusGatewayTimeout, "GatewayTimeout", "the device did not answer the direct method in time")
	case errors.Is(err, mqttbroker.ErrTooManyPending):
		return svcErr(http.StatusTooManyRequests, "ThrottlingException", "too many direct methods are waiting for the device")
	case errors.Is(err, mqttbroker.ErrQueueFull):
		return svcErr(http.StatusForbidden, "DeviceMaximumQueueDepthExceeded", "the cloud-to-device queue of the device is full")
	case errors.Is(err, mqttbroker.ErrTooLarge):
		return svcErr(http.StatusRequestEntityTooLarge, "MessageTooLarge", "%v", err)
	case errors.Is(err, mqttbroker.ErrBadPatch), errors.Is(err, mqttbroker.ErrBadMethodRequest):
		return svcErr(http.StatusBadRequest, "ArgumentInvalid", "%v", err)
	case errors.Is(err, mqttbroker.ErrTooManyStreams):
		return svcErr(http.StatusTooManyRequests, "ThrottlingException", "too many event streams are open")
	case errors.Is(err, mqttbroker.ErrTooManyDevices):
		return svcErr(http.StatusForbidden, "IotHubQuotaExceeded", "the hub keeps state for no more devices")
	}
	return err
}
