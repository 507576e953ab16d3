package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// FuzzHubServiceRequest throws arbitrary requests at the hubs' service
// API in process, with a valid token of the hub's owner policy: route,
// device ID, query and body. The service must never panic or answer 5xx
// (but 503 for a call whose caller gave up, which each call does after a
// moment here), and every error is IoT Hub's (an iothub-errorcode and a
// JSON body with Message).
func FuzzHubServiceRequest(f *testing.F) {
	e := newEnv(f)
	ctx := context.Background()
	hubs, err := e.inst.LinkedHubs(ctx)
	if err != nil || len(hubs) == 0 {
		f.Fatalf("linked hubs %v, %v", hubs, err)
	}
	cs, err := sas.ParseConnectionString(hubs[0].ConnectionString)
	if err != nil {
		f.Fatal(err)
	}
	if err := e.inst.PutHubDevice(ctx, linkedhub.Device{HubHostName: hubs[0].HostName, DeviceID: "fz-dev", Status: "enabled", AuthenticationType: linkedhub.AuthSAS, PrimaryKey: keyA, SecondaryKey: keyB}); err != nil {
		f.Fatal(err)
	}
	tok, err := sas.NewToken(cs.Key, hubs[0].HostName, cs.KeyName, time.Now().Add(24*time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"GET", "/twins/{id}"}, {"PATCH", "/twins/{id}"}, {"POST", "/twins/{id}/methods"},
		{"POST", "/local/devices/{id}/messages/cloudToDevice"}, {"GET", "/local/events"},
	}
	f.Add(uint8(1), "fz-dev", "", []byte(`{"properties":{"desired":{"interval":60,"old":null}}}`))
	f.Add(uint8(1), "fz-dev", "", []byte(`{"properties":{"desired":[1]}}`))
	f.Add(uint8(2), "fz-dev", "", []byte(`{"methodName":"reboot","payload":{"a":1},"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":1}`))
	f.Add(uint8(2), "fz-dev", "", []byte(`{"methodName":"","responseTimeoutInSeconds":1000}`))
	f.Add(uint8(3), "fz-dev", "", []byte(`{"payload":"hi","messageId":"m","properties":{"a":"b","$.x":"y"}}`))
	f.Add(uint8(4), "", "since=2026-01-01T00:00:00Z&deviceId=fz-dev", []byte(nil))
	f.Add(uint8(4), "", "timeoutSeconds=-1", []byte(nil))
	f.Add(uint8(0), "nobody", "", []byte(nil))
	f.Add(uint8(1), "fz-dev", "", []byte("{\"properties\":{\"desired\":{\"\xff\":1}}}"))
	f.Fuzz(func(t *testing.T, route uint8, id, query string, body []byte) {
		rt := routes[int(route)%len(routes)]
		path := rt.path
		if id != "" {
			path = "/twins/" + url.PathEscape(id)
			switch rt.path {
			case "/twins/{id}/methods":
				path += "/methods"
			case "/local/devices/{id}/messages/cloudToDevice":
				path = "/local/devices/" + url.PathEscape(id) + "/messages/cloudToDevice"
			}
		}
		u, err := url.Parse("https://localhost" + path + "?api-version=2021-04-12&" + query)
		if err != nil {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		req := httptest.NewRequest(rt.method, "https://localhost/", bytes.NewReader(body)).WithContext(rctx)
		req.URL = u
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.inst.Handler().ServeHTTP(w, req)
		res := w.Result()
		b := w.Body.Bytes()
		switch {
		case res.StatusCode == http.StatusServiceUnavailable && rctx.Err() != nil:
			return
		case res.StatusCode >= 500:
			t.Fatalf("%s %s: %d %s", rt.method, u, res.StatusCode, b)
		case res.StatusCode >= 400:
			var m struct{ Message string }
			// The header is set as IoT Hub spells it, not canonicalized.
			if len(res.Header["iothub-errorcode"]) == 0 || json.Unmarshal(b, &m) != nil || m.Message == "" {
				// A path that left the hub service routes (an id with a
				// slash, say) answers in its own API's way.
				if id != "" && (bytes.ContainsAny([]byte(id), "/") || id == "." || id == "..") {
					return
				}
				t.Fatalf("%s %s: %d without IoT Hub's error: %q", rt.method, u, res.StatusCode, b)
			}
		}
	})
}
