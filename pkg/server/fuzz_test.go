package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// FuzzServiceRequest throws arbitrary requests at the handler in-process.
// Whatever arrives, the service must not panic or fail with a 5xx, and
// every error must carry a DPS error body whose code matches the status.
func FuzzServiceRequest(f *testing.F) {
	seeds := []struct {
		method, path, headers string
		body                  string
		auth                  bool
	}{
		{"PUT", "/enrollments/dev-1?api-version=2021-10-01", "Content-Type: application/json", `{"registrationId":"dev-1","attestation":{"type":"symmetricKey"}}`, true},
		{"PUT", "/enrollmentGroups/g?api-version=2021-10-01", "If-Match: *", `{"enrollmentGroupId":"g","attestation":{"type":"x509","x509":{"signingCertificates":{"primary":{"certificate":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"}}}}}`, true},
		{"POST", "/enrollments?api-version=2019-03-31", "", `{"mode":"create","enrollments":[{"registrationId":"a","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAAA"}}}]}`, true},
		{"POST", "/enrollments/query?api-version=2021-10-01", "x-ms-max-item-count: 3\nx-ms-continuation: ZTox", `{"query":"*"}`, true},
		{"POST", "/registrations/g/query?api-version=2021-10-01", "", "", true},
		{"DELETE", "/enrollments/dev-1?api-version=2021-10-01", "If-Match: \"x\"", "", true},
		{"GET", "/enrollments/%zz?api-version=2021-10-01", "Authorization: SharedAccessSignature sr=&sig=&se=", "", false},
		{"PATCH", "/", "Content-Type: ;;", "\x00\xff", false},
		{"PUT", "/enrollments/deep?api-version=2021-10-01", "", twinEnrollment("deep", nest(100)), true},
		{"PUT", "/enrollments/deep?api-version=2021-10-01", "", twinEnrollment("deep", nest(10000)), true},
		{"PUT", "/enrollments/deep?api-version=2021-10-01", "", twinEnrollment("deep", strings.Repeat(`{"a":`, 100)+"1"+strings.Repeat("}", 100)), true},
		{"PUT", "/enrollments/deep?api-version=2021-10-01", "", twinEnrollment("deep", strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000)), true},
		{"POST", "/enrollments?api-version=2021-10-01", "", `{"mode":"create","enrollments":[` + twinEnrollment("deep", nest(10000)) + `]}`, true},
		{"PUT", "/enrollments/utf8?api-version=2021-10-01", "", twinEnrollment("utf8", "\"\xff\xfe\""), true},
		{"PUT", "/enrollments/utf8?api-version=2021-10-01", "", twinEnrollment("utf8", "{\"\xc3\x28\":1}"), true},
		{"PUT", "/enrollments/utf8?api-version=2021-10-01", "", "{\"registrationId\":\"utf8\xed\xa0\x80\",\"attestation\":{\"type\":\"symmetricKey\"}}", true},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.headers, []byte(s.body), s.auth)
	}
	e := newEnv(f)
	owner := e.key
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, auth bool) {
		u, err := url.Parse("https://localhost" + path)
		if err != nil || !validMethod(method) {
			return
		}
		tok := ""
		if auth {
			tok, _ = sas.NewToken(owner, "localhost", OwnerPolicy, time.Now().Add(time.Hour))
		}
		res, b := fuzzSend(t, e, method, u, headers, body, tok, true)
		if res.StatusCode < 400 {
			return
		}
		d, ok := parseDPSError(b)
		if !ok {
			t.Fatalf("%s %s: status %d with a body that is not a DPS error: %q", method, path, res.StatusCode, b)
		}
		checkErrorCode(t, method, path, res, d)
	})
}

// fuzzSend sends a request the fuzzer made up through e's in-process
// transport: headers are "Name: value" lines (lines without a valid name
// are skipped), auth (if not "") the Authorization header, set before the
// fuzzed headers (which may add to it) when authFirst, after them (and
// instead of theirs) otherwise. A 5xx answer, a body without the JSON
// content type or a body that is not JSON fails the test.
func fuzzSend(t *testing.T, e *testEnv, method string, u *url.URL, headers string, body []byte, auth string, authFirst bool) (*http.Response, []byte) {
	t.Helper()
	req := &http.Request{
		Method:        method,
		URL:           u,
		Host:          "localhost",
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	if auth != "" && authFirst {
		req.Header.Set("Authorization", auth)
	}
	for _, line := range strings.Split(headers, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && validHeaderName(k) {
			req.Header.Add(k, strings.TrimSpace(v))
		}
	}
	if auth != "" && !authFirst {
		req.Header.Set("Authorization", auth)
	}
	res, err := e.client.Transport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		t.Fatalf("%s %s: status %d: %s", method, u, res.StatusCode, b)
	}
	if len(b) > 0 && res.Header.Get("Content-Type") != httpapi.ContentTypeJSON {
		t.Fatalf("%s %s: content type %q", method, u, res.Header.Get("Content-Type"))
	}
	if len(b) > 0 && !json.Valid(b) {
		t.Fatalf("%s %s: invalid JSON %q", method, u, b)
	}
	return res, b
}

// dpsError is the DPS error body.
type dpsError struct {
	ErrorCode    *int   `json:"errorCode"`
	TrackingID   string `json:"trackingId"`
	Message      string `json:"message"`
	TimestampUTC string `json:"timestampUtc"`
}

// parseDPSError reads b as a DPS error body: false when it is not one.
func parseDPSError(b []byte) (dpsError, bool) {
	var d dpsError
	if err := json.Unmarshal(b, &d); err != nil || d.ErrorCode == nil || d.TrackingID == "" || d.Message == "" || d.TimestampUTC == "" {
		return d, false
	}
	return d, true
}

// checkErrorCode requires the error's code to match the status and the
// x-ms-error-code header.
func checkErrorCode(t *testing.T, method, target string, res *http.Response, d dpsError) {
	t.Helper()
	if *d.ErrorCode/1000 != res.StatusCode || res.Header.Get("x-ms-error-code") != strconv.Itoa(*d.ErrorCode) {
		t.Fatalf("%s %s: status %d, errorCode %d, header %q", method, target, res.StatusCode, *d.ErrorCode, res.Header.Get("x-ms-error-code"))
	}
}

// validMethod mirrors what net/http accepts as a method (an HTTP token).
func validMethod(m string) bool {
	return m != "" && strings.IndexFunc(m, func(r rune) bool { return !isTokenRune(r) }) < 0
}

func validHeaderName(k string) bool { return validMethod(k) }

func isTokenRune(r rune) bool {
	return r < 127 && r > 32 && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
