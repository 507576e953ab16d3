// Package tpm parses and validates TPM endorsement keys and derives the DPS
// registration IDs from them. The device side (reading keys from a TPM) is
// in device.go.
package tpm

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/google/go-tpm/tpm2"
)

// ErrInvalidEK is wrapped by every ParseEK/DecodeEK error.
var ErrInvalidEK = errors.New("invalid endorsement key")

var regIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// RegistrationID returns the registration ID the device SDKs derive from an
// endorsement key: lower-case RFC 4648 base32 of SHA-256 over the marshalled
// TPM2B_PUBLIC (2-byte size prefix included), without padding (52 characters).
func RegistrationID(ekTPM2BPublic []byte) string {
	sum := sha256.Sum256(ekTPM2BPublic)
	return strings.ToLower(regIDEncoding.EncodeToString(sum[:]))
}

// RegistrationIDHex returns the ID of the other common convention (Linux and
// IoT Edge scripts: `tpm2_readpublic -c 0x81010001 -o ek.pub` then
// `sha256sum ek.pub`): lower-case hex of SHA-256 over the same TPM2B_PUBLIC
// bytes (64 characters).
func RegistrationIDHex(ekTPM2BPublic []byte) string {
	sum := sha256.Sum256(ekTPM2BPublic)
	return hex.EncodeToString(sum[:])
}

// EK is a parsed and validated endorsement key public area.
type EK struct {
	// TPM2BPublic is the canonical TPM2B_PUBLIC encoding, size prefix included.
	TPM2BPublic []byte
	// Public is the decoded TPMT_PUBLIC.
	Public tpm2.TPMTPublic
	// Algorithm is "RSA" or "ECC".
	Algorithm string
	// KeyBits is 2048 for RSA and 256 for ECC P-256.
	KeyBits int
	// Curve is "P-256" for ECC keys, empty for RSA.
	Curve string
	// NameAlg is the object's name algorithm, e.g. "SHA256".
	NameAlg string
	// PublicKey is the key as *rsa.PublicKey or *ecdsa.PublicKey.
	PublicKey crypto.PublicKey
}

// Base64 returns the standard base64 of TPM2BPublic, the form of the
// enrollment's endorsementKey and of the register request's tpm fields.
func (ek *EK) Base64() string { return base64.StdEncoding.EncodeToString(ek.TPM2BPublic) }

// RegistrationID returns the SDK-derived registration ID of the key.
func (ek *EK) RegistrationID() string { return RegistrationID(ek.TPM2BPublic) }

// RegistrationIDHex returns the hex-SHA-256 registration ID of the key.
func (ek *EK) RegistrationIDHex() string { return RegistrationIDHex(ek.TPM2BPublic) }

// TPMTPublic returns the TPMT_PUBLIC bytes (TPM2BPublic without its size prefix).
func (ek *EK) TPMTPublic() []byte { return ek.TPM2BPublic[2:] }

// Name returns the TPM Name of the key: nameAlg ‖ H(TPMT_PUBLIC).
func (ek *EK) Name() ([]byte, error) {
	n, err := tpm2.ObjectName(&ek.Public)
	if err != nil {
		return nil, err
	}
	return n.Buffer, nil
}

// Equal reports whether two keys have the same public area.
func (ek *EK) Equal(other *EK) bool {
	return other != nil && string(ek.TPM2BPublic) == string(other.TPM2BPublic)
}

func ekErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEK}, args...)...)
}

// maxPublicSize bounds the input; a TPMT_PUBLIC is never near this size.
const maxPublicSize = 4096

// ParseEK parses the public area of an endorsement key, given either as a
// TPM2B_PUBLIC (size-prefixed) or a bare TPMT_PUBLIC, and checks that it is a
// restricted decryption key of type RSA 2048 or ECC NIST P-256.
func ParseEK(data []byte) (*EK, error) {
	pub, canonical, err := parsePublic(data)
	if err != nil {
		return nil, err
	}
	ek := &EK{TPM2BPublic: canonical, Public: *pub}
	if err := validateEK(ek); err != nil {
		return nil, err
	}
	return ek, nil
}

