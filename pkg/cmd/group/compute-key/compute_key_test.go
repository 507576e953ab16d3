package computekey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// The example of the DPS documentation on symmetric-key group attestation.
const (
	docGroupKey  = "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="
	docID        = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6"
	docDeviceKey = "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc="
)

func TestNewCmdComputeKey(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdinTTY bool
		want     ComputeKeyOptions
		wantErr  string
	}{
		{name: "key and IDs", args: []string{"--key", docGroupKey, "a", "b"}, want: ComputeKeyOptions{Key: docGroupKey, RegistrationIDs: []string{"a", "b"}}},
		{name: "group and stdin", args: []string{"--group", "g1", "--secondary"}, want: ComputeKeyOptions{GroupID: "g1", Secondary: true}},
		{name: "dash mixed in", args: []string{"--group", "g1", "a", "-", "b"}, want: ComputeKeyOptions{GroupID: "g1", RegistrationIDs: []string{"a", "-", "b"}}},
		{name: "IDs on a terminal", stdinTTY: true, args: []string{"--key", docGroupKey, "a"}, want: ComputeKeyOptions{Key: docGroupKey, RegistrationIDs: []string{"a"}}},
		{name: "no key", args: []string{"a"}, wantErr: "give the group key with --key"},
		{name: "key and group", args: []string{"--key", docGroupKey, "--group", "g", "a"}, wantErr: "either --key or --group"},
		{name: "secondary with key", args: []string{"--key", docGroupKey, "--secondary", "a"}, wantErr: "--secondary needs --group"},
		{name: "bad key", args: []string{"--key", "bm9wZQ==", "a"}, wantErr: "--key: key decodes to 4 bytes"},
		{name: "bad group", args: []string{"--group", "a/b", "a"}, wantErr: `--group "a/b"`},
		{name: "bad ID", args: []string{"--key", docGroupKey, "ok", "not ok"}, wantErr: `registration ID "not ok"`},
		{name: "stdin twice", args: []string{"--key", docGroupKey, "-", "-"}, wantErr: "only once"},
		{name: "nothing on a terminal", stdinTTY: true, args: []string{"--key", docGroupKey}, wantErr: "give registration IDs as arguments, or one per line on stdin"},
		{name: "dash on a terminal", stdinTTY: true, args: []string{"--key", docGroupKey, "-"}, wantErr: "give registration IDs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := cmdtest.NewFactory(t, nil, false)
			f.IOStreams.SetStdinTTY(tt.stdinTTY)
			got, err := cmdtest.ParseWith(t, f, NewCmdComputeKey, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.RegistrationIDs, ",") != strings.Join(tt.want.RegistrationIDs, ",") || got.Key != tt.want.Key ||
				got.GroupID != tt.want.GroupID || got.Secondary != tt.want.Secondary {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// run executes compute-key with no service (nil client: any call fails)
// unless c is given.
func run(t *testing.T, c *dps.Client, tty bool, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.NewFactory(t, c, tty)
	if stdin != nil {
		f.IOStreams.In = stdin
		f.IOStreams.SetStdinTTY(false)
	}
	err := cmdtest.Run(t, f, NewCmdComputeKey(f, nil), args...)
	return s.Out.String(), s.ErrOut.String(), err
}

func TestComputeKeyVector(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		width int
		args  []string
		want  string
	}{
		{name: "table tty", tty: true, width: 100, args: nil, want: "REGISTRATION ID                       DEVICE KEY\n" + docID + "  " + docDeviceKey + "\n"},
		// On a narrow terminal the ID gives way; the key is never cut.
		{name: "table tty narrow", tty: true, width: 80, args: nil, want: "REGISTRATION ID                     DEVICE KEY\nsn-007-888-abc-mac-a1-b2-c3-d4-e5…  " + docDeviceKey + "\n"},
		{name: "not a terminal", args: nil, want: docID + "\t" + docDeviceKey + "\n"},
		{name: "tsv", tty: true, args: []string{"-o", "tsv"}, want: docID + "\t" + docDeviceKey + "\n"},
		{name: "json", args: []string{"-o", "json"}, want: "[\n  {\n    \"registrationId\": \"" + docID + "\",\n    \"deviceKey\": \"" + docDeviceKey + "\"\n  }\n]\n"},
		{name: "yaml", args: []string{"-o", "yaml"}, want: "- registrationId: " + docID + "\n  deviceKey: " + docDeviceKey + "\n"},
		{name: "query", args: []string{"--query", "[0].deviceKey"}, want: docDeviceKey + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, tt.tty)
			if tt.width > 0 {
				f.IOStreams.SetTerminalWidth(tt.width)
			}
			args := append([]string{"--key", docGroupKey, docID}, tt.args...)
			err := cmdtest.Run(t, f, NewCmdComputeKey(f, nil), args...)
			out, errOut := s.Out.String(), s.ErrOut.String()
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.want)
			}
			if errOut != "" {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

func TestComputeKeyStdin(t *testing.T) {
	in := "\n  dev-1  \r\ndev-2\n\n"
	out, _, err := run(t, nil, false, strings.NewReader(in), "--key", grouptest.Key1, "first", "-", "last")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, id := range []string{"first", "dev-1", "dev-2", "last"} {
		k, _ := sas.DeriveDeviceKey(grouptest.Key1, id)
		fmt.Fprintf(&want, "%s\t%s\n", id, k)
	}
	if out != want.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want.String())
	}
	// No arguments read stdin; an empty stdin is no IDs.
	if out, errOut, err := run(t, nil, false, strings.NewReader(""), "--key", grouptest.Key1, "-o", "json"); err != nil || out != "[]\n" || errOut != "" {
		t.Errorf("empty stdin: %q %q %v", out, errOut, err)
	}
}

func TestComputeKeyBadLine(t *testing.T) {
	in := "dev-1\ndev-2\n\ndev 4\ndev-5\n"
	out, _, err := run(t, nil, false, strings.NewReader(in), "--key", grouptest.Key1, "-o", "json")
	if err == nil || !strings.HasPrefix(err.Error(), `stdin line 4: registration ID "dev 4": `) {
		t.Fatalf("err = %v", err)
	}
	// What came before was printed, and the JSON array is closed.
	var got []DeviceKey
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[1].RegistrationID != "dev-2" {
		t.Fatalf("stdout %q: %v", out, err)
	}
	long := strings.Repeat("a", maxLine+10) + "\n"
	if _, _, err := run(t, nil, false, strings.NewReader("dev-1\n"+long), "--key", grouptest.Key1); err == nil || !strings.Contains(err.Error(), "stdin line 2: longer than") {
		t.Fatalf("long line: %v", err)
	}
	if _, _, err := run(t, nil, false, strings.NewReader(strings.Repeat("b", 200)), "--key", grouptest.Key1); err == nil || !strings.Contains(err.Error(), "stdin line 1:") || !strings.Contains(err.Error(), "…") {
		t.Fatalf("too long an ID: %v", err)
	}
}

// idSource produces "dev-000001\n"… on demand and checks that the output
// grows while input is still being read, so nothing waits for all of it.
type idSource struct {
	t         *testing.T
	n, served int
	out       *bytes.Buffer
	pending   []byte
	sawOutput bool
}

func (s *idSource) Read(p []byte) (int, error) {
	for len(s.pending) < len(p) && s.served < s.n {
		s.served++
		s.pending = fmt.Appendf(s.pending, "dev-%06d\n", s.served)
	}
	if len(s.pending) == 0 {
		return 0, io.EOF
	}
	if s.served > s.n/2 && s.out.Len() > 0 {
		s.sawOutput = true
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func TestComputeKeyStreams(t *testing.T) {
	for _, tt := range []struct {
		format string
		n      int
	}{{"tsv", 100_000}, {"json", 20_000}} {
		format, n := tt.format, tt.n
		t.Run(format, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, false)
			src := &idSource{t: t, n: n, out: s.Out}
			f.IOStreams.In = src
			if err := cmdtest.Run(t, f, NewCmdComputeKey(f, nil), "--key", grouptest.Key1, "-o", format); err != nil {
				t.Fatal(err)
			}
			if !src.sawOutput {
				t.Error("no output before the input was half read")
			}
			lines := strings.Count(s.Out.String(), "\n")
			want := n
			if format == "json" {
				want = n*4 + 2 // "[", then {, two members, } per item; "]"
			}
			if lines != want {
				t.Errorf("%d output lines, want %d", lines, want)
			}
			last := fmt.Sprintf("dev-%06d", n)
			k, _ := sas.DeriveDeviceKey(grouptest.Key1, last)
			if !strings.Contains(s.Out.String()[s.Out.Len()-200:], k) {
				t.Errorf("last key missing: %s", s.Out.String()[s.Out.Len()-200:])
			}
		})
	}
}

func TestComputeKeyFromGroup(t *testing.T) {
	_, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "keys", nil)
	grouptest.Put(t, c, &model.EnrollmentGroup{
		EnrollmentGroupID: "x509",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{
			Type: model.AttestationX509, X509: &model.X509Attestation{CAReferences: &model.X509CAReferences{Primary: "root"}}}},
	}, nil)
	primary, _ := sas.DeriveDeviceKey(grouptest.Key1, "dev-1")
	secondary, _ := sas.DeriveDeviceKey(grouptest.Key2, "dev-1")
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "primary", args: []string{"--group", "keys", "dev-1"}, want: "dev-1\t" + primary + "\n"},
		{name: "secondary", args: []string{"--group", "KEYS", "--secondary", "dev-1"}, want: "dev-1\t" + secondary + "\n"},
		{name: "x509 group", args: []string{"--group", "x509", "dev-1"}, wantErr: `enrollment group "x509" uses x509 attestation; device keys exist only for symmetric-key groups`},
		{name: "missing group", args: []string{"--group", "nope", "dev-1"}, wantErr: `enrollment group "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, c, false, nil, tt.args...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || out != tt.want {
				t.Fatalf("stdout %q, err %v; want %q", out, err, tt.want)
			}
		})
	}
}

func FuzzReadIDs(f *testing.F) {
	f.Add("dev-1\ndev-2\n")
	f.Add("\r\n  a:b.c_d-  \n\n")
	f.Add("bad id\n")
	f.Add(strings.Repeat("x", 200))
	f.Fuzz(func(t *testing.T, in string) {
		n := 0
		for id, err := range ReadIDs(strings.NewReader(in)) {
			if err != nil {
				if !strings.HasPrefix(err.Error(), "stdin line ") {
					t.Fatalf("error without a line number: %v", err)
				}
				return
			}
			if err := model.ValidateID(id); err != nil {
				t.Fatalf("yielded invalid ID %q: %v", id, err)
			}
			if n++; n > len(in) {
				t.Fatal("more IDs than input bytes")
			}
		}
	})
}

func BenchmarkComputeKey(b *testing.B) {
	var in bytes.Buffer
	for i := range 10_000 {
		fmt.Fprintf(&in, "dev-%06d\n", i)
	}
	data := in.Bytes()
	for b.Loop() {
		for _, err := range derive(docGroupKey, ReadIDs(bytes.NewReader(data))) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
