package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// bulkBody is the shape of a bulk call's body (pkg/server/service), a body
// the service decodes often and large.
type bulkBody struct {
	Mode             string                       `json:"mode"`
	Enrollments      []model.IndividualEnrollment `json:"enrollments"`
	EnrollmentGroups []model.IndividualEnrollment `json:"enrollmentGroups"`
}

var bodySeeds = []string{
	`{"mode":"create","enrollments":[{"registrationId":"a","attestation":{"type":"tpm","tpm":{"endorsementKey":"AAAA"}}}]}`,
	`  {"mode":"create","enrollments":[]}  `,
	`{"mode":"create"} {"mode":"delete"}`,
	`{"mode":"create"} garbage`,
	`{"mode":"create","enrollments":[{"registrationId":`,
	`{"mode":5}`,
	`{"mode":"create","enrollments":[{"registrationId":"a","iotHubs":"x"}]}`,
	`{"mode":"create","enrollments":{}}`,
	`{"mode":"create",}`,
	`{"mode":"create","enrollments":[{"registrationId":"\ud800"}]}`,
	`[]`,
	``,
	`null`,
	`{}`,
	`{"Mode":"CREATE","ENROLLMENTS":[{"REGISTRATIONID":"x"}]}`,
}

// refDecodeJSON decodes as encoding/json does; decodeJSON must agree
// with it.
func refDecodeJSON(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return BadRequest("the request body must be a JSON object")
	}
	// The service's limits, checked here independently of jsoncheck.go:
	// UTF-8 by the standard library, depth by encoding/json's tokens.
	if !utf8.Valid(t) {
		return BadRequest("the request body is not valid UTF-8")
	}
	if refTooDeep(t) {
		return BadRequest("the request body nests deeper than %d levels", MaxJSONDepth)
	}
	return decodeJSONStd(t, v)
}

// refTooDeep reports whether the JSON text nests objects and arrays deeper
// than MaxJSONDepth before its first syntax error.
func refTooDeep(t []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(t))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > MaxJSONDepth {
				return true
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// TestDecodeJSONAnswersAsEncodingJSON: the service's decoder gives the
// answers of encoding/json, message for message.
func TestDecodeJSONAnswersAsEncodingJSON(t *testing.T) {
	for _, s := range bodySeeds {
		t.Run(s, func(t *testing.T) {
			var a, b bulkBody
			errA, errB := DecodeJSON([]byte(s), &a), refDecodeJSON([]byte(s), &b)
			if fmt.Sprint(errA) != fmt.Sprint(errB) {
				t.Fatalf("decodeJSON:    %v\nencoding/json: %v", errA, errB)
			}
			if errA == nil && !reflect.DeepEqual(a, b) {
				t.Fatalf("decoded %+v, encoding/json %+v", a, b)
			}
		})
	}
}

// FuzzDecodeJSON holds the service's decoder to encoding/json: both accept
// or both refuse (with the same status), and decode alike.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	// Refused by the service's limits, which encoding/json alone accepts.
	f.Add([]byte("{\"mode\":\"c\xebeate\",\"enrollments\":[]}"))
	f.Add([]byte(`{"enrollments":[{"initialTwin":{"tags":` + strings.Repeat(`{"a":`, MaxJSONDepth+1) + `1` + strings.Repeat(`}`, MaxJSONDepth+1) + `}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a, b bulkBody
		errA, errB := DecodeJSON(body, &a), refDecodeJSON(body, &b)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("decodeJSON: %v; encoding/json: %v", errA, errB)
		}
		if errA != nil {
			ea, okA := AsError(errA)
			eb, okB := AsError(errB)
			if !okA || !okB || ea.Code != eb.Code {
				t.Fatalf("decodeJSON: %v; encoding/json: %v", errA, errB)
			}
			return
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decoded %+v, encoding/json %+v", a, b)
		}
	})
}

func TestJSONTooDeepAt(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want int
	}{
		{"empty", ``, 1, -1},
		{"flat object", `{"a":1}`, 1, -1},
		{"nested over", `{"a":{"b":1}}`, 1, 5},
		{"array at the limit", `[[[]]]`, 3, -1},
		{"array over", `[[[[]]]]`, 3, 3},
		{"brackets in a string", `{"a":"[[[[{{{{"}`, 1, -1},
		{"escaped quote in a string", `{"a":"\"[[[["}`, 1, -1},
		{"escaped backslash ends the string", `{"a":"\\","b":[[]]}`, 2, 15},
		{"three backslashes and a quote", `{"a":"\\\"[[","b":1}`, 1, -1},
		{"brackets in a key", `{"[[[[":{"x":1}}`, 2, -1},
		{"siblings do not add up", `[[],[],[],[]]`, 2, -1},
		{"unterminated string", `{"a":"[[[[`, 1, -1},
		{"unbalanced closers", `]]]]{[[`, 2, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonTooDeepAt([]byte(tt.in), tt.max); got != tt.want {
				t.Fatalf("jsonTooDeepAt(%q, %d) = %d, want %d", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

// jsonDepth is the nesting depth of valid JSON, by encoding/json's tokens.
func jsonDepth(b []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, most := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return most, nil
		}
		if err != nil {
			return 0, err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			most = max(most, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// For valid JSON, jsonTooDeepAt agrees with encoding/json on the depth.
func FuzzJSONTooDeepAt(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"[\"{"}]}`, `[[[["\\"]]]]`, `{"\\\\\"[":{"x":[]}}`, `"[[["`, `[{"a":"\u005b"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := jsonDepth(b)
		if err != nil || !json.Valid(b) {
			jsonTooDeepAt(b, 3) // must not panic
			return
		}
		for _, limit := range []int{0, 1, 2, 3, 8} {
			if over := jsonTooDeepAt(b, limit) >= 0; over != (want > limit) {
				t.Fatalf("%q: depth %d, limit %d: over = %v", b, want, limit, over)
			}
		}
	})
}
