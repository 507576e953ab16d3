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
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
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

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("DPSCTL_OUTPUT", "")
	t.Setenv("DPSCTL_QUIET", "")
	t.Setenv(shared.EnvTPM, "")
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f := &cmdutil.Factory{IOStreams: ios, Flags: &cmdutil.GlobalFlags{}}
	f.Printer = func() (*output.Printer, error) { return cmdutil.NewPrinter(f) }
	cmd := NewCmdTPM(f)
	cmdutil.AddGlobalFlags(cmd, f)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{out.String(), errOut.String(), err}
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
	bin := filepath.Join(dir, "ek.pub")
	os.WriteFile(bin, raw, 0o644)
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
		{name: "hex", args: []string{"regid", sampleEK, "--hex"}, want: sampleRegIDHex + "\n"},
		{name: "binary file", args: []string{"regid", "--ek-file", bin}, want: sampleRegID + "\n"},
		{name: "stdin base64", args: []string{"regid", "--ek-file", "-"}, stdin: sampleEK + "\n", want: sampleRegID + "\n"},
		{name: "json", args: []string{"regid", sampleEK, "-o", "json"}, want: `"` + sampleRegID + `"` + "\n"},
		{name: "swtpm", args: []string{"regid", "--tpm", "swtpm:" + full}, want: sampleRegID + "\n"},
		{name: "bad key", args: []string{"regid", "AAAA"}, wantErr: "invalid endorsement key"},
		{name: "two sources", args: []string{"regid", sampleEK, "--ek-file", bin}, usage: true},
		{name: "create with file", args: []string{"regid", "--ek-file", bin, "--create"}, usage: true},
		{name: "unknown tpm", args: []string{"regid", "--tpm", "floppy"}, wantErr: "unknown TPM"},
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
			case tt.wantErr != "":
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
				}
			case r.err != nil:
				t.Fatal(r.err)
			case r.out != tt.want:
				t.Errorf("out %q, want %q", r.out, tt.want)
			}
		})
	}
}

func TestEK(t *testing.T) {
	full := fakeTPM(t, true)
	noSRK := fakeTPM(t, false)

	r := run(t, "", "ek", "--tpm", "swtpm:"+full, "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var info shared.EKInfo
	if err := json.Unmarshal([]byte(r.out), &info); err != nil {
		t.Fatal(err)
	}
	want := shared.EKInfo{RegistrationID: sampleRegID, RegistrationIDHex: sampleRegIDHex, EndorsementKey: sampleEK, StorageRootKey: sampleEK, Algorithm: "RSA", KeyBits: 2048}
	if info != want {
		t.Errorf("info %+v\nwant %+v", info, want)
	}

	r = run(t, "", "ek", sampleEK, "-o", "json")
	if r.err != nil || !strings.Contains(r.out, `"registrationId": "`+sampleRegID) || strings.Contains(r.out, "storageRootKey") {
		t.Errorf("from argument: %v %s", r.err, r.out)
	}

	r = run(t, "", "ek", "--tpm", "swtpm:"+noSRK)
	if r.err == nil || !strings.Contains(r.err.Error(), "storage root key") || !strings.Contains(r.err.Error(), "--create") {
		t.Errorf("missing SRK: %v", r.err)
	}
}
