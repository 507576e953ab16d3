// Package shared holds what the tpm verbs share: which TPM to open (a
// device, the built-in simulator with its state directory, or swtpm over
// TCP), reading endorsement keys given as arguments, files or standard
// input, and how they are printed.
package shared

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spf13/cobra"
)

// EnvTPM names the TPM to use when no TPM flag is given, in the form of the
// hidden --tpm flag: "device[:PATH]", "swtpm:HOST:PORT" or "simulator[:SEED]".
const EnvTPM = "DPSCTL_TPM"

// SeedFile is the file in a --simulator state directory that holds the
// simulator's seed.
const SeedFile = "simulator-seed"

// ErrNoSimulator explains --simulator in a build without the simulator.
var ErrNoSimulator = errors.New("this dpsctl was built without the TPM simulator; build it with `go build -tags tpmsimulator ./cmd/dpsctl` (needs cgo and a C compiler), or use --tcp with swtpm")

// TPMFlags select the TPM to talk to.
type TPMFlags struct {
	Device    string // --device: a TPM character device
	Simulator string // --simulator: state directory of the built-in simulator
	TCP       string // --tcp: swtpm's command channel, HOST:PORT
	Spec      string // hidden --tpm, else $DPSCTL_TPM
	Create    bool   // create and persist a missing EK or SRK

	given bool
}

// Register adds --device, --simulator, --tcp, --create and the hidden --tpm
// to cmd; with hidden set they are all hidden.
func (d *TPMFlags) Register(cmd *cobra.Command, hidden bool) {
	fl := cmd.Flags()
	fl.StringVar(&d.Device, "device", "", "TPM character device (default "+tpm.DefaultDevice+")")
	fl.StringVar(&d.Simulator, "simulator", "", "Use the built-in TPM simulator, keeping its state in this directory")
	fl.StringVar(&d.TCP, "tcp", "", "Use swtpm's TCP command channel at HOST:PORT")
	fl.BoolVar(&d.Create, "create", true, "Create and persist the EK and SRK from the TCG templates if the TPM has none (--create=false changes nothing on the TPM)")
	fl.StringVar(&d.Spec, "tpm", "", "TPM as device[:path], swtpm:host:port or simulator[:seed] (default $"+EnvTPM+")")
	_ = fl.MarkHidden("tpm")
	cmdutil.FileFlag(cmd, "device")
	_ = cmd.MarkFlagDirname("simulator")
	_ = cmd.RegisterFlagCompletionFunc("tcp", cobra.NoFileCompletions)
	if hidden {
		for _, name := range []string{"device", "simulator", "tcp", "create"} {
			_ = fl.MarkHidden(name)
		}
	}
}

// Capture checks the TPM flags given on cmd and falls back to $DPSCTL_TPM.
func (d *TPMFlags) Capture(cmd *cobra.Command, getenv func(string) string) error {
	fl := cmd.Flags()
	dev, sim, tcp, spec := fl.Changed("device"), fl.Changed("simulator"), fl.Changed("tcp"), fl.Changed("tpm")
	if err := cmdutil.MutuallyExclusive("name one TPM: --device, --simulator or --tcp", dev, sim, tcp, spec); err != nil {
		return err
	}
	switch {
	case sim && strings.TrimSpace(d.Simulator) == "":
		return cmdutil.FlagErrorf("--simulator needs a state directory")
	case tcp && strings.TrimSpace(d.TCP) == "":
		return cmdutil.FlagErrorf("--tcp needs HOST:PORT")
	case dev && strings.TrimSpace(d.Device) == "":
		return cmdutil.FlagErrorf("--device needs a path")
	}
	d.given = dev || sim || tcp || spec
	if !d.given && getenv != nil {
		d.Spec = getenv(EnvTPM)
	}
	return nil
}

// Given reports whether a TPM flag was on the command line.
func (d *TPMFlags) Given() bool { return d.given }

// IsSimulator reports whether the simulator is used.
func (d *TPMFlags) IsSimulator() bool {
	return d.Simulator != "" || (d.Device == "" && d.TCP == "" && strings.HasPrefix(d.Spec, "simulator"))
}

