package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

func TestEnrollmentPutGetDeleteSemantics(t *testing.T) {
	e := newEnv(t)

	// Create: 200 with generated 64-byte keys, defaults and server fields.
	r := e.call(http.MethodPut, "/enrollments/dev-1", symEnrollment("dev-1"))
	mustStatus(t, r, http.StatusOK)
	var created model.IndividualEnrollment
	r.json(t, &created)
	k := created.Attestation.SymmetricKey
	if k == nil || k.PrimaryKey == "" || k.SecondaryKey == "" || k.PrimaryKey == k.SecondaryKey {
		t.Fatalf("PUT response keys: %+v", k)
	}
	for _, key := range []string{k.PrimaryKey, k.SecondaryKey} {
		if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 64 {
			t.Fatalf("generated key %q: %d bytes, %v", key, len(b), err)
		}
	}
	if created.ETag == "" || created.CreatedDateTimeUTC == "" || created.LastUpdatedDateTimeUTC == "" ||
		created.ProvisioningStatus != "enabled" || created.Capabilities == nil || created.Capabilities.IoTEdge ||
		created.ReprovisionPolicy == nil || !created.ReprovisionPolicy.UpdateHubAssignment || !created.ReprovisionPolicy.MigrateDeviceData {
		t.Fatalf("PUT response lacks server fields or defaults: %s", r.body)
	}
	if et, err := base64.StdEncoding.DecodeString(created.ETag); err != nil || !strings.HasPrefix(string(et), `"`) || !strings.HasSuffix(string(et), `"`) {
		t.Fatalf("etag %q is not base64 of a quoted value", created.ETag)
	}

	tests := []callCase{
		{"put existing without If-Match", "PUT", "/enrollments/dev-1", symEnrollment("dev-1"), nil, 409, model.ErrConflict},
		{"put existing with stale If-Match", "PUT", "/enrollments/dev-1", symEnrollment("dev-1"), []string{"If-Match", "c3RhbGU="}, 412, model.ErrPreconditionFailed},
		{"put missing with an etag", "PUT", "/enrollments/dev-2", symEnrollment("dev-2"), []string{"If-Match", created.ETag}, 412, model.ErrPreconditionFailed},
		{"put path/body id mismatch", "PUT", "/enrollments/dev-1", symEnrollment("dev-9"), nil, 400, model.ErrBadRequest},
		{"put without body id", "PUT", "/enrollments/dev-1", map[string]any{"attestation": map[string]any{"type": "tpm"}}, nil, 400, model.ErrInvalidRegistrationID},
		{"put invalid path id", "PUT", "/enrollments/bad%21id", symEnrollment("bad!id"), nil, 400, model.ErrInvalidRegistrationID},
		{"get invalid id", "GET", "/enrollments/dev.", nil, nil, 400, model.ErrInvalidRegistrationID},
		{"delete stale", "DELETE", "/enrollments/dev-1", nil, []string{"If-Match", "c3RhbGU="}, 412, model.ErrPreconditionFailed},
		{"get missing enrollment", "GET", "/enrollments/nope", nil, nil, 404, model.ErrEnrollmentNotFound},
		{"delete missing enrollment", "DELETE", "/enrollments/nope", nil, nil, 404, model.ErrEnrollmentNotFound},
		{"delete missing with If-Match", "DELETE", "/enrollments/nope", nil, []string{"If-Match", "*"}, 404, model.ErrEnrollmentNotFound},
		{"get missing group", "GET", "/enrollmentGroups/nope", nil, nil, 404, model.ErrEnrollmentGroupNotFound},
		{"attestation of missing group", "POST", "/enrollmentGroups/nope/attestationmechanism", nil, nil, 404, model.ErrEnrollmentGroupNotFound},
		{"get missing registration", "GET", "/registrations/nope", nil, nil, 404, model.ErrRegistrationNotFound},
		{"delete missing registration", "DELETE", "/registrations/nope", nil, nil, 404, model.ErrRegistrationNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, e.call(tt.method, tt.path, tt.body, tt.headers...), tt.status, tt.code)
		})
	}

	// Update with the etag, quoted as C# v1 sends it: new etag, same created
	// time, keys kept although the body has none.
	upd := symEnrollment("DEV-1")
	upd["provisioningStatus"] = "disabled"
	r = e.call(http.MethodPut, "/enrollments/dev-1", upd, "If-Match", `"`+created.ETag+`"`)
	mustStatus(t, r, http.StatusOK)
	var updated model.IndividualEnrollment
	r.json(t, &updated)
	if updated.ETag == created.ETag || updated.CreatedDateTimeUTC != created.CreatedDateTimeUTC || updated.ProvisioningStatus != "disabled" {
		t.Fatalf("update: %s", r.body)
	}
	if updated.Attestation.SymmetricKey.PrimaryKey != k.PrimaryKey || updated.Attestation.SymmetricKey.SecondaryKey != k.SecondaryKey {
		t.Fatal("an update without keys changed the keys")
	}

	// If-Match * replaces an existing entity and creates a missing one.
	mustStatus(t, e.call(http.MethodPut, "/enrollments/dev-1", symEnrollment("dev-1"), "If-Match", "*"), http.StatusOK)
	mustStatus(t, e.call(http.MethodPut, "/enrollments/dev-3", symEnrollment("dev-3"), "If-Match", "*"), http.StatusOK)

	// GET hides the keys; attestationmechanism shows them.
	r = e.call(http.MethodGet, "/enrollments/dev-1", nil)
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), k.PrimaryKey) || strings.Contains(string(r.body), `"symmetricKey":{`) {
		t.Fatalf("GET shows keys: %s", r.body)
	}
	var got model.IndividualEnrollment
	r.json(t, &got)
	if got.Attestation.Type != model.AttestationSymmetricKey || got.Attestation.SymmetricKey != nil {
		t.Fatalf("GET attestation: %s", r.body)
	}
	r = e.call(http.MethodPost, "/enrollments/dev-1/attestationmechanism", nil, "Content-Type", "")
	mustStatus(t, r, http.StatusOK)
	var att model.AttestationMechanism
	r.json(t, &att)
	if att.SymmetricKey == nil || att.SymmetricKey.PrimaryKey != k.PrimaryKey {
		t.Fatalf("attestationmechanism: %s", r.body)
	}

	// DELETE: 204 without a body, then gone.
	r = e.call(http.MethodGet, "/enrollments/dev-1", nil)
	r.json(t, &got)
	r = e.call(http.MethodDelete, "/enrollments/dev-1", nil, "If-Match", got.ETag)
	mustStatus(t, r, http.StatusNoContent)
	if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Fatalf("DELETE answered a body: %q", r.body)
	}
	mustStatus(t, e.call(http.MethodGet, "/enrollments/dev-1", nil), http.StatusNotFound, model.ErrEnrollmentNotFound)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		want   string // substring of the message
	}{
		{"no api-version", "/enrollments/a?x=1&api-version=", symEnrollment("a"), 400, "api-version"},
		{"unknown api-version", "/enrollments/a?api-version=2020-01-01", symEnrollment("a"), 400, "not supported"},
		{"malformed JSON", "/enrollments/a", `{"registrationId":`, 400, "JSON"},
		{"not an object", "/enrollments/a", `["a"]`, 400, "JSON object"},
		{"trailing data", "/enrollments/a", `{"registrationId":"a","attestation":{"type":"symmetricKey"}} {}`, 400, "after the JSON"},
		{"wrong type", "/enrollments/a", `{"registrationId":5}`, 400, "registrationId"},
		{"empty body", "/enrollments/a", "", 400, "empty"},
		{"no attestation", "/enrollments/a", map[string]any{"registrationId": "a"}, 400, "attestation is required"},
		{"bad attestation type", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "psk"}}, 400, "attestation.type"},
		{"none attestation", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "none"}}, 400, "attestation.type"},
		{"tpm without ek", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "tpm", "tpm": map[string]any{}}}, 400, "endorsementKey"},
		{"tpm ek not base64", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "tpm", "tpm": map[string]any{"endorsementKey": "!!"}}}, 400, "endorsementKey"},
		{"type and sub-object disagree", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "symmetricKey", "tpm": map[string]any{"endorsementKey": "AAAA"}}}, 400, "attestation.tpm"},
		{"short key", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "symmetricKey", "symmetricKey": map[string]any{"primaryKey": "c2hvcnQ="}}}, 400, "primaryKey"},
		{"bad secondary key", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "symmetricKey", "symmetricKey": map[string]any{"secondaryKey": "***"}}}, 400, "secondaryKey"},
		{"x509 without certificates", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "x509", "x509": map[string]any{}}}, 400, "clientCertificates"},
		{"x509 garbage certificate", "/enrollments/a", map[string]any{"registrationId": "a", "attestation": map[string]any{"type": "x509", "x509": map[string]any{"clientCertificates": map[string]any{"primary": map[string]any{"certificate": "hello"}}}}}, 400, "clientCertificates.primary.certificate"},
		{"group tpm", "/enrollmentGroups/g", map[string]any{"enrollmentGroupId": "g", "attestation": map[string]any{"type": "tpm", "tpm": map[string]any{"endorsementKey": "AAAA"}}}, 400, "enrollment groups"},
		{"group client certificates", "/enrollmentGroups/g", map[string]any{"enrollmentGroupId": "g", "attestation": map[string]any{"type": "x509", "x509": map[string]any{"clientCertificates": map[string]any{}}}}, 400, "clientCertificates"},
		{"bad allocation policy", "/enrollments/a", with(symEnrollment("a"), "allocationPolicy", "random"), 400, "allocationPolicy"},
		{"custom without definition", "/enrollments/a", with(symEnrollment("a"), "allocationPolicy", "custom"), 400, "customAllocationDefinition"},
		{"custom with bad url", "/enrollments/a", with(symEnrollment("a"), "allocationPolicy", "custom", "customAllocationDefinition", map[string]any{"webhookUrl": "ftp://x", "apiVersion": "2021-10-01"}), 400, "webhookUrl"},
		{"bad provisioning status", "/enrollments/a", with(symEnrollment("a"), "provisioningStatus", "paused"), 400, "provisioningStatus"},
		{"tags not an object", "/enrollments/a", with(symEnrollment("a"), "initialTwin", map[string]any{"tags": []int{1}}), 400, "initialTwin.tags"},
		{"desired not an object", "/enrollments/a", with(symEnrollment("a"), "initialTwin", map[string]any{"properties": map[string]any{"desired": "x"}}), 400, "desired"},
		{"device info not an object", "/enrollments/a", with(symEnrollment("a"), "optionalDeviceInformation", 7), 400, "optionalDeviceInformation"},
		{"bad device id", "/enrollments/a", with(symEnrollment("a"), "deviceId", "a b"), 400, "deviceId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(http.MethodPut, tt.path, tt.body)
			mustStatus(t, r, tt.status, model.ErrBadRequest)
			if !strings.Contains(string(r.body), tt.want) {
				t.Fatalf("message does not mention %q: %s", tt.want, r.body)
			}
		})
	}
	// Lenient parts: unknown fields, read-only registrationState, enum
	// spellings and null members are accepted.
	body := `{"registrationId":"ok-1","attestation":{"type":"SymmetricKey","symmetricKey":{}},"unknownField":{"x":1},
		"registrationState":{"status":"assigned"},"provisioningStatus":"Enabled","allocationPolicy":"GEOLATENCY",
		"initialTwin":{"tags":null,"properties":{"desired":{"a":1}}},"optionalDeviceInformation":null,"credentialPolicyName":"p"}`
	r := e.call(http.MethodPut, "/enrollments/ok-1", body)
	mustStatus(t, r, http.StatusOK)
	var got model.IndividualEnrollment
	r.json(t, &got)
	if got.RegistrationState != nil || got.ProvisioningStatus != "enabled" || got.AllocationPolicy != "geoLatency" || got.Attestation.Type != "symmetricKey" {
		t.Fatalf("normalised entity: %s", r.body)
	}
	if strings.Contains(string(r.body), "null") {
		t.Fatalf("null members echoed: %s", r.body)
	}
}

