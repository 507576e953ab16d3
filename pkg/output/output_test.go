package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/iostreams"
)

type item struct {
	Name       string `json:"name"`
	PrimaryKey string `json:"primaryKey,omitempty"`
	Zeta       int    `json:"zeta"`
	Alpha      *inner `json:"alpha,omitempty"`
}

type inner struct {
	ConnectionString string `json:"connectionString"`
	Note             string `json:"note"`
}

var cols = []Column[item]{
	{Header: "NAME", Value: func(i item) string { return i.Name }},
	{Header: "KEY", Value: func(i item) string { return i.PrimaryKey }, Secret: true},
	{Header: "NOTE", Value: func(i item) string {
		if i.Alpha == nil {
			return ""
		}
		return i.Alpha.Note
	}},
}

var items = []item{
	{Name: "one", PrimaryKey: "c2VjcmV0", Zeta: 1, Alpha: &inner{ConnectionString: "HostName=h;SharedAccessKeyName=n;SharedAccessKey=abc=", Note: "a <b> & c"}},
	{Name: "two", Zeta: 2},
}

func printer(t *testing.T, tty bool, opts Options) (*Printer, *strings.Builder, *strings.Builder) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	var out, errOut strings.Builder
	ios.Out, ios.ErrOut = &out, &errOut
	ios.SetStdoutTTY(tty)
	p, err := New(ios, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, &out, &errOut
}

func TestPrintList(t *testing.T) {
	tests := []struct {
		name       string
		tty        bool
		opts       Options
		items      []item
		wantOut    string
		wantErrOut string
	}{
		{
			name:  "table tty",
			tty:   true,
			items: items,
			wantOut: "NAME  KEY  NOTE\n" +
				"one   ***  a <b> & c\n" +
				"two\n",
		},
		{
			name:    "table not tty is tsv",
			items:   items,
			wantOut: "one\t***\ta <b> & c\ntwo\t\t\n",
		},
		{
			name:    "tsv on tty has no header",
			tty:     true,
			opts:    Options{Format: "tsv", ShowKeys: true},
			items:   items,
			wantOut: "one\tc2VjcmV0\ta <b> & c\ntwo\t\t\n",
		},
		{
			name:       "empty table",
			tty:        true,
			wantErrOut: "no things found\n",
		},
		{
			name:    "empty json",
			opts:    Options{Format: "json"},
			wantOut: "[]\n",
		},
		{
			name:    "empty yaml",
			opts:    Options{Format: "yaml"},
			wantOut: "[]\n",
		},
		{
			name:  "json keeps field order, masks secrets, no html escaping",
			opts:  Options{Format: "json"},
			items: items,
			wantOut: `[
  {
    "name": "one",
    "primaryKey": "***",
    "zeta": 1,
    "alpha": {
      "connectionString": "HostName=h;SharedAccessKeyName=n;SharedAccessKey=***",
      "note": "a <b> & c"
    }
  },
  {
    "name": "two",
    "zeta": 2
  }
]
`,
		},
		{
			name:  "yaml",
			opts:  Options{Format: "yaml"},
			items: items[:1],
			wantOut: `- name: one
  primaryKey: '***'
  zeta: 1
  alpha:
    connectionString: HostName=h;SharedAccessKeyName=n;SharedAccessKey=***
    note: a <b> & c
`,
		},
		{
			name:    "query scalars as lines",
			opts:    Options{Query: "[].name"},
			items:   items,
			wantOut: "one\ntwo\n",
		},
		{
			name:    "query json",
			opts:    Options{Format: "json", Query: "[?zeta > `1`].name", ShowKeys: true},
			items:   items,
			wantOut: "[\n  \"two\"\n]\n",
		},
		{
			name:    "query objects as table on tty",
			tty:     true,
			opts:    Options{Query: "[].{n: name, z: zeta}"},
			items:   items,
			wantOut: "N    Z\none  1\ntwo  2\n",
		},
		{
			name:    "query masks before selecting",
			opts:    Options{Query: "[0].primaryKey"},
			items:   items,
			wantOut: "***\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, errOut := printer(t, tt.tty, tt.opts)
			if err := PrintList(p, tt.items, cols, "things"); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.wantOut)
			}
			if errOut.String() != tt.wantErrOut {
				t.Errorf("stderr: %q, want %q", errOut, tt.wantErrOut)
			}
		})
	}
}

