package jsonfmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var samples = []string{
	`{}`, `[]`, `""`, `0`, `-0.5e+10`, `1E3`, `true`, `false`, `null`,
	`{"a":1}`, ` { "a" : [ 1 , 2 , { } , [ ] ] , "b" : "x" } `, "[1,2]\n\t ",
	`{"registrationId":"dev-1","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"abc=="}},"capabilities":{"iotEdge":false}}`,
	`"<a href=\"x\">&amp;</a>"`, "\"\u2028\u2029 \u00e9 \xff\"", `"\u00e9\n\\\/"`,
	`[[[[[]]]]]`, `{"a":{"b":{"c":{}}}}`, `[-0,0.0,1e-7,123456789012345678901234567890]`,
	// refused
	``, ` `, `{`, `}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`tru`, `nul`, `"abc`, "\"a\x01\"", `"\x"`, `"\u12G4"`, `[1 2]`, `{"a":1 "b":2}`, `1 2`, `{1:2}`,
	`[]]`, `"\u123"`,
}

func TestIndentMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		checkIndent(t, []byte(s), ">", "\t")
	}
	// At the nesting limit and past it; no indent, which would grow as
	// the square of the depth.
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	checkIndent(t, []byte(deep), "", "")
	checkIndent(t, []byte("["+deep+"]"), "", "")
	checkIndent(t, []byte(strings.Repeat("[", maxDepth)+"1"+strings.Repeat("]", maxDepth)), "", "")
	checkIndent(t, []byte(strings.Repeat("[", maxDepth+1)+"1"+strings.Repeat("]", maxDepth+1)), "", "")
}

func TestCompactMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		checkCompact(t, []byte(s))
	}
	deep := strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1)
	checkCompact(t, []byte(deep))
}

// checkIndent holds AppendIndent to json.Indent on src: the same bytes
// after the same prefix in dst, or both refusing.
func checkIndent(t *testing.T, src []byte, prefix, indent string) {
	t.Helper()
	var want bytes.Buffer
	want.WriteString("pre")
	wantErr := json.Indent(&want, src, prefix, indent)
	got, ok := AppendIndent([]byte("pre"), src, prefix, indent, Options{})
	if ok != (wantErr == nil) {
		t.Fatalf("AppendIndent(%q): ok %v, json.Indent error %v", src, ok, wantErr)
	}
	if ok && !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("AppendIndent(%q) = %q, json.Indent gives %q", src, got, want.Bytes())
	}
	if !ok && string(got) != "pre" {
		t.Fatalf("AppendIndent(%q) refused but changed dst to %q", src, got)
	}
}

// checkCompact holds AppendCompact to json.Compact (no escaping) and to
// json.Marshal of a json.RawMessage (HTML escaped) on src.
func checkCompact(t *testing.T, src []byte) {
	t.Helper()
	var want bytes.Buffer
	wantErr := json.Compact(&want, src)
	got, ok := AppendCompact(nil, src, false)
	if ok != (wantErr == nil) {
		t.Fatalf("AppendCompact(%q, false): ok %v, json.Compact error %v", src, ok, wantErr)
	}
	if ok && !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("AppendCompact(%q, false) = %q, json.Compact gives %q", src, got, want.Bytes())
	}
	escaped, err := json.Marshal(json.RawMessage(src))
	got, ok = AppendCompact([]byte("x"), src, true)
	if ok != (err == nil) {
		t.Fatalf("AppendCompact(%q, true): ok %v, json.Marshal error %v", src, ok, err)
	}
	if ok && string(got) != "x"+string(escaped) {
		t.Fatalf("AppendCompact(%q, true) = %q, json.Marshal gives %q", src, got[1:], escaped)
	}
}

func TestIndentOptionsStop(t *testing.T) {
	src := []byte(`{"a":{"primaryKey":"k"},"b":"x"}`)
	var names []string
	got, ok := AppendIndent(nil, src, "", "  ", Options{Member: func(n []byte) bool {
		names = append(names, string(n))
		return string(n) != "primaryKey"
	}})
	if ok || got != nil {
		t.Fatalf("a refused member name did not stop the pass: %q %v", got, ok)
	}
	if strings.Join(names, ",") != "a,primaryKey" {
		t.Fatalf("members seen %v, want a then primaryKey", names)
	}
	for _, s := range []string{`{"a":"\n"}`, `{"a":"é"}`, `{"\u0061":1}`} {
		if _, ok := AppendIndent(nil, []byte(s), "", " ", Options{Plain: true}); ok {
			t.Errorf("Plain did not stop at %s", s)
		}
		if _, ok := AppendIndent(nil, []byte(s), "", " ", Options{}); !ok {
			t.Errorf("%s refused without Plain", s)
		}
	}
	if _, ok := AppendIndent(nil, []byte(`{"a":"<&>"}`), "", " ", Options{Plain: true}); !ok {
		t.Error("Plain stopped at ASCII")
	}
}

