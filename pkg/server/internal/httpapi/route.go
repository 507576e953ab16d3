package httpapi

import "strings"

// API names the part of the HTTP API a route belongs to; each authenticates
// differently.
type API string

const (
	// ServiceAPI routes take a SAS token of a shared access policy that
	// grants Route.Right.
	ServiceAPI API = "service"
	// DeviceAPI routes take a device's enrollment credential: a SAS token
	// signed with its symmetric key (or the key a TPM challenge gave it), or
	// a TLS client certificate.
	DeviceAPI API = "device"
	// HubAPI routes take an IoT hub device credential: a SAS token signed
	// with the device's hub key, or its TLS client certificate.
	HubAPI API = "hub"
	// HubServiceAPI routes take a SAS token of a linked IoT hub's owner
	// policy (iothubowner), whose sr is the hub's host name.
	HubServiceAPI API = "hubservice"
)

// Route is one operation of the service's HTTP API.
type Route struct {
	// Name identifies the operation (also in the request log).
	Name   string
	Method string
	// Pattern is the path. Literal segments match without regard to case;
	// a segment in braces ({id}) matches any one segment.
	Pattern string
	API     API
	// Right is the shared access policy right a ServiceAPI route requires.
	Right string
	// Body says whether the operation reads a request body.
	Body BodyMode
}

// RouteName names a route for the log ("" for none).
func RouteName(rt *Route) string {
	if rt == nil {
		return ""
	}
	return rt.Name
}

// segments returns the pattern's segments.
func (rt *Route) segments() []string { return strings.Split(strings.Trim(rt.Pattern, "/"), "/") }

// Literals counts the pattern's literal segments (its specificity).
func (rt *Route) Literals() int {
	n := 0
	for _, s := range rt.segments() {
		if !isParam(s) {
			n++
		}
	}
	return n
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// MatchPath reports whether segs fit the pattern and, if so, returns the
// parameters by name.
func (rt *Route) MatchPath(segs []string) (map[string]string, bool) {
	ps := rt.segments()
	if len(ps) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range ps {
		if isParam(p) {
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return params, true
}
