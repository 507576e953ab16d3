package azure

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
)

// fakeRegistry serves a hub registry on 127.0.0.1 with two pages of twins.
func fakeRegistry(t *testing.T) (*Registry, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SharedAccessSignature sr=") || !strings.Contains(r.Header.Get("Authorization"), "skn=iothubowner") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/devices/query" && strings.Contains(readAll(r), "COUNT()"):
			_, _ = w.Write([]byte(`[{"numberOfDevices":2}]`))
		case r.URL.Path == "/devices/query" && r.Header.Get("X-Ms-Continuation") == "":
			w.Header().Set("X-Ms-Continuation", "page-2")
			_, _ = w.Write([]byte(`[{"deviceId":"a","status":"enabled","connectionState":"Connected","authenticationType":"sas","deviceEtag":"e1","version":3,"tags":{"site":"lab"},"properties":{"desired":{"rate":5},"reported":{}}}]`))
		case r.URL.Path == "/devices/query":
			_, _ = w.Write([]byte(`[{"deviceId":"b","status":"disabled","connectionState":"Disconnected","authenticationType":"selfSigned","x509Thumbprint":{"primaryThumbprint":"AB"}}]`))
		case r.URL.Path == "/devices/a":
			_, _ = w.Write([]byte(`{"deviceId":"a","generationId":"g1","etag":"e1","status":"enabled","connectionState":"Connected","authentication":{"type":"sas","symmetricKey":{"primaryKey":"cA==","secondaryKey":"cw=="}},"capabilities":{"iotEdge":true}}`))
		case r.URL.Path == "/twins/a":
			_, _ = w.Write([]byte(`{"deviceId":"a","version":3,"tags":{"site":"lab"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"Message":"ErrorCode:DeviceNotFound;no device"}`))
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	return NewRegistry(srv.Client()), "HostName=" + host + ";SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5"
}

func readAll(r *http.Request) string {
	var b strings.Builder
	buf := make([]byte, 512)
	for range 100 {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestRegistry(t *testing.T) {
	reg, cs := fakeRegistry(t)
	ctx := t.Context()
	n, err := reg.Count(ctx, cs)
	if err != nil || n != 2 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	var ids []string
	for d, err := range reg.Devices(ctx, cs) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.DeviceID+"/"+d.AuthenticationType+"/"+d.ConnectionState)
		if d.DeviceID == "a" && (string(d.Tags) != `{"site":"lab"}` || string(d.Desired) != `{"rate":5}` || d.TwinVersion != 3 || !strings.HasPrefix(d.HubHostName, "127.0.0.1:")) {
			t.Fatalf("device a = %+v", d)
		}
		if d.DeviceID == "b" && d.PrimaryThumbprint != "AB" {
			t.Fatalf("device b = %+v", d)
		}
	}
	if strings.Join(ids, ",") != "a/sas/Connected,b/selfSigned/Disconnected" {
		t.Fatalf("devices = %v (both pages, in order)", ids)
	}
	d, err := reg.Device(ctx, cs, "a")
	if err != nil || d.PrimaryKey != "cA==" || d.GenerationID != "g1" || !d.IoTEdge || string(d.Tags) != `{"site":"lab"}` {
		t.Fatalf("Device = %+v, %v", d, err)
	}
	_, err = reg.Device(ctx, cs, "nobody")
	if !errors.Is(err, linkedhub.ErrNotFound) || !strings.Contains(err.Error(), "DeviceNotFound") {
		t.Fatalf("missing device: %v", err)
	}
	if _, err := reg.Count(ctx, strings.Replace(cs, "iothubowner", "other", 1)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("refused: %v", err)
	}
}
