package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// DefaultDevice is the kernel's resource-managed TPM device on Linux.
const DefaultDevice = "/dev/tpmrm0"

// ErrSimulatorUnavailable is returned by OpenSimulator in builds without the
// tpmsimulator tag.
var ErrSimulatorUnavailable = errors.New("this build has no TPM simulator (rebuild with -tags tpmsimulator and cgo)")

// Open opens a TPM named by spec:
//
//	""  or "device"          the default device (/dev/tpmrm0; TBS on Windows)
//	"device:/dev/tpm0"       a device path ("/dev/…" alone works too)
//	"swtpm:host:port"        swtpm's TCP command channel (raw TPM commands)
//	"simulator[:seed]"       the in-process reference simulator (tpmsimulator builds)
//
// swtpm and simulator connections get TPM2_Startup automatically.
func Open(spec string) (transport.TPMCloser, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "" || spec == "device":
		return OpenDevice(DefaultDevice)
	case strings.HasPrefix(spec, "/"):
		return OpenDevice(spec)
	case kind == "device":
		return OpenDevice(arg)
	case kind == "swtpm":
		if arg == "" {
			return nil, fmt.Errorf("swtpm needs an address, as in swtpm:127.0.0.1:2321")
		}
		return OpenSWTPM(arg)
	case kind == "simulator":
		var seed int64
		if arg != "" {
			var err error
			if seed, err = strconv.ParseInt(arg, 10, 64); err != nil {
				return nil, fmt.Errorf("simulator seed %q is not an integer", arg)
			}
		}
		return OpenSimulator(seed)
	}
	return nil, fmt.Errorf("unknown TPM %q (use device[:path], swtpm:host:port or simulator[:seed])", spec)
}

// OpenDevice opens a TPM character device (on Windows the path is ignored
// and TBS is used).
func OpenDevice(path string) (transport.TPMCloser, error) {
	if path == "" {
		path = DefaultDevice
	}
	t, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	return withRetry(t), nil
}

// swtpmMaxResponse bounds a response; TPM responses are at most a few KiB.
const swtpmMaxResponse = 1 << 16

type swtpm struct {
	mu      sync.Mutex
	conn    net.Conn
	timeout time.Duration
}

// OpenSWTPM connects to swtpm's TCP command channel (`swtpm socket --tpm2
// --server type=tcp,port=2321 --ctrl type=tcp,port=2322 --flags
// not-need-init`) and starts the TPM up.
func OpenSWTPM(addr string) (transport.TPMCloser, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connecting to swtpm at %s: %w", addr, err)
	}
	t := withRetry(&swtpm{conn: conn, timeout: 30 * time.Second})
	if err := Startup(t); err != nil {
		t.Close()
		return nil, fmt.Errorf("swtpm at %s: %w", addr, err)
	}
	return t, nil
}

// Send writes one command and reads one response: a 10-byte header whose
// size field tells how much follows.
func (s *swtpm) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timeout > 0 {
		s.conn.SetDeadline(time.Now().Add(s.timeout))
	}
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("swtpm: sending command: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.conn, hdr); err != nil {
		return nil, fmt.Errorf("swtpm: reading response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > swtpmMaxResponse {
		return nil, fmt.Errorf("swtpm: response size %d is out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("swtpm: reading response body: %w", err)
	}
	return rsp, nil
}

func (s *swtpm) Close() error { return s.conn.Close() }
