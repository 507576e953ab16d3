// Package armtest serves an Azure Resource Manager look-alike over HTTPS on
// 127.0.0.1 for tests: provisioning services (get, list, update, listKeys),
// their CA certificates through their whole lifecycle (upload, verification
// code, proof of possession checked with crypto/x509, delete, with etags)
// and IoT hubs (list, listKeys), with ARM's error bodies and request IDs,
// plus the enrollment query of a provisioning service's API checked
// against bearer tokens. Point dpsctl at it with DPSCTL_ARM_ENDPOINT=URL
// and DPSCTL_CA_FILE=CAFile.
package armtest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tokens the server treats specially: NoRoleToken is signed in but has no
// role (403), ExpiredToken has expired (401).
const (
	NoRoleToken  = "no-role"
	ExpiredToken = "expired"
)

// DPS is a provisioning service of the server.
type DPS struct {
	Name, ResourceGroup, Location string
	HostName, IDScope             string
	AllocationPolicy              string
	LinkedHubs                    []LinkedHub
	Policies                      []Policy
	Certificates                  []Certificate
	etag                          int
}

// LinkedHub is a hub linked to a DPS.
type LinkedHub struct {
	Name                  string `json:"name,omitempty"`
	ConnectionString      string `json:"connectionString"`
	Location              string `json:"location"`
	AllocationWeight      int    `json:"allocationWeight"`
	ApplyAllocationPolicy bool   `json:"applyAllocationPolicy"`
}

// Policy is a shared access policy.
type Policy struct {
	KeyName      string `json:"keyName"`
	PrimaryKey   string `json:"primaryKey"`
	SecondaryKey string `json:"secondaryKey"`
	Rights       string `json:"rights"`
}

// Certificate is a CA certificate of a DPS. One added with AddDPS needs
// no PEM (it is listed as given); one uploaded through the API carries
// its PEM and goes through the proof of possession.
type Certificate struct {
	Name, Subject, Thumbprint, Expiry string
	Verified                          bool
	// PEM is the certificate as uploaded (PEM text or DER).
	PEM []byte

	etag             int
	code             string // the verification code issued last
	created, updated time.Time
}

// Hub is an IoT hub of the subscription. A hub whose HostName is the
// server's own (Host) has its registry served too.
type Hub struct {
	Name, ResourceGroup, Location, HostName string
	Policies                                []Policy
	Devices                                 []HubDevice
}

// HubDevice is a device identity of a hub's registry, with its twin.
type HubDevice struct {
	DeviceID        string
	Status          string // enabled
	AuthType        string // sas, selfSigned
	PrimaryKey      string
	ConnectionState string
	Tags            map[string]any
}

// Server is the look-alike.
type Server struct {
	URL          string // https://127.0.0.1:port
	Host         string // 127.0.0.1:port
	CAFile       string // PEM of the server's certificate
	Subscription string

	srv      *httptest.Server
	requests atomic.Int64

	mu      sync.Mutex
	certSeq int // the last certificate etag given
	dps     []*DPS
	hubs    []*Hub
	// Seen records "METHOD path" of every request.
	seen []string
}

