package tpm

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// fakeSWTPM serves swtpm's raw command protocol on 127.0.0.1 and answers
// each command through handle.
func fakeSWTPM(t *testing.T, handle func(cmd []byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			hdr := make([]byte, 10)
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			size := binary.BigEndian.Uint32(hdr[2:6])
			if size < 10 || size > 1<<16 {
				return
			}
			cmd := make([]byte, size)
			copy(cmd, hdr)
			if _, err := io.ReadFull(conn, cmd[10:]); err != nil {
				return
			}
			if _, err := conn.Write(handle(cmd)); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

func response(rc uint32) []byte {
	b := make([]byte, 10)
	binary.BigEndian.PutUint16(b, uint16(tpm2.TPMSTNoSessions))
	binary.BigEndian.PutUint32(b[2:], 10)
	binary.BigEndian.PutUint32(b[6:], rc)
	return b
}

func commandCode(cmd []byte) tpm2.TPMCC { return tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10])) }

func TestSWTPMTransport(t *testing.T) {
	var mu sync.Mutex
	seen := map[tpm2.TPMCC]int{}
	addr := fakeSWTPM(t, func(cmd []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		cc := commandCode(cmd)
		seen[cc]++
		switch cc {
		case tpm2.TPMCCStartup:
			return response(uint32(tpm2.TPMRCInitialize)) // already started
		case tpm2.TPMCCReadPublic:
			if seen[cc] == 1 {
				return response(rcRetry) // swtpm's first-command quirk
			}
			return response(0x18b) // TPM_RC_HANDLE, handle 1
		}
		return response(uint32(tpm2.TPMRCCommandCode))
	})
	tp, err := Open("swtpm:" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	_, _, err = ReadEK(tp, false)
	if !errors.Is(err, ErrNotPersisted) {
		t.Fatalf("ReadEK = %v, want ErrNotPersisted", err)
	}
	if seen[tpm2.TPMCCReadPublic] != 2 {
		t.Errorf("ReadPublic sent %d times, want 2 (one retry)", seen[tpm2.TPMCCReadPublic])
	}
	if _, err := ReadIdentity(tp, false); !errors.Is(err, ErrNotPersisted) {
		t.Errorf("ReadIdentity = %v", err)
	}
}

func TestOpenSpecs(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
	}{
		{"swtpm:", "needs an address"},
		{"swtpm:127.0.0.1:1", "connecting to swtpm"},
		{"device:/nonexistent/tpm", "/nonexistent/tpm"},
		{"/nonexistent/tpm", "/nonexistent/tpm"},
		{"simulator:x", "not an integer"},
		{"floppy", "unknown TPM"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			tp, err := Open(tt.spec)
			if err == nil {
				tp.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
	if !SimulatorAvailable {
		if _, err := Open("simulator"); !errors.Is(err, ErrSimulatorUnavailable) {
			t.Errorf("Open(simulator) = %v, want ErrSimulatorUnavailable", err)
		}
	}
}
