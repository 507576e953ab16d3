package mqttbroker

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// DeviceAPIVersion is the api-version HTTPProvisioner sends.
const DeviceAPIVersion = "2019-03-31"

// HTTPProvisioner answers DPS requests over MQTT with an HTTP handler of
// the device API (the local service's), in process: the request it builds
// is the one the device would have sent over HTTPS, with the SAS token as
// Authorization and the TLS client chain as the request's peer
// certificates.
type HTTPProvisioner struct {
	// Handler serves PUT /{idScope}/registrations/{id}/register and GET
	// /{idScope}/registrations/{id}/operations/{operationId}.
	Handler http.Handler
	// Host is the Host of the requests [localhost].
	Host string
}

// Register implements Provisioner.
func (p HTTPProvisioner) Register(ctx context.Context, idScope, regID string, cred Credential, body []byte) (int, []byte, int, error) {
	return p.do(ctx, http.MethodPut, "/"+url.PathEscape(idScope)+"/registrations/"+url.PathEscape(regID)+"/register", cred, body)
}

// OperationStatus implements Provisioner.
func (p HTTPProvisioner) OperationStatus(ctx context.Context, idScope, regID, opID string, cred Credential) (int, []byte, int, error) {
	return p.do(ctx, http.MethodGet, "/"+url.PathEscape(idScope)+"/registrations/"+url.PathEscape(regID)+"/operations/"+url.PathEscape(opID), cred, nil)
}

func (p HTTPProvisioner) do(ctx context.Context, method, path string, cred Credential, body []byte) (int, []byte, int, error) {
	if p.Handler == nil {
		return 0, nil, 0, errors.New("HTTPProvisioner has no handler")
	}
	host := p.Host
	if host == "" {
		host = "localhost"
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+host+path+"?api-version="+DeviceAPIVersion, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if cred.SASToken != "" {
		req.Header.Set("Authorization", cred.SASToken)
	}
	if len(cred.Chain) > 0 {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: cred.Chain}
	}
	if cred.RemoteAddr != "" {
		req.RemoteAddr = cred.RemoteAddr
	}
	w := &recorder{h: http.Header{}, status: http.StatusOK}
	p.Handler.ServeHTTP(w, req)
	retry := 0
	if ra := w.h.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && n > 0 {
			retry = n
		}
	}
	return w.status, w.body.Bytes(), retry, nil
}

// recorder is the response of an in-process request, bounded.
type recorder struct {
	h      http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(b) > MaxMessageSize {
		return 0, ErrTooLarge
	}
	return r.body.Write(b)
}

// RegistryAuthenticator authenticates hub devices against the device
// registries of a linkedhub.Service (the local service's): an enabled
// device, and a SAS token (sr = {hub}/devices/{id}) signed with its primary
// or secondary key, or a client certificate whose SHA-1 or SHA-256
// thumbprint is its primary or secondary thumbprint and that is valid now.
type RegistryAuthenticator struct {
	Registry linkedhub.Service
	// Now is the clock [time.Now].
	Now func() time.Time
}

// AuthenticateDevice implements DeviceAuthenticator.
func (a RegistryAuthenticator) AuthenticateDevice(ctx context.Context, hubHost, deviceID string, cred Credential) error {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	d, err := a.Registry.HubDevice(ctx, hubHost, deviceID)
	if errors.Is(err, linkedhub.ErrNotFound) {
		return fmt.Errorf("%w: %s on %s", ErrUnknownDevice, deviceID, hubHost)
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(d.Status, "enabled") && d.Status != "" {
		return fmt.Errorf("%w: %s is %s", ErrUnauthorized, deviceID, d.Status)
	}
	switch {
	case cred.SASToken != "":
		if d.AuthenticationType != linkedhub.AuthSAS {
			return fmt.Errorf("%w: %s authenticates with %s, not a SAS token", ErrUnauthorized, deviceID, d.AuthenticationType)
		}
		tok, err := sas.ParseToken(cred.SASToken)
		if err != nil {
			return fmt.Errorf("%w: the password is not a SAS token", ErrUnauthorized)
		}
		if want := hubHost + "/devices/" + deviceID; !strings.EqualFold(strings.Trim(tok.Resource, "/"), want) {
			return fmt.Errorf("%w: the token's sr %q is not %q", ErrUnauthorized, tok.Resource, want)
		}
		var last error = ErrUnauthorized
		for _, k := range []string{d.PrimaryKey, d.SecondaryKey} {
			if k == "" {
				continue
			}
			if last = tok.Verify(k, now()); last == nil {
				return nil
			}
		}
		return fmt.Errorf("%w: %v", ErrUnauthorized, last)
	case len(cred.Chain) > 0:
		if d.AuthenticationType != linkedhub.AuthSelfSigned {
			return fmt.Errorf("%w: %s authenticates with %s, not a certificate", ErrUnauthorized, deviceID, d.AuthenticationType)
		}
		leaf := cred.Chain[0]
		if t := now(); t.Before(leaf.NotBefore) || t.After(leaf.NotAfter) {
			return fmt.Errorf("%w: the certificate of %s is not valid now", ErrUnauthorized, deviceID)
		}
		for _, want := range []string{d.PrimaryThumbprint, d.SecondaryThumbprint} {
			if want == "" {
				continue
			}
			for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
				if strings.EqualFold(certs.Thumbprint(leaf, h), want) {
					return nil
				}
			}
		}
		return fmt.Errorf("%w: the certificate of %s matches none of its thumbprints", ErrUnauthorized, deviceID)
	}
	return fmt.Errorf("%w: %s sent no SAS token and no certificate", ErrUnauthorized, deviceID)
}

// InitialTwin returns, for HubOptions.InitialTwin of the hub hubHost, the
// desired and reported properties the registry holds for a device (from
// its enrollment's initial twin).
func (a RegistryAuthenticator) InitialTwin(hubHost string) func(ctx context.Context, deviceID string) (json.RawMessage, json.RawMessage, error) {
	return func(ctx context.Context, deviceID string) (json.RawMessage, json.RawMessage, error) {
		d, err := a.Registry.HubDevice(ctx, hubHost, deviceID)
		if err != nil {
			return nil, nil, err
		}
		return d.Desired, d.Reported, nil
	}
}
