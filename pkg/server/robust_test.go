package server

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// nest returns n levels of nested arrays.
func nest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// twinEnrollment is an enrollment body whose initialTwin.tags.x is raw:
// x sits at level 4 (body, initialTwin, tags, then x's own brackets).
func twinEnrollment(id, x string) string {
	return `{"registrationId":"` + id + `","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"x":` + x + `}}}`
}

// A body nested deeper than MaxJSONDepth, or not UTF-8, is refused before
// it is stored, on every service API route that reads JSON; what was
// accepted reads back.
func TestJSONBodyLimits(t *testing.T) {
	e := newEnv(t)
	atLimit := nest(httpapi.MaxJSONDepth - 3)
	over := nest(httpapi.MaxJSONDepth - 2)
	deep := nest(47000)
	bulk := func(items ...string) string {
		return `{"mode":"create","enrollments":[` + strings.Join(items, ",") + `]}`
	}
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"put at the limit", "PUT", "/enrollments/at-limit", twinEnrollment("at-limit", atLimit), 200},
		{"put one level over", "PUT", "/enrollments/over", twinEnrollment("over", over), 400},
		{"put 47,000 levels", "PUT", "/enrollments/deep", twinEnrollment("deep", deep), 400},
		{"objects over the limit", "PUT", "/enrollments/objs", twinEnrollment("objs", strings.Repeat(`{"a":`, httpapi.MaxJSONDepth)+"1"+strings.Repeat("}", httpapi.MaxJSONDepth)), 400},
		{"brackets in strings do not nest", "PUT", "/enrollments/str", twinEnrollment("str", `"`+strings.Repeat("[{", 200)+`\"[[[\\"`), 200},
		{"group over the limit", "PUT", "/enrollmentGroups/g-over", `{"enrollmentGroupId":"g-over","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"x":` + over + `}}}`, 400},
		{"bulk with one deep item", "POST", "/enrollments", bulk(twinEnrollment("b-ok", "1"), twinEnrollment("b-deep", deep)), 400},
		{"bulk at the limit", "POST", "/enrollments", bulk(twinEnrollment("b-limit", nest(httpapi.MaxJSONDepth-5))), 200},
		{"query over the limit", "POST", "/enrollments/query", `{"query":"*","x":` + nest(httpapi.MaxJSONDepth) + `}`, 400},
		{"group query over the limit", "POST", "/enrollmentGroups/query", `{"query":"*","x":` + nest(httpapi.MaxJSONDepth) + `}`, 400},
		{"registration query over the limit", "POST", "/registrations/g/query", `{"query":"*","x":` + nest(httpapi.MaxJSONDepth) + `}`, 400},
		{"invalid UTF-8 in a tag value", "PUT", "/enrollments/u1", twinEnrollment("u1", "{\"site\":\"lab\xff\"}"), 400},
		{"invalid UTF-8 in a tag key", "PUT", "/enrollments/u2", twinEnrollment("u2", "{\"s\xc3\x28\":1}"), 400},
		{"invalid UTF-8 in desired properties", "PUT", "/enrollments/u3", `{"registrationId":"u3","attestation":{"type":"symmetricKey"},"initialTwin":{"properties":{"desired":{"m":"\xed\xa0\x80"}}}}`, 400},
		{"invalid UTF-8 in a bulk item", "POST", "/enrollments", bulk(twinEnrollment("u4", "\"\xfe\"")), 400},
		{"invalid UTF-8 in a query", "POST", "/enrollments/query", "{\"query\":\"\x80\"}", 400},
		{"multibyte UTF-8 is fine", "PUT", "/enrollments/u5", twinEnrollment("u5", `{"café":"été ☀ 🛰"}`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.method, tt.path, tt.body)
			mustStatus(t, r, tt.status, model.ErrBadRequest)
			if tt.status == 200 && tt.method == "POST" && !strings.Contains(string(r.body), `"isSuccessful":true`) {
				t.Fatalf("%s", r.body)
			}
		})
	}
	// Nothing refused was stored, and everything stored reads back.
	for _, id := range []string{"over", "deep", "objs", "b-ok", "b-deep", "u1", "u2", "u3", "u4"} {
		mustStatus(t, e.call("GET", "/enrollments/"+id, nil), 404)
	}
	for _, id := range []string{"at-limit", "str", "b-limit", "u5"} {
		r := e.call("GET", "/enrollments/"+id, nil)
		mustStatus(t, r, 200)
		var got model.IndividualEnrollment
		r.json(t, &got)
		if got.InitialTwin == nil || len(got.InitialTwin.Tags) == 0 {
			t.Fatalf("%s: %s", id, r.body)
		}
	}
	if r := e.call("GET", "/enrollments/u5", nil); !strings.Contains(string(r.body), `"café":"été ☀ 🛰"`) {
		t.Fatalf("%s", r.body)
	}
	r := e.call("POST", "/enrollments/query", `{"query":"*"}`)
	mustStatus(t, r, 200)
	var list []model.IndividualEnrollment
	r.json(t, &list)
	if len(list) != 4 {
		t.Fatalf("query lists %d enrollments: %s", len(list), r.body)
	}
}

// The device API refuses a deep or non-UTF-8 body of an authenticated
// device with 400.
func TestDeviceBodyLimits(t *testing.T) {
	e := newEnv(t)
	d := e.deviceClient()
	e.put("/enrollments/dev-json", map[string]any{"registrationId": "dev-json", "attestation": symKeys(keyA, keyB)})
	tests := []struct {
		name, body string
		status     int
	}{
		{"payload over the limit", `{"registrationId":"dev-json","payload":` + nest(httpapi.MaxJSONDepth) + `}`, 400},
		{"payload of 47,000 levels", `{"registrationId":"dev-json","payload":` + nest(47000) + `}`, 400},
		{"payload not UTF-8", "{\"registrationId\":\"dev-json\",\"payload\":{\"k\":\"\xff\xfe\"}}", 400},
		{"payload at the limit", `{"registrationId":"dev-json","payload":` + nest(httpapi.MaxJSONDepth-1) + `}`, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.register("dev-json", d.symToken("dev-json", keyA), tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 400 {
				if code := r.errorCode(t); code != model.ErrBadRequest {
					t.Fatalf("errorCode %d", code)
				}
			}
		})
	}
}