func TestStatusCodes(t *testing.T) {
	e := newEnv(t)
	big := `{"registrationId":"a","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"x":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}}}`
	tests := []callCase{
		{"unknown path", "GET", "/nothing", nil, nil, 404, model.ErrNotFound},
		{"root", "GET", "/", nil, nil, 404, model.ErrNotFound},
		{"too deep", "GET", "/enrollments/a/b/c", nil, nil, 404, model.ErrNotFound},
		{"post entity", "POST", "/enrollments/a", symEnrollment("a"), nil, 405, model.ErrMethodNotAllowed},
		{"get bulk", "GET", "/enrollments", nil, nil, 405, model.ErrMethodNotAllowed},
		{"get attestation", "GET", "/enrollments/a/attestationmechanism", nil, nil, 405, model.ErrMethodNotAllowed},
		{"put registration", "PUT", "/registrations/a", "{}", nil, 405, model.ErrMethodNotAllowed},
		{"get registration query", "GET", "/registrations/g/query", nil, nil, 405, model.ErrMethodNotAllowed},
		{"patch group", "PATCH", "/enrollmentGroups/g", "{}", nil, 405, model.ErrMethodNotAllowed},
		{"body too large", "PUT", "/enrollments/a", big, nil, 413, model.ErrRequestTooLarge},
		{"bulk too large", "POST", "/enrollments", big, nil, 413, model.ErrRequestTooLarge},
		{"xml body", "PUT", "/enrollments/a", "<x/>", []string{"Content-Type", "application/xml"}, 415, model.ErrUnsupportedMediaType},
		{"garbage content type", "POST", "/enrollments/query", `{"query":"*"}`, []string{"Content-Type", ";;;"}, 415, model.ErrUnsupportedMediaType},
		{"no auth", "GET", "/enrollments/a", nil, []string{"Authorization", ""}, 401, model.ErrUnauthorized},
		{"bearer", "GET", "/enrollments/a", nil, []string{"Authorization", "Bearer eyJhbGciOi"}, 401, model.ErrUnauthorized},
		{"malformed sas", "GET", "/enrollments/a", nil, []string{"Authorization", "SharedAccessSignature sr=localhost"}, 401, model.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.method, tt.path, tt.body, tt.headers...)
			mustStatus(t, r, tt.status, tt.code)
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	// A JSON body with no content type and an empty body with a foreign
	// content type are both fine.
	mustStatus(t, e.call("PUT", "/enrollments/ct-1", symEnrollment("ct-1"), "Content-Type", ""), 200)
	mustStatus(t, e.call("POST", "/enrollments/ct-1/attestationmechanism", nil, "Content-Type", "text/plain"), 200)
	mustStatus(t, e.call("POST", "/registrations/g1/query", nil, "Content-Type", "application/octet-stream"), 200)
}

func TestX509Info(t *testing.T) {
	e := newEnv(t)
	root := newTestCert(t, subject("Test Root, Inc.", "Contoso", "US"), nil, true)
	leaf := newTestCert(t, subject("dev-x509", "Contoso", "US"), root, false)
	encodings := []struct {
		name string
		cert string
	}{
		{"PEM", leaf.pem()},
		{"base64 DER", base64.StdEncoding.EncodeToString(leaf.cert.Raw)},
		{"base64 PEM", base64.StdEncoding.EncodeToString([]byte(leaf.pem()))},
	}
	wantSerial := strings.ToUpper(fmt.Sprintf("%x", leaf.cert.SerialNumber.Bytes()))
	if leaf.cert.SerialNumber.Bytes()[0]&0x80 != 0 {
		wantSerial = "00" + wantSerial
	}
	for i, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			id := fmt.Sprintf("x509-%d", i)
			body := map[string]any{"registrationId": id, "attestation": map[string]any{"type": "x509",
				"x509": map[string]any{"clientCertificates": map[string]any{"primary": map[string]any{"certificate": enc.cert}}}}}
			r := e.call(http.MethodPut, "/enrollments/"+id, body)
			mustStatus(t, r, http.StatusOK)
			var got model.IndividualEnrollment
			r.json(t, &got)
			p := got.Attestation.X509.ClientCertificates.Primary
			if p.Certificate != "" {
				t.Fatal("PUT response returns the certificate")
			}
			want := model.X509CertificateInfo{
				SubjectName:      "CN=dev-x509, O=Contoso, C=US",
				IssuerName:       `CN="Test Root, Inc.", O=Contoso, C=US`,
				SHA1Thumbprint:   fmt.Sprintf("%X", sha1Sum(leaf.cert.Raw)),
				SHA256Thumbprint: fmt.Sprintf("%X", sha256Sum(leaf.cert.Raw)),
				NotBeforeUTC:     model.FormatTime(leaf.cert.NotBefore),
				NotAfterUTC:      model.FormatTime(leaf.cert.NotAfter),
				SerialNumber:     wantSerial,
				Version:          3,
			}
			if p.Info == nil || *p.Info != want {
				t.Fatalf("info = %+v\nwant   %+v", p.Info, want)
			}
			// GET hides the certificate but keeps the info; the store keeps it.
			r = e.call(http.MethodGet, "/enrollments/"+id, nil)
			mustStatus(t, r, http.StatusOK)
			if strings.Contains(string(r.body), "certificate\"") || strings.Contains(string(r.body), "BEGIN") {
				t.Fatalf("GET shows the certificate: %s", r.body)
			}
			stored, err := e.inst.st.Enrollment(context.Background(), id)
			if err != nil || !strings.Contains(stored.Attestation.X509.ClientCertificates.Primary.Certificate, "BEGIN CERTIFICATE") {
				t.Fatalf("stored certificate: %+v, %v", stored, err)
			}
			// Sending the GET result back (info only) keeps the certificate.
			var back model.IndividualEnrollment
			r.json(t, &back)
			r = e.call(http.MethodPut, "/enrollments/"+id, back, "If-Match", back.ETag)
			mustStatus(t, r, http.StatusOK)
			stored, _ = e.inst.st.Enrollment(context.Background(), id)
			if stored.Attestation.X509.ClientCertificates.Primary.Certificate == "" {
				t.Fatal("round trip lost the certificate")
			}
			// ... but info that does not match is refused.
			back.Attestation.X509.ClientCertificates.Primary.Info.SHA256Thumbprint = "00"
			mustStatus(t, e.call(http.MethodPut, "/enrollments/"+id, back, "If-Match", "*"), 400, model.ErrBadRequest)
		})
	}
	// Groups take signing certificates or CA references.
	grp := map[string]any{"enrollmentGroupId": "g-x509", "attestation": map[string]any{"type": "x509",
		"x509": map[string]any{"signingCertificates": map[string]any{"primary": map[string]any{"certificate": root.pem()}}}}}
	r := e.call(http.MethodPut, "/enrollmentgroups/g-x509", grp)
	mustStatus(t, r, http.StatusOK)
	var g model.EnrollmentGroup
	r.json(t, &g)
	if g.Attestation.X509.SigningCertificates.Primary.Info.SubjectName != `CN="Test Root, Inc.", O=Contoso, C=US` {
		t.Fatalf("group info: %s", r.body)
	}
	ref := map[string]any{"enrollmentGroupId": "g-ref", "attestation": map[string]any{"type": "x509",
		"x509": map[string]any{"caReferences": map[string]any{"primary": "my-ca"}}}}
	mustStatus(t, e.call(http.MethodPut, "/enrollmentGroups/g-ref", ref), http.StatusOK)
	r = e.call(http.MethodPost, "/enrollmentGroups/g-x509/attestationmechanism", nil)
	mustStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "BEGIN") || !strings.Contains(string(r.body), "sha256Thumbprint") {
		t.Fatalf("group attestationmechanism: %s", r.body)
	}
}

