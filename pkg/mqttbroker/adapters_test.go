package mqttbroker

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

func TestHTTPProvisioner(t *testing.T) {
	dev := certstest.SelfSigned(t, "dev-x")
	var got *http.Request
	var gotBody string
	p := HTTPProvisioner{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"operationId":"op","status":"assigning"}`))
	})}
	tests := []struct {
		name               string
		call               func() (int, []byte, int, error)
		method, path, body string
		auth               string
		chain              bool
	}{
		{"register with SAS", func() (int, []byte, int, error) {
			return p.Register(context.Background(), "0ne1", "dev 1", Credential{SASToken: "SharedAccessSignature sr=a", RemoteAddr: "10.0.0.1:5"}, []byte(`{"registrationId":"dev 1"}`))
		}, "PUT", "/0ne1/registrations/dev%201/register", `{"registrationId":"dev 1"}`, "SharedAccessSignature sr=a", false},
		{"status with a certificate", func() (int, []byte, int, error) {
			return p.OperationStatus(context.Background(), "0ne1", "dev-x", "op/1", Credential{Chain: dev.Chain})
		}, "GET", "/0ne1/registrations/dev-x/operations/op%2F1", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, retry, err := tt.call()
			if err != nil || status != 202 || retry != 3 || string(body) != `{"operationId":"op","status":"assigning"}` {
				t.Fatalf("answer %d %s %d %v", status, body, retry, err)
			}
			if got.Method != tt.method || got.URL.EscapedPath() != tt.path || got.URL.Query().Get("api-version") != DeviceAPIVersion {
				t.Fatalf("request %s %s", got.Method, got.URL)
			}
			if gotBody != tt.body || got.Header.Get("Authorization") != tt.auth {
				t.Fatalf("body %q, Authorization %q", gotBody, got.Header.Get("Authorization"))
			}
			if tt.chain != (got.TLS != nil && len(got.TLS.PeerCertificates) == len(dev.Chain)) {
				t.Fatalf("TLS %+v", got.TLS)
			}
		})
	}
	if _, _, _, err := (HTTPProvisioner{}).Register(context.Background(), "s", "r", Credential{}, nil); err == nil {
		t.Fatal("no handler, no error")
	}
}

// registry is a linkedhub.Service with one hub's devices.
type registry struct {
	linkedhub.Service
	devices map[string]linkedhub.Device
}

func (r registry) HubDevice(_ context.Context, hub, id string) (linkedhub.Device, error) {
	d, ok := r.devices[hub+"/"+id]
	if !ok {
		return linkedhub.Device{}, linkedhub.ErrNotFound
	}
	return d, nil
}

func TestRegistryAuthenticator(t *testing.T) {
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	k1, k2 := key(), key()
	cert := certstest.SelfSigned(t, "x1")
	other := certstest.SelfSigned(t, "x2")
	reg := registry{devices: map[string]linkedhub.Device{
		"h/s1":       {DeviceID: "s1", Status: "enabled", AuthenticationType: linkedhub.AuthSAS, PrimaryKey: k1, SecondaryKey: k2},
		"h/off":      {DeviceID: "off", Status: "disabled", AuthenticationType: linkedhub.AuthSAS, PrimaryKey: k1},
		"h/x1":       {DeviceID: "x1", Status: "enabled", AuthenticationType: linkedhub.AuthSelfSigned, PrimaryThumbprint: certs.Thumbprint(cert.Cert, crypto.SHA1)},
		"h/x256":     {DeviceID: "x256", Status: "enabled", AuthenticationType: linkedhub.AuthSelfSigned, SecondaryThumbprint: certs.Thumbprint(cert.Cert, crypto.SHA256)},
		"h/ca-x":     {DeviceID: "ca-x", Status: "enabled", AuthenticationType: "certificateAuthority"},
		"other/s1":   {DeviceID: "s1", Status: "enabled", AuthenticationType: linkedhub.AuthSAS, PrimaryKey: k2},
		"h/emptykey": {DeviceID: "emptykey", Status: "enabled", AuthenticationType: linkedhub.AuthSAS},
	}}
	a := RegistryAuthenticator{Registry: reg}
	tok := func(k, sr string, exp time.Time) string {
		s, err := sas.NewToken(k, url.QueryEscape(sr), "", exp)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	later := time.Now().Add(time.Hour)
	tests := []struct {
		name, hub, id string
		cred          Credential
		want          error // nil, ErrUnknownDevice or ErrUnauthorized
	}{
		{"primary key", "h", "s1", Credential{SASToken: tok(k1, "h/devices/s1", later)}, nil},
		{"secondary key", "h", "s1", Credential{SASToken: tok(k2, "h/devices/s1", later)}, nil},
		{"wrong key", "h", "s1", Credential{SASToken: tok(key(), "h/devices/s1", later)}, ErrUnauthorized},
		{"expired", "h", "s1", Credential{SASToken: tok(k1, "h/devices/s1", time.Now().Add(-time.Hour))}, ErrUnauthorized},
		{"token for another device", "h", "s1", Credential{SASToken: tok(k1, "h/devices/s2", later)}, ErrUnauthorized},
		{"token for another hub", "h", "s1", Credential{SASToken: tok(k2, "other/devices/s1", later)}, ErrUnauthorized},
		{"not a token", "h", "s1", Credential{SASToken: "password"}, ErrUnauthorized},
		{"disabled", "h", "off", Credential{SASToken: tok(k1, "h/devices/off", later)}, ErrUnauthorized},
		{"unknown", "h", "nobody", Credential{SASToken: tok(k1, "h/devices/nobody", later)}, ErrUnknownDevice},
		{"device without keys", "h", "emptykey", Credential{SASToken: tok(k1, "h/devices/emptykey", later)}, ErrUnauthorized},
		{"sha1 thumbprint", "h", "x1", Credential{Chain: cert.Chain}, nil},
		{"sha256 thumbprint", "h", "x256", Credential{Chain: cert.Chain}, nil},
		{"other certificate", "h", "x1", Credential{Chain: other.Chain}, ErrUnauthorized},
		{"certificate for a SAS device", "h", "s1", Credential{Chain: cert.Chain}, ErrUnauthorized},
		{"SAS for a certificate device", "h", "x1", Credential{SASToken: tok(k1, "h/devices/x1", later)}, ErrUnauthorized},
		{"CA-signed devices are not served", "h", "ca-x", Credential{Chain: cert.Chain}, ErrUnauthorized},
		{"no credential", "h", "s1", Credential{}, ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.AuthenticateDevice(context.Background(), tt.hub, tt.id, tt.cred)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	expired := RegistryAuthenticator{Registry: reg, Now: func() time.Time { return time.Now().Add(10 * 365 * 24 * time.Hour) }}
	if err := expired.AuthenticateDevice(context.Background(), "h", "x1", Credential{Chain: cert.Chain}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired certificate: %v", err)
	}
}