// parsePublic decodes TPM2B_PUBLIC or TPMT_PUBLIC bytes and returns the
// structure and its canonical TPM2B encoding.
func parsePublic(data []byte) (pub *tpm2.TPMTPublic, canonical []byte, err error) {
	if len(data) < 2 {
		return nil, nil, ekErr("%d bytes is too short for a TPM public area", len(data))
	}
	if len(data) > maxPublicSize {
		return nil, nil, ekErr("%d bytes is too long for a TPM public area", len(data))
	}
	body := data
	if size := int(binary.BigEndian.Uint16(data)); size == len(data)-2 {
		body = data[2:]
	} else if t := binary.BigEndian.Uint16(data); t != uint16(tpm2.TPMAlgRSA) && t != uint16(tpm2.TPMAlgECC) {
		if size > len(data)-2 {
			return nil, nil, ekErr("TPM2B_PUBLIC size prefix says %d bytes but only %d follow", size, len(data)-2)
		}
		return nil, nil, ekErr("TPM2B_PUBLIC size prefix says %d bytes but %d follow", size, len(data)-2)
	}
	pub, err = unmarshalPublic(body)
	if err != nil {
		return nil, nil, ekErr("cannot decode TPMT_PUBLIC: %v", err)
	}
	re := tpm2.Marshal(pub)
	if len(re) != len(body) {
		if len(re) < len(body) {
			return nil, nil, ekErr("%d unexpected bytes after the TPMT_PUBLIC", len(body)-len(re))
		}
		return nil, nil, ekErr("TPMT_PUBLIC does not re-encode to its input")
	}
	canonical = make([]byte, 2+len(body))
	binary.BigEndian.PutUint16(canonical, uint16(len(body)))
	copy(canonical[2:], body)
	return pub, canonical, nil
}

func unmarshalPublic(b []byte) (pub *tpm2.TPMTPublic, err error) {
	defer func() {
		if r := recover(); r != nil {
			pub, err = nil, fmt.Errorf("malformed structure: %v", r)
		}
	}()
	return tpm2.Unmarshal[tpm2.TPMTPublic](b)
}

func validateEK(ek *EK) error {
	p := &ek.Public
	switch p.NameAlg {
	case tpm2.TPMAlgSHA256:
		ek.NameAlg = "SHA256"
	case tpm2.TPMAlgSHA384:
		ek.NameAlg = "SHA384"
	case tpm2.TPMAlgSHA1:
		ek.NameAlg = "SHA1"
	case tpm2.TPMAlgSHA512:
		ek.NameAlg = "SHA512"
	default:
		return ekErr("unsupported name algorithm 0x%04x", uint16(p.NameAlg))
	}
	a := p.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt {
		return ekErr("not a restricted decryption key (restricted=%t decrypt=%t sign=%t); an endorsement key is restricted and decrypt-only",
			a.Restricted, a.Decrypt, a.SignEncrypt)
	}
	switch p.Type {
	case tpm2.TPMAlgRSA:
		ek.Algorithm = "RSA"
		parms, err := p.Parameters.RSADetail()
		if err != nil {
			return ekErr("RSA parameters: %v", err)
		}
		if parms.KeyBits != 2048 {
			return ekErr("RSA key of %d bits; an endorsement key must be RSA 2048 or ECC P-256", parms.KeyBits)
		}
		if parms.Symmetric.Algorithm == tpm2.TPMAlgNull {
			return ekErr("a restricted decryption key needs a symmetric algorithm, this one has none")
		}
		if parms.Exponent != 0 && parms.Exponent != 65537 {
			return ekErr("RSA exponent %d; an endorsement key uses 65537", parms.Exponent)
		}
		n, err := p.Unique.RSA()
		if err != nil {
			return ekErr("RSA modulus: %v", err)
		}
		if len(n.Buffer) != 256 {
			return ekErr("RSA modulus is %d bytes; 2048 bits need 256", len(n.Buffer))
		}
		if n.Buffer[0]&0x80 == 0 {
			return ekErr("RSA modulus is shorter than 2048 bits (an empty template rather than a key?)")
		}
		ek.KeyBits = 2048
		pk, err := tpm2.RSAPub(parms, n)
		if err != nil {
			return ekErr("RSA public key: %v", err)
		}
		ek.PublicKey = pk
	case tpm2.TPMAlgECC:
		ek.Algorithm = "ECC"
		parms, err := p.Parameters.ECCDetail()
		if err != nil {
			return ekErr("ECC parameters: %v", err)
		}
		if parms.CurveID != tpm2.TPMECCNistP256 {
			return ekErr("ECC curve 0x%04x; an endorsement key must be RSA 2048 or ECC P-256", uint16(parms.CurveID))
		}
		if parms.Symmetric.Algorithm == tpm2.TPMAlgNull {
			return ekErr("a restricted decryption key needs a symmetric algorithm, this one has none")
		}
		pt, err := p.Unique.ECC()
		if err != nil {
			return ekErr("ECC point: %v", err)
		}
		if len(pt.X.Buffer) != 32 || len(pt.Y.Buffer) != 32 {
			return ekErr("ECC point coordinates are %d and %d bytes; P-256 needs 32 each", len(pt.X.Buffer), len(pt.Y.Buffer))
		}
		pk, err := tpm2.ECDSAPub(parms, pt)
		if err != nil {
			return ekErr("ECC public key: %v", err)
		}
		if _, err := pk.ECDH(); err != nil {
			return ekErr("ECC point is not on the P-256 curve")
		}
		ek.KeyBits = 256
		ek.Curve = "P-256"
		ek.PublicKey = pk
	default:
		return ekErr("key type 0x%04x; an endorsement key must be RSA 2048 or ECC P-256", uint16(p.Type))
	}
	return nil
}