func TestPagingAcross250(t *testing.T) {
	e := newEnv(t)
	for b := range 25 {
		var items []map[string]any
		for i := range 10 {
			items = append(items, symEnrollment(fmt.Sprintf("page-%03d", b*10+i)))
		}
		r := e.call(http.MethodPost, "/enrollments", map[string]any{"mode": "create", "enrollments": items})
		mustStatus(t, r, http.StatusOK)
		var res model.BulkEnrollmentOperationResult
		r.json(t, &res)
		if !res.IsSuccessful {
			t.Fatalf("bulk %d: %s", b, r.body)
		}
	}
	// One with a registration state: query items must not show it.
	if err := e.inst.st.PutRegistration(context.Background(), &store.Registration{State: model.DeviceRegistrationState{RegistrationID: "page-000", Status: "assigned", ETag: "x"}}, ""); err != nil {
		t.Fatal(err)
	}
	var ids []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		hdr := []string{"x-ms-max-item-count", "1000"}
		if token != "" {
			hdr = append(hdr, "x-ms-continuation", token)
		}
		r := e.call(http.MethodPost, "/enrollments/query", `{"query":"SELECT * FROM enrollments WHERE ignored = true"}`, hdr...)
		mustStatus(t, r, http.StatusOK)
		if r.header.Get("x-ms-item-type") != "Enrollment" || r.header.Get("x-ms-max-item-count") != "100" {
			t.Fatalf("query headers: %v", r.header)
		}
		var items []model.IndividualEnrollment
		r.json(t, &items)
		for _, it := range items {
			if it.Attestation.SymmetricKey != nil || it.RegistrationState != nil || it.ETag == "" {
				t.Fatalf("query item shows keys or registration state: %+v", it)
			}
			ids = append(ids, it.RegistrationID)
		}
		token = r.header.Get("x-ms-continuation")
		if token == "" {
			if len(items) != 50 {
				t.Fatalf("last page has %d items", len(items))
			}
			break
		}
		if len(items) != 100 {
			t.Fatalf("page %d has %d items", pages, len(items))
		}
	}
	if len(ids) != 250 || ids[0] != "page-000" || ids[249] != "page-249" {
		t.Fatalf("listed %d ids: first %v", len(ids), ids[:3])
	}
	// The enrollment GET does show the registration state.
	r := e.call(http.MethodGet, "/enrollments/page-000", nil)
	var one model.IndividualEnrollment
	r.json(t, &one)
	if one.RegistrationState == nil || one.RegistrationState.Status != "assigned" {
		t.Fatalf("GET lacks registrationState: %s", r.body)
	}
	// Page size, empty body and bad paging headers.
	r = e.call(http.MethodPost, "/enrollments/query", nil, "x-ms-max-item-count", "7")
	var seven []model.IndividualEnrollment
	r.json(t, &seven)
	if len(seven) != 7 || r.header.Get("x-ms-continuation") == "" || r.header.Get("x-ms-max-item-count") != "7" {
		t.Fatalf("page of 7: %d items, headers %v", len(seven), r.header)
	}
	for _, h := range [][]string{
		{"x-ms-max-item-count", "zero"}, {"x-ms-max-item-count", "0"}, {"x-ms-max-item-count", "-5"},
		{"x-ms-continuation", "garbage!"}, {"x-ms-continuation", continuationToken("g", 5)}, {"x-ms-continuation", continuationToken("e", -1)},
	} {
		mustStatus(t, e.call(http.MethodPost, "/enrollments/query", "{}", h...), 400, model.ErrBadRequest)
	}
	mustStatus(t, e.call(http.MethodPost, "/enrollments/query", `{"query":5}`), 400, model.ErrBadRequest)
	// An empty listing is an empty array with no continuation.
	r = e.call(http.MethodPost, "/enrollmentGroups/query", `{"query":"*"}`)
	mustStatus(t, r, http.StatusOK)
	if string(r.body) != "[]" || r.header.Get("x-ms-continuation") != "" || r.header.Get("x-ms-item-type") != "EnrollmentGroup" {
		t.Fatalf("empty group query: %s %v", r.body, r.header)
	}
}