// Start serves on 127.0.0.1:0 and writes the CA file into dir.
func Start(dir, subscription string) (*Server, error) {
	s := &Server{Subscription: subscription}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts.Listener.Close()
	ts.Listener = l
	ts.StartTLS()
	s.srv, s.URL = ts, ts.URL
	s.Host = strings.TrimPrefix(ts.URL, "https://")
	s.CAFile = filepath.Join(dir, "armtest-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, pemBytes, 0o644); err != nil {
		ts.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddDPS adds a provisioning service.
func (s *Server) AddDPS(d DPS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dps = append(s.dps, &d)
}

// AddHub adds an IoT hub.
func (s *Server) AddHub(h Hub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hubs = append(s.hubs, &h)
}

// DPS returns a copy of the named provisioning service.
func (s *Server) DPS(name string) (DPS, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dps {
		if strings.EqualFold(d.Name, name) {
			return *d, true
		}
	}
	return DPS{}, false
}

// Seen returns "METHOD path" of every request so far.
func (s *Server) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *Server) armError(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": fmt.Sprintf(format, args...)}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	w.Header().Set("x-ms-request-id", fmt.Sprintf("00000000-0000-0000-0000-%012d", n))
	w.Header().Set("x-ms-correlation-request-id", fmt.Sprintf("11111111-0000-0000-0000-%012d", n))
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path)
	s.mu.Unlock()

	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if strings.HasPrefix(r.URL.Path, "/devices/") || strings.HasPrefix(r.URL.Path, "/twins/") {
		s.serveRegistry(w, r)
		return
	}
	dataPlane := strings.HasPrefix(r.URL.Path, "/enrollments")
	switch {
	case !ok || token == "":
		s.refuse(w, dataPlane, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return
	case token == ExpiredToken:
		s.refuse(w, dataPlane, http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
		return
	case token == NoRoleToken:
		s.refuse(w, dataPlane, http.StatusForbidden, "AuthorizationFailed", "The client does not have authorization to perform action over scope %s.", r.URL.Path)
		return
	}
	if dataPlane {
		s.serveDataPlane(w, r)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") {
		s.armError(w, http.StatusNotFound, "InvalidResourceType", "no route for %s", r.URL.Path)
		return
	}
	if parts[1] != s.Subscription {
		s.armError(w, http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", parts[1])
		return
	}
	rest := parts[2:]
	lower := make([]string, len(rest))
	for i, p := range rest {
		lower[i] = strings.ToLower(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	// /providers/Microsoft.Devices/provisioningServices
	case len(rest) == 3 && lower[0] == "providers" && lower[2] == "provisioningservices" && r.Method == http.MethodGet:
		var out []any
		for _, d := range s.dps {
			out = append(out, s.dpsJSON(d))
		}
		writeJSON(w, map[string]any{"value": out})
	// /providers/Microsoft.Devices/IotHubs
	case len(rest) == 3 && lower[0] == "providers" && lower[2] == "iothubs" && r.Method == http.MethodGet:
		var out []any
		for _, h := range s.hubs {
			out = append(out, s.hubJSON(h))
		}
		writeJSON(w, map[string]any{"value": out})
	case len(rest) >= 6 && lower[0] == "resourcegroups" && lower[2] == "providers" && lower[4] == "provisioningservices":
		s.serveDPS(w, r, rest[1], rest[5], lower[6:], rest[6:])
	case len(rest) >= 6 && lower[0] == "resourcegroups" && lower[2] == "providers" && lower[4] == "iothubs":
		s.serveHub(w, r, rest[1], rest[5], rest[6:])
	default:
		s.armError(w, http.StatusNotFound, "InvalidResourceType", "no route for %s %s", r.Method, r.URL.Path)
	}
}

func (s *Server) refuse(w http.ResponseWriter, dataPlane bool, status int, code, format string, args ...any) {
	if dataPlane {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"errorCode": status*1000 + 1, "trackingId": "tracking-1", "message": fmt.Sprintf(format, args...)})
		return
	}
	s.armError(w, status, code, format, args...)
}

// serveDataPlane answers the enrollment query of any provisioning service
// with no enrollments.
func (s *Server) serveDataPlane(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/enrollments/query" {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, []any{})
		return
	}
	w.WriteHeader(http.StatusNotFound)
}

func (s *Server) findDPS(rg, name string) *DPS {
	for _, d := range s.dps {
		if strings.EqualFold(d.Name, name) && strings.EqualFold(d.ResourceGroup, rg) {
			return d
		}
	}
	return nil
}

func (s *Server) dpsID(d *DPS) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Devices/provisioningServices/%s", s.Subscription, d.ResourceGroup, d.Name)
}

func (s *Server) dpsJSON(d *DPS) map[string]any {
	hubs := []any{}
	for _, h := range d.LinkedHubs {
		m := map[string]any{"connectionString": maskKey(h.ConnectionString), "location": h.Location, "allocationWeight": h.AllocationWeight, "applyAllocationPolicy": h.ApplyAllocationPolicy, "name": hostOf(h.ConnectionString)}
		hubs = append(hubs, m)
	}
	policy := d.AllocationPolicy
	if policy == "" {
		policy = "Hashed"
	}
	return map[string]any{
		"id": s.dpsID(d), "name": d.Name, "type": "Microsoft.Devices/provisioningServices",
		"location": d.Location, "etag": fmt.Sprintf("AAAA%04d", d.etag),
		"sku": map[string]any{"name": "S1", "tier": "Standard", "capacity": 1},
		"properties": map[string]any{
			"state": "Active", "provisioningState": "Succeeded",
			"serviceOperationsHostName":  d.HostName,
			"deviceProvisioningHostName": "global.azure-devices-provisioning.net",
			"idScope":                    d.IDScope,
			"allocationPolicy":           policy,
			"iotHubs":                    hubs,
			"authorizationPolicies":      []any{},
		},
	}
}

