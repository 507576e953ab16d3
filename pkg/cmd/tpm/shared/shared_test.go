package shared

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/tpm"
)

const sampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
	"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
	"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
	"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
	"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

const sampleRegID = "sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq"

func TestSplitEKs(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	tests := []struct {
		name string
		data string
		want []string // source, then "=ID" or "!error substring"
	}{
		{name: "binary", data: string(raw), want: []string{"in", "=" + sampleRegID}},
		{name: "binary TPMT_PUBLIC", data: string(raw[2:]), want: []string{"in", "=" + sampleRegID}},
		{name: "base64 with newline", data: sampleEK + "\n", want: []string{"in", "=" + sampleRegID}},
		{name: "lines", data: "# two keys\n" + sampleEK + "\r\n\n" + sampleEK, want: []string{"in line 2", "=" + sampleRegID, "in line 4", "=" + sampleRegID}},
		{name: "bad line", data: sampleEK + "\nnot base64!\n", want: []string{"in line 1", "=" + sampleRegID, "in line 2", "!not valid base64"}},
		{name: "one bad line", data: "AAAA\n", want: []string{"in", "!size prefix"}},
		{name: "empty", data: " \n", want: []string{"in", "!the input is empty"}},
		{name: "PEM", data: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", want: []string{"in", "!PEM PUBLIC KEY"}},
		{name: "binary garbage", data: "\x00\x05\x01\x02\n\x03\x04", want: []string{"in", "!invalid endorsement key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitEKs([]byte(tt.data), "in")
			if len(got)*2 != len(tt.want) {
				t.Fatalf("%d results: %+v", len(got), got)
			}
			for i, r := range got {
				src, want := tt.want[2*i], tt.want[2*i+1]
				if r.Source != src {
					t.Errorf("source %q, want %q", r.Source, src)
				}
				switch {
				case strings.HasPrefix(want, "="):
					if r.Err != nil || r.EK.RegistrationID() != want[1:] {
						t.Errorf("%s: %v", r.Source, r.Err)
					}
				case r.Err == nil || !strings.Contains(r.Err.Error(), want[1:]) || !errors.Is(r.Err, tpm.ErrInvalidEK):
					t.Errorf("%s: err %v, want %q", r.Source, r.Err, want[1:])
				}
			}
		})
	}
}

func FuzzSplitEKs(f *testing.F) {
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	f.Add(raw)
	f.Add(raw[2:])
	f.Add([]byte(sampleEK + "\n" + sampleEK + "\n"))
	f.Add([]byte("# c\n\nAAAA\n" + sampleEK))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := SplitEKs(data, "in")
		if len(got) == 0 {
			t.Fatal("no result")
		}
		seen := map[string]bool{}
		for _, r := range got {
			if (r.EK == nil) == (r.Err == nil) {
				t.Fatalf("%s: key %v and error %v", r.Source, r.EK, r.Err)
			}
			if seen[r.Source] {
				t.Fatalf("source %q twice", r.Source)
			}
			seen[r.Source] = true
			if r.EK != nil {
				// What was accepted must parse again from its enrollment form.
				again, err := tpm.DecodeEK(r.EK.Base64())
				if err != nil || !again.Equal(r.EK) {
					t.Fatalf("round trip: %v", err)
				}
			}
		}
	})
}

func TestSimulatorSeed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	seed, created, err := SimulatorSeed(dir)
	if err != nil || !created || seed <= 0 {
		t.Fatalf("first: %d %v %v", seed, created, err)
	}
	again, created, err := SimulatorSeed(dir)
	if err != nil || created || again != seed {
		t.Fatalf("second: %d %v %v, want %d", again, created, err, seed)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir %v %v", st, err)
	}
	other, _, err := SimulatorSeed(t.TempDir())
	if err != nil || other == seed {
		t.Errorf("another directory: %d %v", other, err)
	}
	for _, bad := range []string{"zero\n", "0\n", ""} {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, SeedFile), []byte(bad), 0o600)
		if _, _, err := SimulatorSeed(d); err == nil || !strings.Contains(err.Error(), "does not hold a simulator seed") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// A file where the directory should be.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, _, err := SimulatorSeed(file); err == nil {
		t.Error("state directory that is a file accepted")
	}
}
