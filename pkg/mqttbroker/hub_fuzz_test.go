package mqttbroker

import (
	"encoding/json"
	"testing"
)

// FuzzTwinPatch: a reported patch from a device (untrusted JSON) either is
// refused or leaves a section that is a JSON object within the size limit,
// without "$" keys, and the version moves by one exactly when accepted.
func FuzzTwinPatch(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":null}}`, `{"$version":9}`, `null`, `[1]`, `{"a":{"b":{"c":[1,2]}}}`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, patch []byte) {
		h := NewHub("h", nil, HubOptions{})
		if _, err := h.patchReported("d", []byte(`{"keep":{"x":1}}`)); err != nil {
			t.Fatal(err)
		}
		v, err := h.patchReported("d", patch)
		tw, terr := h.Twin("d")
		if terr != nil {
			t.Fatal(terr)
		}
		got := tw.Properties.Reported["$version"].(int64)
		if err != nil {
			if got != 2 {
				t.Fatalf("refused patch %q moved the version to %d", patch, got)
			}
			return
		}
		if v != 3 || got != 3 {
			t.Fatalf("accepted patch %q: version %d/%d, want 3", patch, v, got)
		}
		delete(tw.Properties.Reported, "$version")
		b, err := json.Marshal(tw.Properties.Reported)
		if err != nil || len(b) > MaxTwinSectionSize {
			t.Fatalf("section after %q: %d bytes, %v", patch, len(b), err)
		}
		for k := range tw.Properties.Reported {
			if k != "" && k[0] == '$' {
				t.Fatalf("patch %q stored the key %q", patch, k)
			}
		}
	})
}
