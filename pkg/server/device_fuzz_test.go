package server

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// FuzzDeviceRequest throws arbitrary device API requests at the handler
// in-process: registration id, the rest of the path, query, headers, body
// and whether to sign a valid token. The service must never panic or answer
// 5xx; JSON bodies carry the JSON content type; errors carry the DPS error
// body whose code matches the status, except the TPM challenge (401 with
// authenticationKey and keyName).
func FuzzDeviceRequest(f *testing.F) {
	e := newEnv(f)
	ek, srk := softPublic(f, tpm2.ECCEKTemplate), softPublic(f, tpm2.ECCSRKTemplate)
	e.put("/enrollments/fz-sym", map[string]any{"registrationId": "fz-sym", "attestation": symKeys(keyA, keyB)})
	e.put("/enrollments/fz-tpm", tpmEnrollment("fz-tpm", ek, "enabled"))
	e.put("/enrollmentGroups/fz-grp", map[string]any{"enrollmentGroupId": "fz-grp", "attestation": symKeys(keyC, keyD)})
	tpmBody := `{"registrationId":"fz-tpm","tpm":{"endorsementKey":"` + ek + `","storageRootKey":"` + srk + `"}}`
	seeds := []struct {
		method, id, tail, query, headers, body string
		auth                                   bool
	}{
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "Content-Type: application/json", `{"registrationId":"fz-sym","payload":{"a":[1,2]}}`, true},
		{"PUT", "fz-sym", "/register", "api-version=2021-06-01", "", "", true},
		{"PUT", "fz-tpm", "/register", "api-version=2019-03-31", "Content-Type: application/json; charset=utf-8", tpmBody, false},
		{"PUT", "fz-tpm", "/register", "api-version=2019-03-31", "", `{"tpm":{"endorsementKey":"AAAA"}}`, false},
		{"GET", "fz-sym", "/operations/5.0123456789abcdef.x", "api-version=2019-03-31", "", "{}", true},
		{"POST", "fz-sym", "", "api-version=2025-07-01-preview", "", `{"registrationId":"fz-sym","csr":"MII"}`, true},
		{"PUT", "dev%2F1", "/register", "api-version=2019-03-31", "Authorization: SharedAccessSignature sr=x&sig=y&se=1", `{"registrationId":1}`, false},
		{"PUT", "fz-sym", "/register", "", "Content-Type: text/plain", "\x00\xff", true},
		{"DELETE", "", "/", "api-version=x", "", "null", false},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", `{"registrationId":"fz-sym","payload":` + nest(100) + `}`, true},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", `{"registrationId":"fz-sym","payload":` + nest(10000) + `}`, true},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", `{"registrationId":"fz-sym","payload":` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100) + `}`, true},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", `{"registrationId":"fz-sym","payload":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + `}`, true},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", "{\"registrationId\":\"fz-sym\",\"payload\":\"\xff\xfe\"}", true},
		{"PUT", "fz-sym", "/register", "api-version=2019-03-31", "", "{\"registrationId\":\"fz-sym\",\"payload\":{\"\xc3\x28\":1}}", true},
		{"PUT", "fz-tpm", "/register", "api-version=2019-03-31", "", "{\"registrationId\":\"fz-tpm\xed\xa0\x80\"}", false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.id, s.tail, s.query, s.headers, []byte(s.body), s.auth)
	}
	scope := e.inst.IDScope()
	f.Fuzz(func(t *testing.T, method, id, tail, query, headers string, body []byte, auth bool) {
		if !validMethod(method) {
			return
		}
		u, err := url.Parse("https://localhost/" + scope + "/registrations/" + id + tail + "?" + query)
		if err != nil {
			return
		}
		tok := ""
		if auth {
			tok = deviceSAS(t, keyA, scope+"/registrations/"+id, "registration", time.Now().Add(time.Hour))
		}
		res, b := fuzzSend(t, e, method, u, headers, body, tok, false)
		if res.StatusCode < 400 {
			return
		}
		if res.StatusCode == 401 {
			var ch model.TPMChallenge
			if json.Unmarshal(b, &ch) == nil && ch.AuthenticationKey != "" {
				if ch.KeyName != model.DeviceKeyName || bytes.Contains(b, []byte(`"status"`)) {
					t.Fatalf("TPM challenge %s", b)
				}
				return
			}
		}
		d, ok := parseDPSError(b)
		if !ok {
			// Paths outside the device API (an id with a slash, say) may
			// reach the service API or the hub; those answer their own way.
			if !strings.HasPrefix(strings.Trim(u.EscapedPath(), "/"), scope+"/registrations/") || strings.Count(strings.Trim(u.EscapedPath(), "/"), "/") < 2 {
				return
			}
			t.Fatalf("%s %s: status %d with a body that is not a DPS error: %q", method, u, res.StatusCode, b)
		}
		checkErrorCode(t, method, u.String(), res, d)
	})
}