// Describe names the TPM for status lines.
func (d *TPMFlags) Describe() string {
	switch {
	case d.Simulator != "":
		return "the TPM simulator (state in " + d.Simulator + ")"
	case d.TCP != "":
		return "swtpm at " + d.TCP
	case d.Device != "":
		return d.Device
	case d.Spec != "":
		return strings.TrimPrefix(d.Spec, "device:")
	}
	return tpm.DefaultDevice
}

// Open opens the selected TPM. For the simulator it also reports whether
// the seed file was created by this call.
func (d *TPMFlags) Open() (t transport.TPMCloser, seedCreated bool, err error) {
	switch {
	case d.Simulator != "":
		if !tpm.SimulatorAvailable {
			return nil, false, fmt.Errorf("--simulator: %w", ErrNoSimulator)
		}
		seed, created, err := SimulatorSeed(d.Simulator)
		if err != nil {
			return nil, false, fmt.Errorf("--simulator: %w", err)
		}
		t, err := tpm.OpenSimulator(seed)
		return t, created, err
	case d.TCP != "":
		t, err := tpm.OpenSWTPM(d.TCP)
		return t, false, err
	case d.Device != "":
		t, err := tpm.OpenDevice(d.Device)
		return t, false, err
	}
	if strings.HasPrefix(d.Spec, "simulator") && !tpm.SimulatorAvailable {
		return nil, false, fmt.Errorf("%s=%s: %w", EnvTPM, d.Spec, ErrNoSimulator)
	}
	t, err = tpm.Open(d.Spec)
	return t, false, err
}

// ReadIdentity opens the TPM and reads its EK and SRK, creating them when
// absent if Create is set.
func (d *TPMFlags) ReadIdentity() (id *tpm.Identity, seedCreated bool, err error) {
	t, seedCreated, err := d.Open()
	if err != nil {
		return nil, false, err
	}
	defer t.Close()
	id, err = tpm.ReadIdentity(t, d.Create)
	if err != nil {
		if errors.Is(err, tpm.ErrNotPersisted) {
			return nil, false, fmt.Errorf("%s: %w (without --create=false a missing key is created from the TCG template and persisted, as the device SDKs do)", d.Describe(), err)
		}
		return nil, false, fmt.Errorf("%s: %w", d.Describe(), err)
	}
	return id, seedCreated, nil
}

// SimulatorSeed returns the simulator seed kept in dir/simulator-seed,
// creating the directory and a random seed on first use, so that the same
// state directory always yields the same EK. The simulator keeps nothing
// else between runs: its primary keys derive from this seed.
func SimulatorSeed(dir string) (seed int64, created bool, err error) {
	path := filepath.Join(dir, SeedFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, false, err
		}
		var b [8]byte
		for seed == 0 {
			if _, err := rand.Read(b[:]); err != nil {
				return 0, false, err
			}
			seed = int64(binary.BigEndian.Uint64(b[:]) >> 1)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return SimulatorSeed(dir) // created meanwhile
		}
		if err != nil {
			return 0, false, err
		}
		if _, err := fmt.Fprintf(f, "%d\n", seed); err != nil {
			f.Close()
			return 0, false, err
		}
		return seed, true, f.Close()
	}
	if err != nil {
		return 0, false, err
	}
	seed, err = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || seed == 0 {
		return 0, false, fmt.Errorf("%s does not hold a simulator seed (a non-zero decimal integer); remove it to start a new simulated TPM", path)
	}
	return seed, false, nil
}

// EKInput is one endorsement key read from an argument, a file or
// standard input: the key or why it is not one.
type EKInput struct {
	Source string
	EK     *tpm.EK
	Err    error
}

