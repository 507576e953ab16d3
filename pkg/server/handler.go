package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/server/service"
)

// handler is the HTTP API of one instance: it routes each request by the
// route table to the API the route belongs to, and logs it. A JSON request
// body, on any route, must be valid UTF-8 and nest objects and arrays at
// most MaxJSONDepth (64) levels deep; it is refused with 400 before it is
// decoded or stored otherwise. Bodies are at most MaxBodyBytes.
type handler struct {
	log *slog.Logger
	now func() time.Time
	// service serves the service API and device the device registration
	// API (/{idScope}/registrations/…), which the instance also reaches
	// directly.
	service *service.API
	device  *device.API
	// apis serves the routes of each API of the table: those two, and the
	// local IoT hubs (/devices/…).
	apis map[API]routeServer
	// onEnrollmentWrite, if set, runs before the answer to a service API
	// write of enrollments or groups that succeeded.
	onEnrollmentWrite func()
	// mqttWebSocket, if set, serves MQTT over WebSockets
	// (MQTTWebSocketPath) and reports whether it did (false: MQTT is not
	// served, the path is no route). Outside the route table: the
	// WebSocket authenticates each device at its MQTT CONNECT, not by
	// HTTP.
	mqttWebSocket func(http.ResponseWriter, *http.Request) bool
}

// routeServer serves the routes of one API of the table.
type routeServer interface {
	// ServeRoute answers a request routed to rt, one of its routes, or to
	// none (rt nil; allowed lists the methods the path has, if any).
	ServeRoute(w http.ResponseWriter, r *http.Request, rt *Route, params map[string]string, allowed []string)
	// Operations names the routes it implements.
	Operations() []string
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
	if isMQTTWebSocket(segs) && h.mqttWebSocket != nil && h.mqttWebSocket(sw, r) {
		return
	}
	rt, params, allowed := matchRoute(r.Method, segs)
	api := h.apis[apiOf(rt, segs, allowed)]
	if rt != nil && rt.Right == RightEnrollmentWrite {
		// Enrollments or groups may have changed: the device API reloads
		// its group index. Only a write that succeeded does this (before
		// its answer goes out): refused writes cost nothing to the
		// devices registering meanwhile.
		sw.OnSuccess = h.onEnrollmentWrite
	}
	api.ServeRoute(sw, r, rt, params, allowed)
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

// isHubAPI reports whether a path is the hub's (/devices/…).
func isHubAPI(segs []string) bool {
	return len(segs) >= 1 && strings.EqualFold(segs[0], "devices")
}

// isMQTTWebSocket reports whether a path is MQTTWebSocketPath.
func isMQTTWebSocket(segs []string) bool {
	return len(segs) == 2 && strings.EqualFold(segs[0], "$iothub") && strings.EqualFold(segs[1], "websocket")
}