// DecodeEK parses the base64 TPM2B_PUBLIC form used in enrollments and
// register requests. Standard base64 is expected; missing padding, white
// space and the URL-safe alphabet are tolerated.
func DecodeEK(s string) (*EK, error) {
	raw, err := model.DecodeBase64(s)
	if err != nil {
		return nil, ekErr("not valid base64: %v", err)
	}
	if len(raw) == 0 {
		return nil, ekErr("the endorsement key is empty")
	}
	return ParseEK(raw)
}

// RegistrationIDFromEK decodes a base64 endorsement key and returns its
// SDK-derived registration ID.
func RegistrationIDFromEK(ekBase64 string) (string, error) {
	ek, err := DecodeEK(ekBase64)
	if err != nil {
		return "", err
	}
	return ek.RegistrationID(), nil
}

// ParseEKData parses an endorsement key given in any of the forms tools
// write: binary TPM2B_PUBLIC or TPMT_PUBLIC (tpm2_readpublic -o, default
// "tss" format), or base64 of either (the enrollment form). A PEM or DER
// SubjectPublicKeyInfo is recognised and rejected with a hint, since it
// lacks the attributes and policy that the registration ID covers.
func ParseEKData(data []byte) (*EK, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "-----BEGIN") {
		return nil, ekErr("this is a PEM %s, not a TPM public area; DPS needs the TPM2B_PUBLIC (for example `tpm2_readpublic -c 0x81010001 -o ek.pub`)", pemType(trimmed))
	}
	if len(data) > 0 && model.IsBase64Text(trimmed) {
		return DecodeEK(trimmed)
	}
	if len(data) > 2 && data[0] == 0x30 && data[1]&0x80 != 0 {
		if _, err := x509.ParsePKIXPublicKey(data); err == nil {
			return nil, ekErr("this is a DER SubjectPublicKeyInfo, not a TPM public area; DPS needs the TPM2B_PUBLIC (for example `tpm2_readpublic -c 0x81010001 -o ek.pub`)")
		}
	}
	return ParseEK(data)
}

func pemType(s string) string {
	s = strings.TrimPrefix(s, "-----BEGIN ")
	if i := strings.Index(s, "-----"); i >= 0 {
		return s[:i]
	}
	return "block"
}
