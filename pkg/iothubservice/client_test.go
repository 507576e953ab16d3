package iothubservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
)

// The requests are IoT Hub's service REST API: paths, api-version, the
// policy's SAS token for the hub, and the bodies' members.
func TestRequestsHaveIoTHubsShape(t *testing.T) {
	type seen struct{ method, path, query, auth, body string }
	got := make(chan seen, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(b)}
		switch {
		case strings.HasSuffix(r.URL.Path, "/methods"):
			w.Write([]byte(`{"status":200,"payload":{"ok":true}}`))
		case strings.Contains(r.URL.Path, "nobody"):
			w.Header().Set("iothub-errorcode", "DeviceNotFound")
			w.WriteHeader(404)
			w.Write([]byte(`{"Message":"ErrorCode:DeviceNotFound;no such device"}`))
		default:
			w.Write([]byte(`{"deviceId":"dev 1","properties":{"desired":{"interval":60,"$version":2},"reported":{"$version":1}}}`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	c, err := FromConnectionString("HostName=hub.example;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5LWtleS1rZXk=", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	c.Address = addr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check := func(want seen) seen {
		t.Helper()
		s := <-got
		if s.method != want.method || s.path != want.path || s.query != "api-version=2021-04-12" {
			t.Fatalf("request %+v, want %s %s", s, want.method, want.path)
		}
		tok, err := sas.ParseToken(s.auth)
		if err != nil || tok.KeyName != "iothubowner" || tok.Resource != "hub.example" || tok.Verify("a2V5LWtleS1rZXk=", time.Now()) != nil {
			t.Fatalf("Authorization %q: %v", s.auth, err)
		}
		return s
	}

	tw, err := c.GetTwin(ctx, "dev 1")
	if err != nil || tw.Properties.Desired["interval"] != float64(60) {
		t.Fatalf("twin %+v, %v", tw, err)
	}
	check(seen{method: "GET", path: "/twins/dev 1"})

	if _, err := c.UpdateDesired(ctx, "dev-1", json.RawMessage(`{"interval":60}`)); err != nil {
		t.Fatal(err)
	}
	if s := check(seen{method: "PATCH", path: "/twins/dev-1"}); s.body != `{"properties":{"desired":{"interval":60}}}` {
		t.Fatalf("patch body %s", s.body)
	}

	r, err := c.InvokeMethod(ctx, "dev-1", "reboot", json.RawMessage(`{"delay":1}`), 10*time.Second, 0)
	if err != nil || r.Status != 200 || string(r.Payload) != `{"ok":true}` {
		t.Fatalf("method %+v, %v", r, err)
	}
	if s := check(seen{method: "POST", path: "/twins/dev-1/methods"}); s.body != `{"methodName":"reboot","payload":{"delay":1},"responseTimeoutInSeconds":10}` {
		t.Fatalf("method body %s", s.body)
	}

	_, err = c.GetTwin(ctx, "nobody")
	check(seen{method: "GET", path: "/twins/nobody"})
	if !IsNotFound(err) || !strings.Contains(err.Error(), "404 DeviceNotFound: no such device") {
		t.Fatalf("err %v", err)
	}
}

func TestFromConnectionString(t *testing.T) {
	for _, tt := range []struct {
		cs, host, addr, err string
	}{
		{cs: "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5", host: "h.azure-devices.net", addr: "h.azure-devices.net:443"},
		{cs: "HostName=localhost:8443;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5", host: "localhost", addr: "localhost:8443"},
		{cs: "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=a2V5", err: "SharedAccessKeyName"},
		{cs: "nonsense", err: "name=value"},
	} {
		c, err := FromConnectionString(tt.cs, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.cs, err, tt.err)
			}
			continue
		}
		if err != nil || c.HubHost != tt.host || c.Address != tt.addr {
			t.Errorf("%q: %+v, %v", tt.cs, c, err)
		}
	}
}
