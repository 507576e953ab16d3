package output

import (
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

// wholeYAML is the YAML form of a list as it was printed before listings
// streamed: every item's JSON form gathered into one array, converted at
// once.
func wholeYAML(items []any, show bool) (string, error) {
	all := []json.RawMessage{}
	for _, it := range items {
		b, err := jsonForm(it, show)
		if err != nil {
			return "", err
		}
		all = append(all, b)
	}
	b, err := jsonForm(all, show)
	if err != nil {
		return "", err
	}
	y, err := jsonToYAML(b)
	return string(y), err
}

func streamedYAML(t testing.TB, items []any, show bool) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	p, err := New(ios, Options{Format: "yaml", ShowKeys: show})
	if err != nil {
		t.Fatal(err)
	}
	err = PrintList(p, items, nil, "items")
	return out.String(), err
}

var yamlItems = []struct {
	name  string
	items []any
}{
	{"none", nil},
	{"one object", []any{map[string]any{"registrationId": "dev-1", "attestation": map[string]any{"type": "symmetricKey"}}}},
	{"enrollments", []any{
		map[string]any{"registrationId": "dev-1", "iotHubs": []string{"h1.azure-devices.net", "h2"}, "capabilities": map[string]any{"iotEdge": false}, "etag": "\"abc\""},
		map[string]any{"registrationId": "dev-2", "tags": map[string]any{}, "list": []any{}, "n": 12, "f": 1.5, "null": nil},
	}},
	{"strings that need quoting", []any{map[string]any{"a": "yes", "b": "123", "c": "- x", "d": "key: value", "e": "#c", "f": "", "g": " lead", "h": "null", "i": "@x", "j": "~"}}},
	{"multi-line strings", []any{map[string]any{"pem": "-----BEGIN CERTIFICATE-----\nMIIB\n\nAAA\n-----END CERTIFICATE-----\n", "two": "a\nb", "trail": "x\n\n\n"}}},
	{"long strings", []any{map[string]any{"long": strings.Repeat("word ", 60), "longer": strings.Repeat("abcdefghij", 30)}}},
	{"unicode", []any{map[string]any{"name": "日本語 é ✓", "ctl": "a\tb\u0007"}}},
	{"nested lists", []any{map[string]any{"a": []any{[]any{1, 2}, map[string]any{"x": []any{"y"}}, []any{}}}}},
	{"secrets", []any{map[string]any{"attestation": map[string]any{"symmetricKey": map[string]any{"primaryKey": "c2VjcmV0", "secondaryKey": "c2Vjb25k"}}}}},
	{"empty object", []any{map[string]any{}, map[string]any{"a": 1}}},
	{"scalars and lists", []any{"text", 3, true, nil, "a\nb", []any{1, "x"}, []any{}, []any{map[string]any{"k": "v"}}}},
}

// TestStreamYAMLMatchesWhole: a streamed YAML listing is the bytes of the
// whole list converted at once.
func TestStreamYAMLMatchesWhole(t *testing.T) {
	for _, tt := range yamlItems {
		for _, show := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := streamedYAML(t, tt.items, show)
				if err != nil {
					t.Fatal(err)
				}
				want, err := wholeYAML(tt.items, show)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("streamed:\n%s\nwhole list:\n%s", got, want)
				}
			})
		}
	}
}

// FuzzStreamYAMLMatchesWhole: items are the JSON values of data, one per
// line.
func FuzzStreamYAMLMatchesWhole(f *testing.F) {
	f.Add("{\"a\":\"b\"}\n{\"c\":[1,2,{\"d\":\"e\\nf\"}]}")
	f.Add("\"x\"\n[]\n{}\nnull")
	f.Add("{\"primaryKey\":\"k\",\"s\":\"  lead\\n\\ntrail  \"}")
	f.Add("{\"\":\"\u007f\"}")
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > 4000 {
			return
		}
		var items []any
		for _, l := range strings.Split(data, "\n") {
			var v any
			if json.Unmarshal([]byte(l), &v) != nil {
				return
			}
			items = append(items, v)
		}
		got, gotErr := streamedYAML(t, items, false)
		want, wantErr := wholeYAML(items, false)
		if wantErr != nil {
			// Stopped at the item YAML cannot hold, after printing those before.
			if gotErr == nil {
				t.Errorf("whole list fails (%v), streaming printed %q", wantErr, got)
			}
			return
		}
		if gotErr != nil || got != want {
			t.Errorf("streamed:\n%q\nwhole list:\n%q", got, want)
		}
	})
}

// TestStreamYAMLStopsOnError: items before a failure are printed, the
// error is returned.
func TestStreamYAMLStopsOnError(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p, err := New(ios, Options{Format: "yaml"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("page 2 failed")
	var seq iter.Seq2[map[string]any, error] = func(yield func(map[string]any, error) bool) {
		if yield(map[string]any{"a": 1}, nil) {
			yield(nil, boom)
		}
	}
	if err := PrintSeq(p, seq, nil, "items"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if out.String() != "- a: 1\n" {
		t.Errorf("printed %q", out.String())
	}
}
