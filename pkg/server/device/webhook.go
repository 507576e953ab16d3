package device

// Custom allocation: the service POSTs an AllocationRequest to the
// enrollment's webhook URL (as given, query string included) and waits up
// to WebhookTimeout for an AllocationResponse. Its iotHubHostName must be
// one of the linkedHubs sent (the candidates); its initialTwin replaces
// the enrollment's where an initial twin applies, and its payload goes back
// to the device. Any failure (unreachable, timeout, non-2xx, bad JSON, a
// hub that is not a candidate) fails the registration with 400208.
//
// Whoever may write enrollments chooses the URL, so the webhook must not
// serve to probe the network the service sees:
//
//   - The reason of a failed call (the host, the status, the dial error)
//     goes to the server log only; the registration says "custom
//     allocation webhook failed", the same for every failure, so that it
//     does not tell a closed port from an open one or a web server from
//     another. Only a webhook that answered an AllocationResponse naming
//     a hub that is not a candidate gets a specific message.
//   - Redirects are not followed: a 3xx answer is a failure.
//   - Config.WebhookAllow (serve --webhook-allow) restricts the
//     destinations: a call may go to a host named in the list (exactly,
//     or under a "*." suffix), or to an address in one of its CIDR
//     ranges or IP addresses. Addresses are checked as the connection is
//     dialled, after name resolution, so a host name that resolves (or
//     re-resolves) elsewhere than it claims reaches no address outside
//     the list. With a list, the environment's HTTP proxy is not used
//     (its destination could not be checked).
//   - WebhookTimeout bounds the whole call, and maxWebhookResponse its
//     answer.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// WebhookTimeout bounds one call of a custom allocation webhook.
const WebhookTimeout = 5 * time.Second

// maxWebhookResponse bounds the webhook's answer.
const maxWebhookResponse = httpapi.MaxBodyBytes

// webhookFailed is what a device and the service API learn of a failed
// webhook call.
const webhookFailed = "custom allocation webhook failed"

// webhookAllow is a parsed Options.WebhookAllow.
type webhookAllow struct {
	nets  []netip.Prefix
	hosts []string // lower case, without a trailing dot; "*.x" matches below x
}

// CheckWebhookAllow reports the first entry of a webhook destination list
// (Config.WebhookAllow) that is not a CIDR range, an IP address or a host
// name (optionally "*." and a domain).
func CheckWebhookAllow(entries []string) error {
	_, err := parseWebhookAllow(entries)
	return err
}

// parseWebhookAllow parses the list; an empty list is nil (any
// destination).
func parseWebhookAllow(entries []string) (*webhookAllow, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	a := &webhookAllow{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			a.nets = append(a.nets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			ip = ip.Unmap()
			a.nets = append(a.nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(e, "."))
		if !validAllowHost(strings.TrimPrefix(h, "*.")) {
			return nil, fmt.Errorf("webhook destination %q is not a CIDR range (10.0.0.0/8), an IP address or a host name (alloc.example.com, *.example.com)", e)
		}
		a.hosts = append(a.hosts, h)
	}
	return a, nil
}

// validAllowHost accepts a DNS name: dot-separated labels of letters,
// digits, '-' and '_'.
func validAllowHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostAllowed reports whether the URL host name host is one of the list's.
func (a *webhookAllow) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range a.hosts {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// addrAllowed reports whether ip is in one of the list's ranges.
func (a *webhookAllow) addrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// errWebhookDestination refuses a connection the list does not allow.
var errWebhookDestination = errors.New("destination not allowed by the webhook allow list")

// webhookHostAllowed is the context key of the decision on a call's host
// name, taken by webhookTransport for the dialer.
type webhookHostAllowed struct{}

// control runs as a connection is dialled, with the resolved address.
func (a *webhookAllow) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	if ok, _ := ctx.Value(webhookHostAllowed{}).(bool); ok {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !a.addrAllowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", errWebhookDestination, address)
	}
	return nil
}

// webhookTransport tells the dialer whether the host name of each call is
// on the list.
type webhookTransport struct {
	allow *webhookAllow
	base  http.RoundTripper
}

func (t *webhookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := context.WithValue(r.Context(), webhookHostAllowed{}, t.allow.hostAllowed(r.URL.Hostname()))
	return t.base.RoundTrip(r.WithContext(ctx))
}

// WebhookClient returns the client of custom allocation webhook calls:
// base (or a new client) that follows no redirect and, with an allow list,
// dials only the destinations it allows (see CheckWebhookAllow).
func WebhookClient(base *http.Client, allow []string) (*http.Client, error) {
	a, err := parseWebhookAllow(allow)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return newWebhookClient(base, a)
}

// newWebhookClient returns the client of webhook calls: base (or a new
// client) that follows no redirect and, with a list, dials only the
// destinations it allows.
func newWebhookClient(base *http.Client, allow *webhookAllow) (*http.Client, error) {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if allow == nil {
		return c, nil
	}
	var tr *http.Transport
	switch t := c.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("server: a webhook allow list needs the webhook client's Transport to be an *http.Transport, not %T", t)
	}
	tr.Proxy = nil
	tr.DialTLSContext = nil
	tr.DialContext = (&net.Dialer{Timeout: WebhookTimeout, KeepAlive: 30 * time.Second, ControlContext: allow.control}).DialContext
	c.Transport = &webhookTransport{allow: allow, base: tr}
	return c, nil
}

