// Package shared holds what the tpm verbs share: where the endorsement key
// comes from (an argument, a file or a TPM) and how it is printed.
package shared

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/spf13/cobra"
)

// EnvTPM names the TPM to use when --tpm is not given.
const EnvTPM = "DPSCTL_TPM"

// Source says where the endorsement key comes from.
type Source struct {
	Arg    string // base64 EK on the command line
	File   string // --ek-file; "-" is stdin
	TPM    string // --tpm spec; "" means $DPSCTL_TPM or the default device
	Create bool   // --create: create and persist missing keys

	tpmSet bool
}

// Register adds --ek-file, --tpm and --create to cmd.
func (s *Source) Register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.File, "ek-file", "", "Read the endorsement key from a file: binary TPM2B_PUBLIC (tpm2_readpublic -o) or base64 (\"-\" for standard input)")
	fl.StringVar(&s.TPM, "tpm", "", "Read from a TPM: device[:path], swtpm:host:port or simulator[:seed] (default $"+EnvTPM+" or "+tpm.DefaultDevice+")")
	fl.BoolVar(&s.Create, "create", false, "Create and persist the EK and SRK from the TCG templates if the TPM has none")
	cmdutil.FileFlag(cmd, "ek-file")
}

// Capture records which flags were given and checks their combination.
func (s *Source) Capture(cmd *cobra.Command, args []string, getenv func(string) string) error {
	if len(args) > 0 {
		s.Arg = args[0]
	}
	s.tpmSet = cmd.Flags().Changed("tpm")
	if err := cmdutil.MutuallyExclusive("give the endorsement key once: as an argument, with --ek-file or with --tpm",
		s.Arg != "", s.File != "", s.tpmSet); err != nil {
		return err
	}
	if s.Create && (s.Arg != "" || s.File != "") {
		return cmdutil.FlagErrorf("--create applies only when reading from a TPM")
	}
	if !s.tpmSet && s.TPM == "" && getenv != nil {
		s.TPM = getenv(EnvTPM)
	}
	return nil
}

// FromTPM reports whether the key is read from a TPM.
func (s *Source) FromTPM() bool { return s.Arg == "" && s.File == "" }

// Load returns the endorsement key and, when it was read from a TPM, the
// whole identity (EK and SRK).
func (s *Source) Load(ios *iostreams.IOStreams) (*tpm.EK, *tpm.Identity, error) {
	switch {
	case s.Arg != "":
		ek, err := tpm.DecodeEK(s.Arg)
		return ek, nil, err
	case s.File != "":
		data, err := cmdutil.ReadFile(ios, s.File)
		if err != nil {
			return nil, nil, err
		}
		ek, err := tpm.ParseEKData(data)
		if err != nil {
			name := s.File
			if name == "-" {
				name = "standard input"
			}
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return ek, nil, nil
	}
	t, err := tpm.Open(s.TPM)
	if err != nil {
		return nil, nil, err
	}
	defer t.Close()
	id, err := tpm.ReadIdentity(t, s.Create)
	if err != nil {
		if errors.Is(err, tpm.ErrNotPersisted) {
			return nil, nil, fmt.Errorf("%w; --create makes and persists one from the TCG template (as the device SDKs do)", err)
		}
		return nil, nil, err
	}
	return id.EK, id, nil
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

// Describe names the source for status lines.
func (s *Source) Describe() string {
	switch {
	case s.Arg != "":
		return "the argument"
	case s.File == "-":
		return "standard input"
	case s.File != "":
		return s.File
	case s.TPM == "":
		return tpm.DefaultDevice
	}
	return strings.TrimPrefix(s.TPM, "device:")
}