func FuzzIndent(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkIndent(t, src, ">", "\t") })
}

func FuzzCompact(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkCompact(t, src) })
}

func BenchmarkIndent(b *testing.B) {
	src := []byte(`{"registrationId":"bench-0000001","attestation":{"type":"tpm","tpm":{"endorsementKey":"AHoAIwALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAADABAAIA6Z7VJlQXjthlpTvKGMHu2nKYbJHo3qpBN6MwdwhUHyACBDS9LsXVntp3/ppCIOTDYRTmCJkfa7jVc/7SbEPCcLTg=="}},"capabilities":{"iotEdge":false},"etag":"abc","provisioningStatus":"enabled","createdDateTimeUtc":"2026-01-01T00:00:00Z"}`)
	b.Run("jsonfmt", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		var dst []byte
		for b.Loop() {
			dst, _ = AppendIndent(dst[:0], src, "  ", "  ", Options{Plain: true, Member: func([]byte) bool { return true }})
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		var dst bytes.Buffer
		for b.Loop() {
			dst.Reset()
			_ = json.Indent(&dst, src, "  ", "  ")
		}
	})
}

func TestCompactWithout(t *testing.T) {
	dropPaths := func(paths ...string) func([][]byte) bool {
		return func(path [][]byte) bool {
			parts := make([]string, len(path))
			for i, p := range path {
				if p == nil {
					parts[i] = "[]"
				} else {
					parts[i] = string(p)
				}
			}
			joined := strings.Join(parts, ".")
			for _, p := range paths {
				if p == joined {
					return true
				}
			}
			return false
		}
	}
	for _, c := range []struct {
		src, want string
		drop      []string
	}{
		{`{"a":1,"b":2}`, `{"b":2}`, []string{"a"}},
		{`{"a":1,"b":2}`, `{"a":1}`, []string{"b"}},
		{`{"a":1,"b":2,"c":3}`, `{"a":1,"c":3}`, []string{"b"}},
		{`{"a":1}`, `{}`, []string{"a"}},
		{` { "a" : { "k" : "<" , "b" : [ 1 ] } , "z" : null } `, `{"a":{"b":[1]},"z":null}`, []string{"a.k"}},
		{`{"a":{"b":{"c":1,"d":2}}}`, `{"a":{"b":{"d":2}}}`, []string{"a.b.c"}},
		{`{"a":[{"b":1,"c":2}],"b":3}`, `{"a":[{"c":2}]}`, []string{"a.[].b", "b"}},
		{`{"a":[{"b":1}]}`, `{"a":[{"b":1}]}`, []string{"a.b"}},
		{`[{"a":1},{"a":2,"b":"&"}]`, `[{},{"b":"\u0026"}]`, []string{"[].a"}},
		{`{"x":{"a":1},"a":2}`, `{"x":{"a":1}}`, []string{"a"}},
	} {
		got, ok := AppendCompactWithout(nil, []byte(c.src), true, dropPaths(c.drop...))
		if !ok || string(got) != c.want {
			t.Errorf("AppendCompactWithout(%s, drop %v) = %s %v, want %s", c.src, c.drop, got, ok, c.want)
		}
	}
	if _, ok := AppendCompactWithout(nil, []byte(`{"a":1,}`), true, dropPaths("a")); ok {
		t.Error("invalid JSON accepted")
	}
}

// FuzzCompactWithout: dropping nothing is AppendCompact; dropping is
// still valid JSON, and no longer than that.
func FuzzCompactWithout(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, src []byte, name string) {
		want, wok := AppendCompact(nil, src, true)
		got, ok := AppendCompactWithout(nil, src, true, func([][]byte) bool { return false })
		if ok != wok || !bytes.Equal(got, want) {
			t.Fatalf("dropping nothing: %q %v, AppendCompact %q %v", got, ok, want, wok)
		}
		dropped, dok := AppendCompactWithout(nil, src, true, func(p [][]byte) bool { return string(p[len(p)-1]) == name })
		if dok != wok {
			t.Fatalf("with drop: ok %v, without %v", dok, wok)
		}
		if dok && (!json.Valid(dropped) || len(dropped) > len(want)) {
			t.Fatalf("dropping %q from %q gave %q", name, src, dropped)
		}
	})
}

type rawForm string

func (r rawForm) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		want, err := json.Marshal(rawForm(s))
		got, ok := Marshal(rawForm(s))
		if ok != (err == nil) || (ok && !bytes.Equal(got, want)) {
			t.Errorf("Marshal(%q) = %q %v; json.Marshal %q %v", s, got, ok, want, err)
		}
	}
	if _, ok := Marshal((*rawForm)(nil)); ok {
		t.Error("a nil pointer took the one-pass way")
	}
	if _, ok := Marshal(struct{ A int }{1}); ok {
		t.Error("a value without MarshalJSON took the one-pass way")
	}
}