func TestPrintOne(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		opts    Options
		wantOut string
	}{
		{"key value view on tty", true, Options{}, "NAME  one\nKEY   ***\nNOTE  a <b> & c\n"},
		{"tsv line", false, Options{}, "one\t***\ta <b> & c\n"},
		{"json", false, Options{Format: "json", ShowKeys: true}, `{
  "name": "one",
  "primaryKey": "c2VjcmV0",
  "zeta": 1,
  "alpha": {
    "connectionString": "HostName=h;SharedAccessKeyName=n;SharedAccessKey=abc=",
    "note": "a <b> & c"
  }
}
`},
		{"query yaml", false, Options{Format: "yaml", Query: "alpha"}, "connectionString: HostName=h;SharedAccessKeyName=n;SharedAccessKey=***\nnote: a <b> & c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, _ := printer(t, tt.tty, tt.opts)
			if err := Print(p, items[0], cols); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.wantOut)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	p, out, _ := printer(t, false, Options{Format: "json", ShowKeys: true})
	if err := PrintList(p, items, cols, ""); err != nil {
		t.Fatal(err)
	}
	var back []item
	if err := json.Unmarshal([]byte(out.String()), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].PrimaryKey != "c2VjcmV0" || back[0].Alpha.Note != "a <b> & c" {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestPrintSeqError(t *testing.T) {
	boom := errors.New("boom")
	seq := func(yield func(item, error) bool) {
		if !yield(items[0], nil) {
			return
		}
		yield(item{}, boom)
	}
	for _, f := range Formats() {
		t.Run(f, func(t *testing.T) {
			p, out, _ := printer(t, true, Options{Format: f})
			err := PrintSeq(p, iter.Seq2[item, error](seq), cols, "things")
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			if f == "json" && !json.Valid([]byte(out.String())) {
				t.Fatalf("partial JSON is not closed: %q", out)
			}
		})
	}
}

func TestParseFormatAndQuery(t *testing.T) {
	for _, f := range append(Formats(), "", "JSON") {
		if _, err := ParseFormat(f); err != nil {
			t.Errorf("ParseFormat(%q): %v", f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, json, yaml, tsv") {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	ios, _, _, _ := iostreams.Test()
	if _, err := New(ios, Options{Query: "[?"}); err == nil {
		t.Error("bad query accepted")
	}
}

func TestMaskSecret(t *testing.T) {
	tests := map[string]string{
		"":    "",
		"abc": "***",
		"HostName=h:8443;SharedAccessKeyName=owner;SharedAccessKey=a2V5":    "HostName=h:8443;SharedAccessKeyName=owner;SharedAccessKey=***",
		"HostName=h;SharedAccessSignature=SharedAccessSignature sr=x&sig=y": "HostName=h;SharedAccessSignature=***",
	}
	for in, want := range tests {
		if got := MaskSecret(in); got != want {
			t.Errorf("MaskSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMaskJSON(f *testing.F) {
	f.Add([]byte(`{"primaryKey":"x","a":[1,2,{"secondaryKey":null}],"b":{"connectionString":"HostName=h;SharedAccessKey=k"}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`"primaryKey"`))
	f.Add([]byte(`{"registrationId":"dev-1","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":{"a":[1,2.5e3,true,null]}}}`))
	f.Add([]byte(`{"a":"<&>","b":{"primaryKeyX":"y"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		out, err := maskJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("maskJSON(%s) = %s: not valid JSON", data, out)
		}
		// The shortcut of jsonForm holds only where maskJSON changes nothing.
		var compact bytes.Buffer
		if json.Compact(&compact, data) == nil && maskChangesNothing(compact.Bytes()) {
			if got, err := maskJSON(compact.Bytes()); err != nil || !bytes.Equal(got, compact.Bytes()) {
				t.Fatalf("maskChangesNothing(%s), but maskJSON gives %s (%v)", compact.Bytes(), got, err)
			}
		}
	})
}

func TestFitKeepsFullColumns(t *testing.T) {
	rows := [][]string{{"a-rather-long-registration-identifier", "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc="}}
	got := fit([]string{"ID", "KEY"}, rows, 60, []bool{false, true})
	if got[0][1] != rows[0][1] {
		t.Fatalf("full column cut: %q", got[0][1])
	}
	if len([]rune(got[0][0]))+2+len(got[0][1]) > 60 {
		t.Fatalf("table does not fit: %q", got[0])
	}
	cut := fit([]string{"ID", "KEY"}, rows, 60, nil)
	if cut[0][1] == rows[0][1] && cut[0][0] == rows[0][0] {
		t.Fatal("nothing truncated without the full flag")
	}
}
