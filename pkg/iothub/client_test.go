package iothub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

const devKey = "c2VjcmV0LWRldmljZS1rZXktb2YtMzItYnl0ZXMhIQ=="

type received struct {
	path, query, auth, contentType, body, cn string
	header                                   http.Header
}

// answer is what the fake hub replies.
type answer struct {
	status int
	body   string
	header map[string]string
}

type fakeHub struct {
	answer
	mu  sync.Mutex
	got []received
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc := received{path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type"), body: string(b), header: r.Header}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		rc.cn = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	h.mu.Lock()
	h.got = append(h.got, rc)
	h.mu.Unlock()
	for k, v := range h.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(h.status)
	io.WriteString(w, h.body)
}

func start(t *testing.T, h *fakeHub) (string, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return strings.TrimPrefix(srv.URL, "https://"), roots
}

func TestSend(t *testing.T) {
	dev := certstest.New(t).Device(t, "x-dev")
	cert, err := tls.LoadX509KeyPair(dev.CertPath, dev.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opts  Options
		msg   Message
		reply answer
		check func(t *testing.T, err error, got []received, host string)
	}{
		{
			name:  "SAS with the device key",
			opts:  Options{DeviceID: "dev 1", Key: devKey},
			msg:   Message{Payload: []byte(`{"temperature":21}`), MessageID: "m-1", Properties: map[string]string{"source": "test"}},
			reply: answer{status: http.StatusNoContent},
			check: func(t *testing.T, err error, got []received, host string) {
				if err != nil {
					t.Fatal(err)
				}
				r := got[0]
				if r.path != "/devices/dev 1/messages/events" || r.query != "api-version="+APIVersion || r.body != `{"temperature":21}` || r.contentType != "application/json" {
					t.Errorf("request %+v", r)
				}
				if r.header.Get("iothub-messageid") != "m-1" || r.header.Get("iothub-app-source") != "test" {
					t.Errorf("headers %v", r.header)
				}
				tok, err := sas.ParseToken(r.auth)
				if err != nil {
					t.Fatal(err)
				}
				if err := tok.Verify(devKey, time.Now()); err != nil {
					t.Error(err)
				}
				wantSR := strings.ReplaceAll(host, ":", "%3A") + "%2Fdevices%2Fdev%2B1"
				if tok.RawResource != wantSR || tok.KeyName != "" || strings.Contains(r.auth, "skn=") {
					t.Errorf("sr %q (want %q), token %q", tok.RawResource, wantSR, r.auth)
				}
			},
		},
		{
			name:  "signer",
			opts:  Options{DeviceID: "d", Signer: func([]byte) ([]byte, error) { return []byte("tpm"), nil }},
			msg:   Message{Payload: []byte("raw bytes")},
			reply: answer{status: http.StatusNoContent},
			check: func(t *testing.T, err error, got []received, host string) {
				if err != nil || !strings.Contains(got[0].auth, "sig=dHBt&") || got[0].contentType != "application/octet-stream" {
					t.Fatalf("err %v, request %+v", err, got)
				}
			},
		},
		{
			name:  "signer fails",
			opts:  Options{DeviceID: "d", Signer: func([]byte) ([]byte, error) { return nil, errors.New("no key in the TPM") }},
			reply: answer{status: http.StatusNoContent},
			check: func(t *testing.T, err error, got []received, host string) {
				if err == nil || !strings.Contains(err.Error(), "no key in the TPM") || len(got) != 0 {
					t.Fatalf("err %v, %d requests", err, len(got))
				}
			},
		},
		{
			name:  "X.509",
			opts:  Options{DeviceID: "x-dev", Certificate: &cert},
			msg:   Message{Payload: []byte("{}"), ContentType: "text/plain"},
			reply: answer{status: http.StatusNoContent},
			check: func(t *testing.T, err error, got []received, host string) {
				if err != nil || got[0].cn != "x-dev" || got[0].auth != "" || got[0].contentType != "text/plain" {
					t.Fatalf("err %v, request %+v", err, got)
				}
			},
		},
		{
			name:  "IoT Hub error body",
			opts:  Options{DeviceID: "d", Key: devKey},
			reply: answer{status: 401, body: `{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","ExceptionMessage":"Tracking ID:abc123-G:0-TimeStamp:01/02/2025 03:04:05"}`},
			check: func(t *testing.T, err error, got []received, host string) {
				var e *Error
				if !errors.As(err, &e) || !IsDenied(err) || e.Code != "IotHubUnauthorizedAccess" || e.Message != "Unauthorized" || e.TrackingID != "abc123-G:0" {
					t.Fatalf("err %#v", err)
				}
			},
		},
		{
			name:  "DPS-style error body",
			opts:  Options{DeviceID: "d", Key: devKey},
			reply: answer{status: 404, body: `{"errorCode":404001,"message":"Device not found","trackingId":"t"}`},
			check: func(t *testing.T, err error, got []received, host string) {
				var e *Error
				if !errors.As(err, &e) || IsDenied(err) || e.Code != "404001" || e.TrackingID != "t" {
					t.Fatalf("err %#v", err)
				}
				if err.Error() != "POST /devices/d/messages/events: 404 Not Found: 404001: Device not found (trackingId t)" {
					t.Errorf("message %q", err)
				}
			},
		},
		{
			name:  "error code header",
			opts:  Options{DeviceID: "d", Key: devKey},
			reply: answer{status: 403, header: map[string]string{"IotHub-ErrorCode": "DeviceDisabled"}},
			check: func(t *testing.T, err error, got []received, host string) {
				var e *Error
				if !errors.As(err, &e) || e.Code != "DeviceDisabled" || !IsDenied(err) {
					t.Fatalf("err %#v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHub{answer: tt.reply}
			host, roots := start(t, h)
			opts := tt.opts
			opts.HostName, opts.RootCAs = host, roots
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Send(context.Background(), tt.msg)
			h.mu.Lock()
			got := h.got
			h.mu.Unlock()
			tt.check(t, err, got, host)
		})
	}
}

func TestSendTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Options{HostName: addr, DeviceID: "d", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendEvent(context.Background(), []byte("x"))
	var te *TransportError
	if !errors.As(err, &te) || IsDenied(err) {
		t.Fatalf("err %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no host", Options{DeviceID: "d", Key: devKey}, "hub host name"},
		{"URL host", Options{HostName: "https://h/x", DeviceID: "d", Key: devKey}, "hub host name"},
		{"no device", Options{HostName: "h", Key: devKey}, "device ID is required"},
		{"no credential", Options{HostName: "h", DeviceID: "d"}, "exactly one"},
		{"two credentials", Options{HostName: "h", DeviceID: "d", Key: devKey, Certificate: &tls.Certificate{}}, "exactly one"},
		{"bad key", Options{HostName: "h", DeviceID: "d", Key: "!!"}, "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSASToken(t *testing.T) {
	s, err := KeySigner(devKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SASToken("myhub.azure-devices.net", "dev/1", s, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sas.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	// The device ID is encoded once inside the resource, which is encoded
	// again as a whole, as the SDKs do.
	if p.RawResource != "myhub.azure-devices.net%2Fdevices%2Fdev%252F1" || p.RawExpiry != "1700000000" {
		t.Errorf("token %q", tok)
	}
	if err := p.Verify(devKey, time.Unix(1700000000, 0)); err != nil {
		t.Error(err)
	}
}