// maskKey hides the key of a hub connection string, as ARM does on GET.
func maskKey(cs string) string {
	parts := strings.Split(cs, ";")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "SharedAccessKey") {
			parts[i] = k + "=****"
		}
	}
	return strings.Join(parts, ";")
}

func hostOf(cs string) string {
	for _, p := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "HostName") {
			return v
		}
	}
	return ""
}

// serveDPS serves a provisioning service and what is under it: sub is
// the rest of the path in lower case, orig as sent.
func (s *Server) serveDPS(w http.ResponseWriter, r *http.Request, rg, name string, sub, orig []string) {
	d := s.findDPS(rg, name)
	if d == nil {
		s.armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Devices/provisioningServices/%s' under resource group '%s' was not found.", name, rg)
		return
	}
	switch {
	case len(sub) == 0 && r.Method == http.MethodGet:
		writeJSON(w, s.dpsJSON(d))
	case len(sub) == 0 && r.Method == http.MethodPut:
		s.putDPS(w, r, d)
	case len(sub) == 1 && sub[0] == "listkeys" && r.Method == http.MethodPost:
		writeJSON(w, map[string]any{"value": d.Policies})
	case len(sub) == 3 && sub[0] == "keys" && sub[2] == "listkeys" && r.Method == http.MethodPost:
		for _, p := range d.Policies {
			if strings.EqualFold(p.KeyName, sub[1]) {
				writeJSON(w, p)
				return
			}
		}
		s.armError(w, http.StatusNotFound, "KeyNameNotFound", "No shared access policy %q.", sub[1])
	case len(sub) == 1 && sub[0] == "certificates" && r.Method == http.MethodGet:
		out := []any{}
		for _, c := range d.Certificates {
			out = append(out, s.certJSON(d, c))
		}
		writeJSON(w, map[string]any{"value": out})
	case len(sub) >= 2 && len(sub) <= 3 && sub[0] == "certificates":
		s.serveCertificate(w, r, d, orig[1], sub[2:])
	default:
		s.armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported on %s", r.Method, r.URL.Path)
	}
}