func (d *API) allocateCustom(ctx context.Context, req *deviceRequest, att *attestation, v enrollmentView, prev *store.Registration, cands []store.LinkedHub) (*allocation, *failure, error) {
	if v.custom == nil || v.custom.WebhookURL == "" {
		return nil, &failure{code: model.ErrHubNotSpecified, msg: "allocation policy custom needs customAllocationDefinition.webhookUrl"}, nil
	}
	areq := model.AllocationRequest{
		DeviceRuntimeContext: model.DeviceRuntimeContext{RegistrationID: req.regID, Payload: req.body.Payload},
	}
	for _, h := range cands {
		areq.LinkedHubs = append(areq.LinkedHubs, h.HostName)
	}
	if prev != nil && prev.State.Status == model.RegAssigned {
		areq.DeviceRuntimeContext.CurrentIoTHubHostName = prev.State.AssignedHub
		areq.DeviceRuntimeContext.CurrentDeviceID = prev.State.DeviceID
	}
	switch att.kind {
	case model.AttestationSymmetricKey:
		areq.DeviceRuntimeContext.SymmetricKey = &model.SymmetricKeyRegistrationResult{}
	case model.AttestationX509:
		areq.DeviceRuntimeContext.X509 = x509Info(att)
	case model.AttestationTPM:
		t := &model.TPMAttestation{EndorsementKey: b64(att.ek)}
		if len(att.srk) > 0 {
			t.StorageRootKey = b64(att.srk)
		}
		areq.DeviceRuntimeContext.TPM = t
	}
	switch {
	case att.enrollment != nil:
		e := *att.enrollment
		e.Attestation = cloneAttestation(e.Attestation)
		httpapi.StripSecrets(e.Attestation)
		e.RegistrationState = nil
		areq.IndividualEnrollment = &e
	case att.group != nil:
		g := *att.group
		g.Attestation = cloneAttestation(g.Attestation)
		httpapi.StripSecrets(g.Attestation)
		areq.EnrollmentGroup = &g
	}
	ares, err := d.callWebhook(ctx, v.custom.WebhookURL, &areq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		d.log.Error("custom allocation webhook failed", "registrationId", req.regID, "host", webhookHost(v.custom.WebhookURL), "err", err)
		return nil, &failure{code: model.ErrHubNotSpecified, msg: webhookFailed}, nil
	}
	hub, ok := FindHub(cands, ares.IoTHubHostName)
	if !ok {
		return nil, &failure{code: model.ErrHubNotSpecified, msg: fmt.Sprintf("custom allocation webhook chose IoT hub %q, which is not one of %s", ares.IoTHubHostName, strings.Join(areq.LinkedHubs, ", "))}, nil
	}
	a := &allocation{hub: hub.HostName, initialTwin: ares.InitialTwin}
	if p := bytes.TrimSpace(ares.Payload); len(p) > 0 && string(p) != "null" {
		a.payload = p
	}
	return a, nil, nil
}

// callWebhook posts the request and decodes the answer. Its error is for
// the server log: it names neither the URL's path nor its query (where a
// function key may be).
func (d *API) callWebhook(ctx context.Context, rawURL string, areq *model.AllocationRequest) (*model.AllocationResponse, error) {
	body, err := json.Marshal(areq)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("the webhook URL is not valid")
	}
	hreq.Header.Set("Content-Type", httpapi.ContentTypeJSON)
	hreq.Header.Set("Accept", "application/json")
	res, err := d.webhook.Do(hreq)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("no answer within %s", WebhookTimeout)
		}
		return nil, fmt.Errorf("call failed: %v", withoutURL(err))
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		if res.StatusCode >= 300 && res.StatusCode <= 399 {
			return nil, fmt.Errorf("answered HTTP %d (a redirect, which is not followed)", res.StatusCode)
		}
		return nil, fmt.Errorf("answered HTTP %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxWebhookResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %v", withoutURL(err))
	}
	if len(b) > maxWebhookResponse {
		return nil, fmt.Errorf("the answer exceeds %d bytes", maxWebhookResponse)
	}
	if t := bytes.TrimSpace(b); len(t) > 0 {
		if err := httpapi.CheckJSONBody(t); err != nil {
			return nil, fmt.Errorf("the answer: %s", httpapi.LogDetail(err))
		}
	}
	var ares model.AllocationResponse
	if err := json.Unmarshal(b, &ares); err != nil {
		return nil, fmt.Errorf("the answer is not an AllocationResponse: %v", err)
	}
	if ares.IoTHubHostName == "" {
		return nil, fmt.Errorf("the answer has no iotHubHostName")
	}
	if t := ares.InitialTwin; t != nil {
		if err := httpapi.ObjectField("initialTwin.tags", &t.Tags); err != nil {
			return nil, fmt.Errorf("the answer's initialTwin.tags is not an object")
		}
		if t.Properties != nil {
			if err := httpapi.ObjectField("initialTwin.properties.desired", &t.Properties.Desired); err != nil {
				return nil, fmt.Errorf("the answer's initialTwin.properties.desired is not an object")
			}
		}
	}
	return &ares, nil
}

// withoutURL drops the URL a client error quotes (its query may hold a
// function key).
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// webhookHost is the host (and port) of a webhook URL, for the log.
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	return u.Host
}

// cloneAttestation copies an attestation deeply enough for stripSecrets.
func cloneAttestation(a *model.AttestationMechanism) *model.AttestationMechanism {
	if a == nil {
		return nil
	}
	b, _ := json.Marshal(a)
	c := new(model.AttestationMechanism)
	json.Unmarshal(b, c)
	return c
}
