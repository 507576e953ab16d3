package output

import (
	"encoding/json"
	"errors"
	"testing"
)

// rawMarshaler returns its bytes as its JSON form, whatever they are.
type rawMarshaler struct{ raw []byte }

func (r rawMarshaler) MarshalJSON() ([]byte, error) { return r.raw, nil }

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no form") }

type plainItem struct {
	Name    string            `json:"name"`
	Key     string            `json:"primaryKey,omitempty"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Pointer *rawMarshaler     `json:"pointer,omitempty"`
}

// checkIndentedForm holds appendIndentedForm to the long way: the same
// bytes after what dst held, or the same error.
func checkIndentedForm(t *testing.T, v any) {
	t.Helper()
	for _, show := range []bool{false, true} {
		want, wantErr := appendIndentedFormSlowly([]byte("x"), v, show, "  ", "  ")
		got, err := appendIndentedForm([]byte("x"), v, show, "  ", "  ")
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%#v show=%v: error %v, want %v", v, show, err, wantErr)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("%#v show=%v:\n got %q\nwant %q", v, show, got[1:], want[1:])
		}
	}
}

var formSamples = []string{
	`{"name":"a"}`,
	` { "name" : "a", "attestation" : { "symmetricKey" : { "primaryKey" : "k1", "secondaryKey" : "k2" } } } `,
	`{"name":"primaryKey","note":"\"primaryKey\""}`,
	`{"name":"é","list":[1,2.5e3,-0,{"connectionString":"HostName=h;SharedAccessKey=abc"}]}`,
	`{"name":"<b>&amp;</b>","u":"\u2028"}`,
	`{"primary\u004bey":"k"}`,
	`{"sharedAccessKey":null,"primaryKey":12}`,
	`[{"primaryKey":"a"},{"b":[]},{}]`,
	`"just a string"`, `42`, `null`, `{}`, `[]`,
	`{"name":"a"} `, "{\"name\":\"a\"}\n",
	// refused by encoding/json
	`{"name":}`, `{"name":"a"`, `{"a":1} x`, ``,
}

func TestIndentedFormMatchesJSONForm(t *testing.T) {
	for _, s := range formSamples {
		checkIndentedForm(t, rawMarshaler{[]byte(s)})
		checkIndentedForm(t, &rawMarshaler{[]byte(s)})
	}
	checkIndentedForm(t, (*rawMarshaler)(nil))
	checkIndentedForm(t, failingMarshaler{})
	checkIndentedForm(t, plainItem{Name: "a", Key: "secret", Extra: json.RawMessage(`{ "x" : 1 }`), Labels: map[string]string{"b": "<", "a": "é"}})
	checkIndentedForm(t, plainItem{Name: "a", Pointer: &rawMarshaler{[]byte(`{"primaryKey":"p"}`)}})
	checkIndentedForm(t, map[string]any{"connectionString": "HostName=x;SharedAccessKeyName=n;SharedAccessKey=k", "n": 1})
	checkIndentedForm(t, []any{"a", 1, nil})
}

func FuzzIndentedForm(f *testing.F) {
	for _, s := range formSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkIndentedForm(t, rawMarshaler{raw})
		checkIndentedForm(t, plainItem{Name: string(raw), Extra: json.RawMessage(raw)})
	})
}