// ReadEKs reads the endorsement keys named by args: each argument is a file
// (binary TPM2B_PUBLIC or TPMT_PUBLIC as tpm2_readpublic writes, or base64)
// or a base64 TPM2B_PUBLIC; "-" is standard input. With no arguments
// standard input is read, unless it is a terminal. A file or standard input
// holding one base64 key per line gives one key per line.
func ReadEKs(ios *iostreams.IOStreams, args []string) ([]EKInput, error) {
	if len(args) == 0 {
		if ios.IsStdinTTY() {
			return nil, cmdutil.FlagErrorf("give endorsement keys as arguments (base64 or files) or on standard input")
		}
		args = []string{"-"}
	}
	stdin := 0
	var out []EKInput
	for i, a := range args {
		switch {
		case a == "-":
			if stdin++; stdin > 1 {
				return nil, cmdutil.FlagErrorf("standard input (\"-\") can be read only once")
			}
			data, err := cmdutil.ReadFile(ios, "-")
			if err != nil {
				return nil, err
			}
			out = append(out, SplitEKs(data, "stdin")...)
		case isFile(a):
			data, err := cmdutil.ReadFile(ios, a)
			if err != nil {
				return nil, err
			}
			out = append(out, SplitEKs(data, a)...)
		default:
			src := fmt.Sprintf("argument %d (%s)", i+1, abbrev(a))
			if !model.IsBase64Text(strings.TrimSpace(a)) {
				out = append(out, EKInput{Source: src, Err: fmt.Errorf("neither an existing file nor a base64 endorsement key")})
				continue
			}
			ek, err := tpm.DecodeEK(a)
			out = append(out, EKInput{Source: src, EK: ek, Err: err})
		}
	}
	return out, nil
}

func isFile(name string) bool {
	st, err := os.Stat(name)
	return err == nil && !st.IsDir()
}

func abbrev(s string) string {
	if len(s) > 16 {
		return s[:12] + "…"
	}
	return s
}

// isText reports whether data is printable ASCII with line breaks.
func isText(data []byte) bool {
	for _, c := range data {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// SplitEKs reads the endorsement keys in data, from source: one key in any
// form tpm.ParseEKData accepts, or base64 keys one per line (blank lines and
// lines starting with '#' are skipped).
func SplitEKs(data []byte, source string) []EKInput {
	ek, err := tpm.ParseEKData(data)
	if err == nil {
		return []EKInput{{Source: source, EK: ek}}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return []EKInput{{Source: source, Err: fmt.Errorf("%w: no endorsement key, the input is empty", tpm.ErrInvalidEK)}}
	}
	if !isText(data) || strings.Contains(string(data), "-----BEGIN") {
		return []EKInput{{Source: source, Err: err}}
	}
	type line struct {
		n    int
		text string
	}
	var lines []line
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, line{i + 1, l})
	}
	if len(lines) <= 1 {
		return []EKInput{{Source: source, Err: err}}
	}
	out := make([]EKInput, 0, len(lines))
	for _, l := range lines {
		ek, err := tpm.DecodeEK(l.text)
		out = append(out, EKInput{Source: fmt.Sprintf("%s line %d", source, l.n), EK: ek, Err: err})
	}
	return out
}

// EKInfo is what "tpm ek" prints.
type EKInfo struct {
	RegistrationID    string `json:"registrationId"`
	RegistrationIDHex string `json:"registrationIdHex"`
	EndorsementKey    string `json:"endorsementKey"`
	StorageRootKey    string `json:"storageRootKey,omitempty"`
	Algorithm         string `json:"algorithm"`
	KeyBits           int    `json:"keyBits"`
	Curve             string `json:"curve,omitempty"`
	Created           bool   `json:"created,omitempty"`
}

// NewEKInfo describes ek (and id, when read from a TPM).
func NewEKInfo(ek *tpm.EK, id *tpm.Identity) EKInfo {
	info := EKInfo{
		RegistrationID:    ek.RegistrationID(),
		RegistrationIDHex: ek.RegistrationIDHex(),
		EndorsementKey:    ek.Base64(),
		Algorithm:         ek.Algorithm,
		KeyBits:           ek.KeyBits,
		Curve:             ek.Curve,
	}
	if id != nil {
		info.StorageRootKey = id.SRKBase64()
		info.Created = id.EKCreated || id.SRKCreated
	}
	return info
}

// EKColumns are the fields of EKInfo in table form.
var EKColumns = []output.Column[EKInfo]{
	{Header: "REGISTRATION ID", Value: func(i EKInfo) string { return i.RegistrationID }},
	{Header: "REGISTRATION ID (HEX)", Value: func(i EKInfo) string { return i.RegistrationIDHex }},
	{Header: "KEY", Value: func(i EKInfo) string {
		if i.Curve != "" {
			return i.Algorithm + " " + i.Curve
		}
		return fmt.Sprintf("%s %d", i.Algorithm, i.KeyBits)
	}},
	{Header: "ENDORSEMENT KEY", Value: func(i EKInfo) string { return i.EndorsementKey }},
	{Header: "STORAGE ROOT KEY", Value: func(i EKInfo) string { return i.StorageRootKey }},
}
