package hubtest

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// AzureHubKey is the iothubowner key of the hub AzureHub plays.
const AzureHubKey = "aXRodWJvd25lci1rZXktb2YtMzItYnl0ZXMtLS0tLS0="

// Request is what the hub AzureHub plays was asked.
type Request struct {
	Method, Path, Query, Body string
}

// AzureHub plays an IoT hub's service REST API on 127.0.0.1 over TLS: it
// takes only the iothubowner SAS token for its host, answers GET and
// PATCH /twins/{id} with dev-1's twin, POST /twins/{id}/methods with
// {"status":200,"payload":{"rebooting":true}}, and 404 DeviceNotFound for
// another device. It points the test's configuration (DPSCTL_CA_FILE) at
// its certificate and returns the hub's connection string and the
// requests it took, in order.
func AzureHub(t *testing.T) (connectionString string, requests <-chan Request) {
	t.Helper()
	reqs := make(chan Request, 16)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := sas.ParseToken(r.Header.Get("Authorization"))
		if err != nil || tok.KeyName != "iothubowner" || tok.Resource != "127.0.0.1" || tok.Verify(AzureHubKey, time.Now()) != nil {
			w.Header().Set("iothub-errorcode", "IotHubUnauthorizedAccess")
			http.Error(w, `{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		reqs <- Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch {
		case !strings.HasPrefix(r.URL.Path, "/twins/dev-1"):
			w.Header().Set("iothub-errorcode", "DeviceNotFound")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"Message":"ErrorCode:DeviceNotFound;The device is not registered."}`))
		case r.URL.Path == "/twins/dev-1/methods" && r.Method == http.MethodPost:
			_, _ = w.Write([]byte(`{"status":200,"payload":{"rebooting":true}}`))
		case r.URL.Path == "/twins/dev-1" && (r.Method == http.MethodGet || r.Method == http.MethodPatch):
			_, _ = w.Write([]byte(`{"deviceId":"dev-1","etag":"AAAAAAAAAAI=","version":3,"status":"enabled","connectionState":"Connected",` +
				`"properties":{"desired":{"interval":60,"$version":2},"reported":{"firmware":"1.2.0","$version":4}}}`))
		default:
			http.Error(w, `{"Message":"ErrorCode:InvalidProtocolVerb;no such call"}`, http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	ca := filepath.Join(dir, "hub-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvCAFile, ca)
	t.Setenv(config.EnvDataDir, filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for _, e := range []string{config.EnvConnectionString, config.EnvProfile, config.EnvOutput} {
		t.Setenv(e, "")
		os.Unsetenv(e)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	return "HostName=" + host + ";SharedAccessKeyName=iothubowner;SharedAccessKey=" + AzureHubKey, reqs
}