func TestBulk(t *testing.T) {
	e := newEnv(t)
	mustStatus(t, e.call(http.MethodPut, "/enrollments/exists", symEnrollment("exists")), 200)
	badKey := symEnrollment("bad-key")
	badKey["attestation"] = map[string]any{"type": "symmetricKey", "symmetricKey": map[string]any{"primaryKey": "eA=="}}
	r := e.call(http.MethodPost, "/enrollments/", map[string]any{"mode": "create", "enrollments": []any{
		symEnrollment("new-1"), symEnrollment("Exists"), symEnrollment("bad id"), badKey, symEnrollment("new-2"),
	}})
	mustStatus(t, r, http.StatusOK)
	var res model.BulkEnrollmentOperationResult
	r.json(t, &res)
	want := []model.BulkEnrollmentOperationError{
		{RegistrationID: "Exists", ErrorCode: model.ErrConflict},
		{RegistrationID: "bad id", ErrorCode: model.ErrInvalidRegistrationID},
		{RegistrationID: "bad-key", ErrorCode: model.ErrBadRequest},
	}
	if res.IsSuccessful || len(res.Errors) != len(want) {
		t.Fatalf("bulk result: %s", r.body)
	}
	for i, w := range want {
		if g := res.Errors[i]; g.RegistrationID != w.RegistrationID || g.ErrorCode != w.ErrorCode || g.ErrorStatus == "" {
			t.Fatalf("error %d = %+v, want %+v", i, g, w)
		}
	}
	for _, id := range []string{"new-1", "new-2"} {
		mustStatus(t, e.call(http.MethodGet, "/enrollments/"+id, nil), 200)
	}

	var cur model.IndividualEnrollment
	e.call(http.MethodGet, "/enrollments/new-1", nil).json(t, &cur)
	tests := []struct {
		name  string
		path  string
		body  any
		codes map[string]int // id -> expected error code; empty: success
	}{
		{"update upserts", "/enrollments", map[string]any{"mode": "update", "enrollments": []any{symEnrollment("new-1"), symEnrollment("new-3")}}, nil},
		{"node spelling of updateIfMatchETag", "/enrollments", map[string]any{"mode": "updateIfMatchEtag", "enrollments": []any{
			with(symEnrollment("new-2"), "etag", "c3RhbGU="), with(symEnrollment("missing"), "etag", "c3RhbGU=")}},
			map[string]int{"new-2": model.ErrPreconditionFailed, "missing": model.ErrPreconditionFailed}},
		{"delete", "/enrollments", map[string]any{"mode": "delete", "enrollments": []any{map[string]any{"registrationId": "new-3"}, map[string]any{"registrationId": "gone"}}},
			map[string]int{"gone": model.ErrEnrollmentNotFound}},
		{"group create", "/enrollmentGroups", map[string]any{"mode": "create", "enrollmentGroups": []any{symGroup("g-1"), symGroup("G-1")}},
			map[string]int{"G-1": model.ErrConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bulkErrors(t, e, tt.path, tt.body)
			if (len(got) == 0) != (len(tt.codes) == 0) || fmt.Sprint(got) != fmt.Sprint(tt.codes) && len(tt.codes) > 0 {
				t.Fatalf("errors %v, want %v", got, tt.codes)
			}
		})
	}
	mustStatus(t, e.call(http.MethodGet, "/enrollments/new-3", nil), 404, model.ErrEnrollmentNotFound)
	// With the right etag updateIfMatchETag succeeds.
	e.call(http.MethodGet, "/enrollments/new-2", nil).json(t, &cur)
	r = e.call(http.MethodPost, "/enrollments", map[string]any{"mode": "updateIfMatchETag", "enrollments": []any{with(symEnrollment("new-2"), "etag", cur.ETag)}})
	if !strings.Contains(string(r.body), `"isSuccessful":true`) {
		t.Fatalf("updateIfMatchETag with the current etag: %s", r.body)
	}

	many := make([]any, MaxBulkItems+1)
	for i := range many {
		many[i] = symEnrollment(fmt.Sprintf("m-%d", i))
	}
	for name, body := range map[string]any{
		"eleven items": map[string]any{"mode": "create", "enrollments": many},
		"no items":     map[string]any{"mode": "create", "enrollments": []any{}},
		"no mode":      map[string]any{"enrollments": []any{symEnrollment("x")}},
		"bad mode":     map[string]any{"mode": "merge", "enrollments": []any{symEnrollment("x")}},
		"wrong list":   map[string]any{"mode": "create", "enrollmentGroups": []any{symGroup("x")}},
		"item type":    `{"mode":"create","enrollments":[{"registrationId":[]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			mustStatus(t, e.call(http.MethodPost, "/enrollments", body), 400, model.ErrBadRequest)
		})
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestRoutesIgnoreCaseAndTrailingSlash(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		body         any
		status       int
	}{
		{"PUT", "/ENROLLMENTS/Dev%3A1/", map[string]any{"registrationId": "dev:1", "attestation": map[string]any{"type": "symmetricKey"}}, 200},
		{"GET", "/Enrollments/DEV:1", nil, 200},
		{"GET", "/enrollments/dev%3a1/", nil, 200},
		{"POST", "/enrollments/dev:1/AttestationMechanism/", nil, 200},
		{"PUT", "/enrollmentgroups/grp-1", symGroup("grp-1"), 200},
		{"POST", "/enrollmentgroups/GRP-1/attestationmechanism", nil, 200},
		{"GET", "/EnrollmentGroups/grp-1/", nil, 200},
		{"POST", "/ENROLLMENTS/QUERY/", `{"query":"*"}`, 200},
		{"POST", "/enrollmentGroups/", map[string]any{"mode": "delete", "enrollmentGroups": []any{symGroup("grp-1")}}, 200},
		{"POST", "/Registrations/grp-1/Query", nil, 200},
		{"GET", "/enrollments/dev:1?API-VERSION=2018-04-01", nil, 200},
		{"DELETE", "//enrollments//", nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			mustStatus(t, e.call(tt.method, tt.path, tt.body), tt.status)
		})
	}
	for _, v := range APIVersions {
		mustStatus(t, e.call("GET", "/enrollments/dev:1?api-version="+v, nil), 200)
	}
}

func TestRegistrations(t *testing.T) {
	e := newEnv(t)
	st := e.inst.st
	ctx := context.Background()
	for i := range 5 {
		group := "grp-a"
		if i%2 == 1 {
			group = "grp-b"
		}
		reg := &store.Registration{EnrollmentGroupID: group, State: model.DeviceRegistrationState{
			RegistrationID: fmt.Sprintf("reg-%d", i), Status: model.RegAssigned, AssignedHub: "hub.azure-devices.net",
			DeviceID: fmt.Sprintf("reg-%d", i), ETag: fmt.Sprintf("etag-%d", i), CreatedDateTimeUTC: "2025-01-01T00:00:00.0000000Z",
		}}
		if err := st.PutRegistration(ctx, reg, ""); err != nil {
			t.Fatal(err)
		}
	}
	r := e.call(http.MethodGet, "/registrations/REG-0", nil)
	mustStatus(t, r, 200)
	var state model.DeviceRegistrationState
	r.json(t, &state)
	if state.RegistrationID != "reg-0" || state.AssignedHub != "hub.azure-devices.net" || state.ETag != "etag-0" {
		t.Fatalf("registration: %s", r.body)
	}
	for _, body := range []any{nil, `{"query":"*"}`} {
		r = e.call(http.MethodPost, "/registrations/GRP-A/query", body, "x-ms-max-item-count", "2")
		mustStatus(t, r, 200)
		var items []model.DeviceRegistrationState
		r.json(t, &items)
		if len(items) != 2 || items[0].RegistrationID != "reg-0" || r.header.Get("x-ms-item-type") != "DeviceRegistration" || r.header.Get("x-ms-continuation") == "" {
			t.Fatalf("first page: %s %v", r.body, r.header)
		}
		r = e.call(http.MethodPost, "/registrations/grp-a/query", body, "x-ms-max-item-count", "2", "x-ms-continuation", r.header.Get("x-ms-continuation"))
		r.json(t, &items)
		if len(items) != 1 || items[0].RegistrationID != "reg-4" || r.header.Get("x-ms-continuation") != "" {
			t.Fatalf("second page: %s %v", r.body, r.header)
		}
	}
	mustStatus(t, e.call(http.MethodDelete, "/registrations/reg-1", nil, "If-Match", "wrong"), 412, model.ErrPreconditionFailed)
	mustStatus(t, e.call(http.MethodDelete, "/registrations/reg-1", nil, "If-Match", `"etag-1"`), 204)
	mustStatus(t, e.call(http.MethodGet, "/registrations/reg-1", nil), 404, model.ErrRegistrationNotFound)
	mustStatus(t, e.call(http.MethodPost, "/registrations/bad!group/query", nil), 400, model.ErrInvalidRegistrationID)
}

// continuationToken is a continuation token in the service's shape
// (base64url of "<tag>:<cursor>"), to forge ones it must refuse.
func continuationToken(tag string, cursor int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + ":" + strconv.FormatInt(cursor, 10)))
}

// callCase is one service API call of a table and the answer it must get.
type callCase struct {
	name    string
	method  string
	path    string
	body    any
	headers []string
	status  int
	code    int
}
