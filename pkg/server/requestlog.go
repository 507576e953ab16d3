package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// The request log: at slog.LevelInfo, one line per request with the
// method, the route's pattern (never the path: it holds registration IDs),
// the status, the duration and, for an error, the precise reason (the
// detail an apiError keeps for the log). Whatever the level, a response
// that could not be encoded is logged as an error.
//
// Nothing of a credential is logged: the Authorization header is not, and
// its signature is masked in a reason that happens to quote it.

// logRequest writes the request's log line(s).
func (h *handler) logRequest(sw *httpapi.StatusWriter, r *http.Request, segs []string, start time.Time) {
	ctx := r.Context()
	if sw.EncodeErr != nil {
		h.log.Error("could not encode the response", "method", r.Method, "route", routePattern(r.Method, segs), "err", sw.EncodeErr)
	}
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := sw.Code
	if status == 0 {
		status = http.StatusOK
	}
	route := routePattern(r.Method, segs)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
	}
	// The reason of a path that is no route would only quote the path.
	if sw.Err != nil && route != noRoute {
		attrs = append(attrs, slog.String("reason", maskCredential(httpapi.LogDetail(sw.Err), r.Header.Get("Authorization"))))
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// noRoute is the route of a request whose path is none of the API's.
const noRoute = "(no route)"

// routePattern names the route of a request for the log: its pattern, or
// that of a route on the same path for a method that is not allowed;
// noRoute when the path is none of the API's.
func routePattern(method string, segs []string) string {
	if len(segs) == 0 {
		return noRoute
	}
	if isMQTTWebSocket(segs) {
		return MQTTWebSocketPath
	}
	rt, _, allowed := matchRoute(method, segs)
	if rt == nil && len(allowed) > 0 {
		rt, _, _ = matchRoute(allowed[0], segs)
	}
	if rt == nil {
		return noRoute
	}
	return rt.Pattern
}

// maskCredential replaces in s what a SAS token in the Authorization
// header auth holds that is secret: its signature, and any field that is
// not name=value (a signature whose name was lost), as sent and decoded.
func maskCredential(s, auth string) string {
	if auth == "" || s == "" {
		return s
	}
	_, fields, _ := strings.Cut(strings.TrimSpace(auth), " ")
	if fields == "" {
		fields = auth
	}
	for _, f := range strings.Split(fields, "&") {
		name, value, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			value = f
		case !strings.EqualFold(strings.TrimSpace(name), "sig"):
			continue
		}
		if len(value) < 4 {
			continue // too short to be a secret, and would mask common words
		}
		s = strings.ReplaceAll(s, value, "***")
		if d, err := url.QueryUnescape(value); err == nil && d != value && len(d) >= 4 {
			s = strings.ReplaceAll(s, d, "***")
		}
	}
	return s
}
