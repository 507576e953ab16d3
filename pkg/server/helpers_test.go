package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// testEnv is an instance with an in-process client.
type testEnv struct {
	t      testing.TB
	inst   *Instance
	client *http.Client
	base   string // scheme://host for requests
	policy string // policy used by do
	key    string // its primary key
	sr     string // SAS audience used by do
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return envFor(t, inst)
}

func envFor(t testing.TB, inst *Instance) *testEnv {
	t.Helper()
	e := &testEnv{
		t:      t,
		inst:   inst,
		client: &http.Client{Transport: Transport(inst.Handler())},
		base:   "https://localhost:8443",
		sr:     "localhost",
	}
	e.usePolicy(OwnerPolicy)
	return e
}

func (e *testEnv) usePolicy(name string) {
	e.t.Helper()
	p, err := e.inst.st.Policy(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.policy, e.key = p.Name, p.PrimaryKey
}

func (e *testEnv) token() string {
	e.t.Helper()
	tok, err := sas.NewToken(e.key, e.sr, e.policy, time.Now().Add(time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// resp is a captured response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
}

// errorCode returns the DPS error code of an error response and checks its
// shape.
func (r resp) errorCode(t testing.TB) int {
	t.Helper()
	var d model.ErrorDetails
	r.json(t, &d)
	if d.TrackingID == "" || d.TimestampUTC == "" || d.Message == "" {
		t.Fatalf("error body lacks fields: %s", r.body)
	}
	if got := r.header.Get("x-ms-error-code"); got != strconv.Itoa(d.ErrorCode) {
		t.Fatalf("x-ms-error-code %q, body errorCode %d", got, d.ErrorCode)
	}
	if d.ErrorCode/1000 != r.status {
		t.Fatalf("errorCode %d with status %d", d.ErrorCode, r.status)
	}
	return d.ErrorCode
}

// call sends a request; headers is a list of name, value pairs (an empty
// value removes the header). A nil body sends none; a string or []byte is
// sent as is; anything else is JSON-encoded.
func (e *testEnv) call(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r, err := e.try(method, path, body, headers...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// try is call without failing the test, for use off the test goroutine.
func (e *testEnv) try(method, path string, body any, headers ...string) (resp, error) {
	rd, err := encodeBody(body)
	if err != nil {
		return resp{}, err
	}
	if !strings.Contains(path, "api-version") {
		if strings.Contains(path, "?") {
			path += "&api-version=2021-10-01"
		} else {
			path += "?api-version=2021-10-01"
		}
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	tok, err := sas.NewToken(e.key, e.sr, e.policy, time.Now().Add(time.Hour))
	if err != nil {
		return resp{}, err
	}
	req.Header.Set("Authorization", tok)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, b, err := do(e.client, req)
	if err != nil {
		return resp{}, err
	}
	if res.ContentLength != int64(len(b)) {
		return resp{}, fmt.Errorf("ContentLength %d, body %d bytes", res.ContentLength, len(b))
	}
	if len(b) > 0 && res.Header.Get("Content-Type") != httpapi.ContentTypeJSON {
		return resp{}, fmt.Errorf("Content-Type %q", res.Header.Get("Content-Type"))
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

// mustStatus fails unless r has the status (and, for errors, the code).
func mustStatus(t testing.TB, r resp, status int, code ...int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status >= 400 {
		got := r.errorCode(t)
		if len(code) > 0 && got != code[0] {
			t.Fatalf("errorCode %d, want %d: %s", got, code[0], r.body)
		}
	}
}

func symEnrollment(id string) map[string]any {
	return map[string]any{
		"registrationId": id,
		"attestation":    map[string]any{"type": "symmetricKey"},
	}
}

func symGroup(id string) map[string]any {
	return map[string]any{
		"enrollmentGroupId": id,
		"attestation":       map[string]any{"type": "symmetricKey"},
	}
}

// testCert makes a certificate signed by parent (self-signed when nil).
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCert(t testing.TB, subject pkix.Name, parent *testCert, isCA bool) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour).Truncate(time.Second),
		NotAfter:              time.Now().Add(24 * time.Hour).Truncate(time.Second),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func (c *testCert) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

func subject(cn, o, c string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{o}, Country: []string{c}}
}

func sha1Sum(b []byte) [20]byte   { return sha1.Sum(b) }
func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// webhookFailed is what a device and the service API learn of a failed
// custom allocation webhook call, as pkg/server/device words it.
const webhookFailed = "custom allocation webhook failed"

// encodeBody is a request body: nil for none, a string or []byte as is,
// anything else as JSON.
func encodeBody(body any) (io.Reader, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.NewReader(b), nil
	case []byte:
		return bytes.NewReader(b), nil
	}
	j, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(j), nil
}

// do sends req with c and reads the whole answer.
func do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}