// putDPS takes the linked hubs and the allocation policy of the body, as
// an update of the whole resource with If-Match.
func (s *Server) putDPS(w http.ResponseWriter, r *http.Request, d *DPS) {
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != fmt.Sprintf("AAAA%04d", d.etag) {
		s.armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The etag %s does not match.", m)
		return
	}
	var body struct {
		Properties struct {
			AllocationPolicy string      `json:"allocationPolicy"`
			IotHubs          []LinkedHub `json:"iotHubs"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		s.armError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: %v", err)
		return
	}
	var hubs []LinkedHub
	for _, h := range body.Properties.IotHubs {
		cs := h.ConnectionString
		if strings.Contains(cs, "SharedAccessKey=****") {
			// a hub kept as it was: ARM keeps its key
			for _, old := range d.LinkedHubs {
				if strings.EqualFold(hostOf(old.ConnectionString), hostOf(cs)) {
					cs = old.ConnectionString
				}
			}
		}
		if hostOf(cs) == "" || strings.Contains(cs, "****") {
			s.armError(w, http.StatusBadRequest, "InvalidIotHubConnectionString", "The connection string of IoT hub %q is not valid.", h.Name)
			return
		}
		h.ConnectionString = cs
		h.Name = ""
		hubs = append(hubs, h)
	}
	d.LinkedHubs = hubs
	if body.Properties.AllocationPolicy != "" {
		d.AllocationPolicy = body.Properties.AllocationPolicy
	}
	d.etag++
	writeJSON(w, s.dpsJSON(d))
}

func (s *Server) hubJSON(h *Hub) map[string]any {
	return map[string]any{
		"id":   fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Devices/IotHubs/%s", s.Subscription, h.ResourceGroup, h.Name),
		"name": h.Name, "type": "Microsoft.Devices/IotHubs", "location": h.Location,
		"sku":        map[string]any{"name": "S1", "capacity": 1},
		"properties": map[string]any{"hostName": h.HostName, "state": "Active"},
	}
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request, rg, name string, sub []string) {
	var h *Hub
	for _, x := range s.hubs {
		if strings.EqualFold(x.Name, name) && strings.EqualFold(x.ResourceGroup, rg) {
			h = x
		}
	}
	if h == nil {
		s.armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Devices/IotHubs/%s' under resource group '%s' was not found.", name, rg)
		return
	}
	switch {
	case len(sub) == 0 && r.Method == http.MethodGet:
		writeJSON(w, s.hubJSON(h))
	case len(sub) == 3 && strings.EqualFold(sub[0], "IotHubKeys") && strings.EqualFold(sub[2], "listkeys") && r.Method == http.MethodPost:
		for _, p := range h.Policies {
			if strings.EqualFold(p.KeyName, sub[1]) {
				writeJSON(w, p)
				return
			}
		}
		s.armError(w, http.StatusNotFound, "KeyNameNotFound", "No shared access policy %q on IoT hub %s.", sub[1], h.Name)
	case len(sub) == 1 && strings.EqualFold(sub[0], "listkeys") && r.Method == http.MethodPost:
		writeJSON(w, map[string]any{"value": h.Policies})
	default:
		s.armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported on %s", r.Method, r.URL.Path)
	}
}

// serveRegistry answers the registry API of the hub served here: the
// device query (all, or COUNT), a device and its twin. It takes SAS tokens
// only (their signature is not checked).
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "SharedAccessSignature ") {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"Message": "ErrorCode:IotHubUnauthorizedAccess;Unauthorized"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var hub *Hub
	for _, h := range s.hubs {
		if h.HostName == s.Host {
			hub = h
		}
	}
	if hub == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	twin := func(d HubDevice) map[string]any {
		return map[string]any{
			"deviceId": d.DeviceID, "etag": "AAAAAAAAAAE=", "deviceEtag": "NjQ=", "status": d.Status,
			"statusUpdateTime": "0001-01-01T00:00:00Z", "connectionState": d.ConnectionState,
			"lastActivityTime": "2026-01-02T03:04:05Z", "cloudToDeviceMessageCount": 0,
			"authenticationType": d.AuthType, "x509Thumbprint": map[string]any{"primaryThumbprint": nil, "secondaryThumbprint": nil},
			"version": 2, "tags": d.Tags, "capabilities": map[string]bool{"iotEdge": false},
			"properties": map[string]any{"desired": map[string]any{"$version": 1}, "reported": map[string]any{"$version": 1}},
		}
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/devices/query":
		var q struct {
			Query string `json:"query"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&q)
		if strings.Contains(strings.ToUpper(q.Query), "COUNT()") {
			writeJSON(w, []any{map[string]int{"numberOfDevices": len(hub.Devices)}})
			return
		}
		out := []any{}
		for _, d := range hub.Devices {
			out = append(out, twin(d))
		}
		writeJSON(w, out)
	case r.Method == http.MethodGet:
		kind, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		for _, d := range hub.Devices {
			if d.DeviceID != id {
				continue
			}
			if kind == "twins" {
				writeJSON(w, twin(d))
				return
			}
			writeJSON(w, map[string]any{
				"deviceId": d.DeviceID, "generationId": "638000000000000001", "etag": "NjQ=", "status": d.Status,
				"statusUpdatedTime": "0001-01-01T00:00:00Z", "connectionState": d.ConnectionState,
				"connectionStateUpdatedTime": "2026-01-02T03:04:05Z", "lastActivityTime": "2026-01-02T03:04:05Z",
				"cloudToDeviceMessageCount": 0,
				"authentication":            map[string]any{"type": d.AuthType, "symmetricKey": map[string]string{"primaryKey": d.PrimaryKey, "secondaryKey": d.PrimaryKey}, "x509Thumbprint": map[string]any{}},
				"capabilities":              map[string]bool{"iotEdge": false},
			})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]string{"Message": "ErrorCode:DeviceNotFound;" + id})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
