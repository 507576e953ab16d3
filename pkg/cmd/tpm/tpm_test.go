package tpm

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	tpmdev "github.com/dpsctl/dpsctl/pkg/tpm"
)

// sampleEK is the RSA-2048 endorsement key published with the Azure IoT
// provisioning service SDK samples.
const sampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
	"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
	"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
	"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
	"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

const (
	sampleRegID    = "sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq"
	sampleRegIDHex = "9232c2fa4b5c604e39fcb33bff357af2c1fd4652bb0bf47dc0368a1a63f4a841"
)

type result struct {
	out, errOut string
	err         error
}

// run executes "tpm <args>" with stdin (a pipe, not a terminal).
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	t.Setenv(shared.EnvTPM, "")
	f, s := newFactory(t)
	s.In.WriteString(stdin)
	err := runWith(t, f, args...)
	return result{s.Out.String(), s.ErrOut.String(), err}
}

func newFactory(t *testing.T) (*cmdutil.Factory, cmdtest.Streams) {
	t.Helper()
	t.Setenv("DPSCTL_QUIET", "")
	return cmdtest.NewFactory(t, nil, false)
}

func runWith(t *testing.T, f *cmdutil.Factory, args ...string) error {
	t.Helper()
	return cmdtest.Run(t, f, NewCmdTPM(f), args...)
}

// fakeTPM serves swtpm's raw protocol: ReadPublic of the EK handle returns
// the sample EK; the SRK handle returns it too when srk is set, else
// TPM_RC_HANDLE; Startup succeeds.
func fakeTPM(t *testing.T, srk bool) string {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			serve(conn, raw, srk)
		}
	}()
	return ln.Addr().String()
}

func serve(conn net.Conn, ek []byte, srk bool) {
	defer conn.Close()
	for {
		hdr := make([]byte, 10)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(hdr[2:6])
		if size < 10 || size > 4096 {
			return
		}
		body := make([]byte, size-10)
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		var params []byte
		rc := uint32(0)
		switch binary.BigEndian.Uint32(hdr[6:10]) {
		case 0x144: // Startup
		case 0x173: // ReadPublic
			handle := binary.BigEndian.Uint32(body)
			if handle == 0x81010001 || (srk && handle == 0x81000001) {
				params = append(params, ek...)               // TPM2B_PUBLIC
				params = append(params, 0, 2, 0, 0x0b, 0, 0) // name (not checked), empty qualified name
			} else {
				rc = 0x18b // TPM_RC_HANDLE
			}
		default:
			rc = 0x143 // TPM_RC_COMMAND_CODE
		}
		rsp := make([]byte, 10, 10+len(params))
		binary.BigEndian.PutUint16(rsp, 0x8001)
		binary.BigEndian.PutUint32(rsp[2:], uint32(10+len(params)))
		binary.BigEndian.PutUint32(rsp[6:], rc)
		if rc == 0 {
			rsp = append(rsp, params...)
			binary.BigEndian.PutUint32(rsp[2:], uint32(len(rsp)))
		}
		if _, err := conn.Write(rsp); err != nil {
			return
		}
	}
}

func TestRegid(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(sampleEK)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tpm2b := write("ek.pub", raw)
	tpmt := write("ek.tpmt", raw[2:])
	b64 := write("ek.b64", []byte(sampleEK+"\n"))
	pemFile := write("ek.pem", []byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"))
	empty := write("empty", nil)
	// base64 wrapped at 76 columns, as base64(1) writes it
	var wrapped strings.Builder
	for i := 0; i < len(sampleEK); i += 76 {
		wrapped.WriteString(sampleEK[i:min(i+76, len(sampleEK))] + "\n")
	}
	full := fakeTPM(t, true)
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    string
		wantErr string
		usage   bool
	}{
		{name: "argument", args: []string{"regid", sampleEK}, want: sampleRegID + "\n"},
		{name: "hex", args: []string{"regid", sampleEK, "--format", "hex"}, want: sampleRegIDHex + "\n"},
		{name: "old hex flag", args: []string{"regid", sampleEK, "--hex"}, want: sampleRegIDHex + "\n"},
		{name: "TPM2B_PUBLIC file", args: []string{"regid", tpm2b}, want: sampleRegID + "\n"},
		{name: "TPMT_PUBLIC file", args: []string{"regid", tpmt}, want: sampleRegID + "\n"},
		{name: "base64 file", args: []string{"regid", b64}, want: sampleRegID + "\n"},
		{name: "old --ek-file is gone but files work", args: []string{"regid", tpm2b, "--format", "base32"}, want: sampleRegID + "\n"},
		{name: "stdin without arguments", args: []string{"regid"}, stdin: sampleEK + "\n", want: sampleRegID + "\n"},
		{name: "stdin dash binary", args: []string{"regid", "-"}, stdin: string(raw), want: sampleRegID + "\n"},
		{name: "stdin wrapped base64", args: []string{"regid"}, stdin: wrapped.String(), want: sampleRegID + "\n"},
		{name: "stdin lines", args: []string{"regid", "--format", "hex"}, stdin: "# lab devices\n" + sampleEK + "\n\n" + sampleEK + "\n",
			want: sampleRegIDHex + "\tstdin line 2\n" + sampleRegIDHex + "\tstdin line 4\n"},
		{name: "several arguments", args: []string{"regid", sampleEK, tpm2b}, want: sampleRegID + "\targument 1 (AToAAQALAAMA…)\n" + sampleRegID + "\t" + tpm2b + "\n"},
		{name: "json one", args: []string{"regid", sampleEK, "-o", "json"}, want: `"` + sampleRegID + `"` + "\n"},
		{name: "json several", args: []string{"regid", tpmt, tpm2b, "-o", "json", "--query", "[].source"}, want: "[\n  \"" + tpmt + "\",\n  \"" + tpm2b + "\"\n]\n"},
		{name: "swtpm through the old flag", args: []string{"regid", "--tpm", "swtpm:" + full}, want: sampleRegID + "\n"},
		{name: "swtpm", args: []string{"regid", "--tcp", full}, want: sampleRegID + "\n"},
		{name: "too short", args: []string{"regid", "AAAA"}, wantErr: "argument 1 (AAAA): invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow"},
		{name: "neither file nor base64", args: []string{"regid", "no/such.pub"}, wantErr: "argument 1 (no/such.pub): neither an existing file nor a base64 endorsement key"},
		{name: "PEM file", args: []string{"regid", pemFile}, wantErr: pemFile + ": invalid endorsement key: this is a PEM PUBLIC KEY, not a TPM public area"},
		{name: "empty file", args: []string{"regid", empty}, wantErr: empty + ": invalid endorsement key"},
		{name: "a bad line among good ones", args: []string{"regid"}, stdin: sampleEK + "\nAAAA\n", want: sampleRegID + "\tstdin line 1\n",
			wantErr: "1 of 2 endorsement keys are invalid:\n  stdin line 2: invalid endorsement key: TPM2B_PUBLIC size prefix says 0 bytes but 1 follow"},
		{name: "stdin twice", args: []string{"regid", "-", "-"}, usage: true},
		{name: "bad format", args: []string{"regid", sampleEK, "--format", "base64"}, usage: true},
		{name: "keys and a TPM", args: []string{"regid", sampleEK, "--tcp", full}, usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, tt.args...)
			switch {
			case tt.usage:
				var fe *cmdutil.FlagError
				if !errors.As(r.err, &fe) {
					t.Fatalf("err = %v, want usage error", r.err)
				}
				return
			case tt.wantErr != "":
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
			case r.err != nil:
				t.Fatal(r.err)
			}
			if r.out != tt.want {
				t.Errorf("out %q, want %q", r.out, tt.want)
			}
		})
	}
}

