package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// checkArray holds WriteJSONArray to WriteJSON: the same status, headers
// and body.
func checkArray[T any](t *testing.T, items []T) {
	t.Helper()
	want, got := httptest.NewRecorder(), httptest.NewRecorder()
	WriteJSON(want, 200, items)
	WriteJSONArray(got, 200, items)
	if want.Code != 200 {
		// An error answer: fresh tracking IDs and times, the same error.
		var we, ge model.ErrorDetails
		_ = json.Unmarshal(want.Body.Bytes(), &we)
		_ = json.Unmarshal(got.Body.Bytes(), &ge)
		if got.Code != want.Code || ge.ErrorCode != we.ErrorCode || ge.Message != we.Message {
			t.Fatalf("WriteJSONArray: %d %s\nWriteJSON:      %d %s", got.Code, got.Body, want.Code, want.Body)
		}
		return
	}
	if got.Code != want.Code || got.Body.String() != want.Body.String() {
		t.Fatalf("WriteJSONArray: %d %s\nWriteJSON:      %d %s", got.Code, got.Body, want.Code, want.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if got.Header().Get(h) != want.Header().Get(h) {
			t.Fatalf("%s: %q, WriteJSON sets %q", h, got.Header().Get(h), want.Header().Get(h))
		}
	}
}

var arraySeeds = []string{
	`{"registrationId":"a","attestation":{"type":"symmetricKey"}}`,
	`{"registrationId":"<b>&</b>","deviceId":"\u2028x\u2029","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAAA"}}}`,
	`{"registrationId":"é","credentialPolicyName" : { "a" : [ 1 , 2 ] },"attestation":{"type":"x509","x509":{},"newer" : "<&>"}}`,
	`{"registrationId":"b","initialTwin":{"properties":{"desired":{"k":"v\u003c"}}}}`,
}

func TestWriteJSONArrayMatchesWriteJSON(t *testing.T) {
	var items []*model.IndividualEnrollment
	for _, s := range arraySeeds {
		var e model.IndividualEnrollment
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			t.Fatal(err)
		}
		items = append(items, &e)
	}
	checkArray(t, items)
	checkArray(t, items[:1])
	checkArray(t, []*model.IndividualEnrollment{})
	checkArray(t, []*model.IndividualEnrollment{items[0], nil})
	checkArray(t, []model.DeviceRegistrationState{{RegistrationID: "r<1>"}})
	checkArray(t, []json.RawMessage{json.RawMessage(`{ "a" : "<" }`), json.RawMessage(`[1, 2]`)})
	checkArray(t, []json.RawMessage{json.RawMessage(`{ "a" : `)})
}

func FuzzWriteJSONArray(f *testing.F) {
	for _, s := range arraySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var e model.IndividualEnrollment
		if json.Unmarshal(doc, &e) != nil {
			return
		}
		checkArray(t, []*model.IndividualEnrollment{&e, &e})
		checkArray(t, []json.RawMessage{doc})
	})
}
