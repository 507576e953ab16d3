package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/throttle"
)

// throttled puts h's service API behind a quota of perMinute operations a
// minute per shared access policy (Options.Throttle), as DPS limits its
// service operations; zero leaves h as it is. Only requests signed by a
// policy (a SAS token whose signature verifies) count and can be refused,
// with 429, the DPS error body and Retry-After: the device API and callers
// the service refuses anyway are never throttled.
func (h *handler) throttled(perMinute float64) (http.Handler, error) {
	if perMinute == 0 {
		return h, nil
	}
	lim, err := throttle.NewLimiter(perMinute, 0, h.now)
	if err != nil {
		return nil, err
	}
	return throttle.Handler(h, throttle.Config{
		Limiter: lim,
		Key:     h.throttleKey,
		Reject: func(w http.ResponseWriter, r *http.Request, wait time.Duration) {
			httpapi.WriteError(w, httpapi.Errorf(model.ErrThrottled, "the service operations quota of this shared access policy (%g a minute) is spent; retry after %s seconds", perMinute, throttle.RetryAfter(wait)), h.now())
			if h.log.Enabled(r.Context(), slog.LevelInfo) {
				segs, _ := splitPath(r.URL)
				h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("route", routePattern(r.Method, segs)),
					slog.Int("status", http.StatusTooManyRequests),
					slog.String("remote", r.RemoteAddr),
					slog.String("reason", "throttled: retry after "+throttle.RetryAfter(wait)+" s"))
			}
		},
	}), nil
}

// throttleKey names the policy whose quota a service API request uses.
func (h *handler) throttleKey(r *http.Request) (string, bool) {
	segs, err := splitPath(r.URL)
	if err != nil {
		return "", false
	}
	rt, _, allowed := matchRoute(r.Method, segs)
	if rt == nil || apiOf(rt, segs, allowed) != ServiceAPI {
		return "", false
	}
	return h.service.Policy(r)
}