func TestRegidStdinTerminal(t *testing.T) {
	t.Setenv(shared.EnvTPM, "")
	f, _ := cmdtest.NewFactory(t, nil, true)
	err := cmdtest.Run(t, f, NewCmdTPM(f), "regid")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "give endorsement keys") {
		t.Fatalf("err = %v, want usage error", err)
	}
}

func TestEK(t *testing.T) {
	full := fakeTPM(t, true)
	noSRK := fakeTPM(t, false)
	want := shared.EKInfo{RegistrationID: sampleRegID, RegistrationIDHex: sampleRegIDHex, EndorsementKey: sampleEK, StorageRootKey: sampleEK, Algorithm: "RSA", KeyBits: 2048}

	for _, args := range [][]string{{"ek", "--tcp", full, "-o", "json"}, {"ek", "--tpm", "swtpm:" + full, "-o", "json"}} {
		r := run(t, "", args...)
		if r.err != nil {
			t.Fatal(r.err)
		}
		var info shared.EKInfo
		if err := json.Unmarshal([]byte(r.out), &info); err != nil {
			t.Fatal(err)
		}
		if info != want {
			t.Errorf("%v: info %+v\nwant %+v", args, info, want)
		}
	}
	t.Setenv(shared.EnvTPM, "swtpm:"+full)
	f, s := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdTPM(f), "ek", "--query", "registrationId", "-o", "tsv"); err != nil || s.Out.String() != sampleRegID+"\n" {
		t.Errorf("from $%s: %v %q", shared.EnvTPM, err, s.Out.String())
	}

	r := run(t, "", "ek", sampleEK, "-o", "json")
	if r.err != nil || !strings.Contains(r.out, `"registrationId": "`+sampleRegID) || strings.Contains(r.out, "storageRootKey") {
		t.Errorf("from argument: %v %s", r.err, r.out)
	}

	// The fake cannot create keys: a missing SRK is created and that fails.
	r = run(t, "", "ek", "--tcp", noSRK)
	if r.err == nil || !strings.Contains(r.err.Error(), "creating the storage root key") {
		t.Errorf("missing SRK: %v", r.err)
	}
	r = run(t, "", "ek", "--tcp", noSRK, "--create=false")
	if r.err == nil || !strings.Contains(r.err.Error(), "storage root key") || !strings.Contains(r.err.Error(), "without --create=false") {
		t.Errorf("missing SRK, no create: %v", r.err)
	}

	r = run(t, "", "ek", "--device", filepath.Join(t.TempDir(), "tpm9"))
	if r.err == nil || !strings.Contains(r.err.Error(), "tpm9") {
		t.Errorf("missing device: %v", r.err)
	}
	if !tpmdev.SimulatorAvailable {
		dir := filepath.Join(t.TempDir(), "sim")
		r = run(t, "", "ek", "--simulator", dir)
		if r.err == nil || !strings.Contains(r.err.Error(), "built without the TPM simulator") {
			t.Errorf("simulator in a default build: %v", r.err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("a default build created the simulator state directory")
		}
	}
	for _, args := range [][]string{
		{"ek", "--tcp", full, "--device", "/dev/tpm0"},
		{"ek", "--simulator", "a", "--tcp", full},
		{"ek", "--simulator", ""},
		{"ek", sampleEK, "--tcp", full},
		{"ek", "a", "b"},
	} {
		r := run(t, "", args...)
		var fe *cmdutil.FlagError
		if !errors.As(r.err, &fe) {
			t.Errorf("%v: err = %v, want usage error", args, r.err)
		}
	}
}
