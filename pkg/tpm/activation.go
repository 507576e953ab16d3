package tpm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
)

// The activation blob ("authenticationKey" in the DPS register responses)
// carries an HMAC key to a device so that only the TPM that holds a given
// EK can import it, under that TPM's SRK. It is six size-prefixed TPM
// structures back to back:
//
//	TPM2B_ID_OBJECT         credential: the inner wrapper key, bound to the SRK's Name, sealed to the EK
//	TPM2B_ENCRYPTED_SECRET  seed of the credential, encrypted to the EK (label "IDENTITY")
//	TPM2B_PRIVATE           the HMAC key's sensitive area: inner wrapper (AES-CFB) and outer wrapper to the SRK
//	TPM2B_ENCRYPTED_SECRET  seed of the outer wrapper, encrypted to the SRK (label "DUPLICATE")
//	TPM2B_PUBLIC            the HMAC key's public area
//	TPM2B_DATA              encUriData: optional data encrypted with the inner wrapper key (may be empty, never absent)
//
// The device runs ActivateCredential (EK, SRK) to recover the inner
// wrapper key, then Import under the SRK with it.

// ErrInvalidActivationBlob is wrapped by every ParseActivationBlob error.
var ErrInvalidActivationBlob = errors.New("invalid activation blob")

// MaxIdentityKeySize is the largest HMAC key a TPM accepts for a
// keyed-hash object with an HMAC-SHA256 scheme (the SHA-256 block size).
const MaxIdentityKeySize = 64

// MaxURIDataSize bounds encUriData: the device SDK that decrypts it does so
// with one TPM2_EncryptDecrypt call, whose buffer is at most 1024 bytes.
const MaxURIDataSize = 1024

// innerKeySize is the size of the inner wrapper key, the credential. Two of
// the device SDKs import with a fixed AES-128 and one creates an AES-128
// object from it, so it must be 16 bytes.
const innerKeySize = 16

// maxEncryptedSecret is sizeof(TPMU_ENCRYPTED_SECRET) for RSA keys of up to
// 4096 bits; an ECC secret (a TPMS_ECC_POINT) is smaller.
const maxEncryptedSecret = 512

// identityKeyAttributes are sign | userWithAuth | noDA. fixedTPM and
// fixedParent must stay clear or Import fails with TPM_RC_ATTRIBUTES.
var identityKeyAttributes = tpm2.TPMAObject{SignEncrypt: true, UserWithAuth: true, NoDA: true}

// identityKeyPolicy is PolicyCommandCode(TPM_CC_Duplicate), the authPolicy
// the reference emulator of the service gives the key:
// SHA-256(0³² ‖ TPM_CC_PolicyCommandCode ‖ TPM_CC_Duplicate).
var identityKeyPolicy = func() []byte {
	var b [32 + 8]byte
	binary.BigEndian.PutUint32(b[32:], uint32(tpm2.TPMCCPolicyCommandCode))
	binary.BigEndian.PutUint32(b[36:], uint32(tpm2.TPMCCDuplicate))
	sum := sha256.Sum256(b[:])
	return sum[:]
}()

// ActivationBlob is a parsed activation blob. Each field holds the contents
// of one TPM2B, without its 2-byte size prefix.
type ActivationBlob struct {
	// CredentialBlob is the TPMS_ID_OBJECT: integrityHMAC (TPM2B) ‖ encIdentity.
	CredentialBlob []byte
	// EncryptedSecret is the credential's seed, encrypted to the EK.
	EncryptedSecret []byte
	// Duplicate is the HMAC key's private area: outerHMAC (TPM2B) ‖ encSensitive.
	Duplicate []byte
	// EncryptedSeed is the duplication seed, encrypted to the SRK.
	EncryptedSeed []byte
	// Public is the HMAC key's TPMT_PUBLIC.
	Public []byte
	// EncURIData is the optional encrypted URI data; often empty.
	EncURIData []byte
}

// Marshal frames the six parts, each with its size prefix.
func (b *ActivationBlob) Marshal() []byte {
	parts := [][]byte{b.CredentialBlob, b.EncryptedSecret, b.Duplicate, b.EncryptedSeed, b.Public, b.EncURIData}
	n := 0
	for _, p := range parts {
		n += 2 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// KeyPublic decodes the HMAC key's public area.
func (b *ActivationBlob) KeyPublic() (*tpm2.TPMTPublic, error) {
	pub, err := unmarshalPublic(b.Public)
	if err != nil {
		return nil, blobErr("HMAC key public area: %v", err)
	}
	return pub, nil
}

func blobErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidActivationBlob}, args...)...)
}

var blobPartNames = [6]string{
	"credential blob (TPM2B_ID_OBJECT)",
	"encrypted secret for the EK (TPM2B_ENCRYPTED_SECRET)",
	"duplicate (TPM2B_PRIVATE)",
	"encrypted seed for the SRK (TPM2B_ENCRYPTED_SECRET)",
	"HMAC key public area (TPM2B_PUBLIC)",
	"encUriData (TPM2B_DATA)",
}

// ParseActivationBlob splits an activation blob into its six parts and
// checks each of them: every size prefix against the bytes that remain,
// the inner structure of the credential and of the duplicate, and the
// public area, which must be a keyed-hash key with an HMAC-SHA256 scheme.
// Bytes after the sixth part are ignored, as the device SDKs do. The
// parts share memory with data. Every error wraps ErrInvalidActivationBlob.
func ParseActivationBlob(data []byte) (*ActivationBlob, error) {
	var parts [6][]byte
	rest := data
	for i := range parts {
		if len(rest) < 2 {
			return nil, blobErr("truncated before the %s: %d bytes left, a size prefix needs 2", blobPartNames[i], len(rest))
		}
		size := int(binary.BigEndian.Uint16(rest))
		if size > len(rest)-2 {
			return nil, blobErr("the %s claims %d bytes but only %d follow", blobPartNames[i], size, len(rest)-2)
		}
		parts[i] = rest[2 : 2+size : 2+size]
		rest = rest[2+size:]
	}
	b := &ActivationBlob{
		CredentialBlob:  parts[0],
		EncryptedSecret: parts[1],
		Duplicate:       parts[2],
		EncryptedSeed:   parts[3],
		Public:          parts[4],
		EncURIData:      parts[5],
	}
	if err := checkWrapped(b.CredentialBlob, blobPartNames[0], "integrity HMAC"); err != nil {
		return nil, err
	}
	if err := checkWrapped(b.Duplicate, blobPartNames[2], "outer HMAC"); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		b    []byte
		name string
	}{{b.EncryptedSecret, blobPartNames[1]}, {b.EncryptedSeed, blobPartNames[3]}} {
		if len(s.b) == 0 {
			return nil, blobErr("the %s is empty", s.name)
		}
		if len(s.b) > maxEncryptedSecret {
			return nil, blobErr("the %s is %d bytes, more than any TPM key can decrypt (%d)", s.name, len(s.b), maxEncryptedSecret)
		}
	}
	if len(b.EncURIData) > MaxURIDataSize {
		return nil, blobErr("the %s is %d bytes; at most %d are allowed", blobPartNames[5], len(b.EncURIData), MaxURIDataSize)
	}
	if err := checkIdentityPublic(b.Public); err != nil {
		return nil, err
	}
	return b, nil
}

// checkWrapped checks a TPM2B digest (an HMAC) followed by a non-empty
// encrypted part.
func checkWrapped(b []byte, part, what string) error {
	if len(b) < 2 {
		return blobErr("the %s is %d bytes, too short for its %s", part, len(b), what)
	}
	size := int(binary.BigEndian.Uint16(b))
	switch {
	case size == 0 || size > sha512Size:
		return blobErr("the %s has a %d-byte %s; a digest is 1 to %d bytes", part, size, what, sha512Size)
	case 2+size >= len(b):
		return blobErr("the %s ends after its %s; the encrypted part is missing", part, what)
	}
	return nil
}

const sha512Size = 64

func checkIdentityPublic(b []byte) error {
	if len(b) == 0 {
		return blobErr("the %s is empty", blobPartNames[4])
	}
	pub, err := unmarshalPublic(b)
	if err != nil {
		return blobErr("the %s does not decode: %v", blobPartNames[4], err)
	}
	if len(tpm2.Marshal(pub)) != len(b) {
		return blobErr("the %s has unexpected bytes after the TPMT_PUBLIC", blobPartNames[4])
	}
	if pub.Type != tpm2.TPMAlgKeyedHash {
		return blobErr("the key in the blob has type 0x%04x; an identity key is a keyed-hash (HMAC) key", uint16(pub.Type))
	}
	parms, err := pub.Parameters.KeyedHashDetail()
	if err != nil {
		return blobErr("keyed-hash parameters: %v", err)
	}
	if parms.Scheme.Scheme != tpm2.TPMAlgHMAC {
		return blobErr("the key's scheme is 0x%04x; an identity key has an HMAC scheme", uint16(parms.Scheme.Scheme))
	}
	h, err := parms.Scheme.Details.HMAC()
	if err != nil {
		return blobErr("HMAC scheme: %v", err)
	}
	if h.HashAlg != tpm2.TPMAlgSHA256 {
		return blobErr("the key signs with hash 0x%04x; SAS tokens need HMAC-SHA256", uint16(h.HashAlg))
	}
	if !pub.ObjectAttributes.SignEncrypt {
		return blobErr("the key in the blob cannot sign")
	}
	return nil
}

// NewActivationBlob builds the activation blob that lets the TPM owning the
// endorsement key ek import hmacKey as an HMAC-SHA256 key under its
// storage root key srk. ek and srk are the TPM2B_PUBLIC bytes the device
// sent (tpm.endorsementKey and tpm.storageRootKey, base64-decoded); both
// may be RSA 2048 or ECC P-256 restricted decryption keys with an
// AES-CFB symmetric scheme. hmacKey is 1 to 64 bytes. uri may be empty;
// otherwise it is encrypted with the credential (AES-128-CFB, zero IV) into
// the encUriData part. rand supplies the seeds and keys; nil means
// crypto/rand.
func NewActivationBlob(ek, srk []byte, hmacKey []byte, uri []byte, rand io.Reader) ([]byte, error) {
	b, err := newActivationBlob(ek, srk, hmacKey, uri, rand)
	if err != nil {
		return nil, err
	}
	return b.Marshal(), nil
}

func newActivationBlob(ekPub, srkPub []byte, hmacKey []byte, uri []byte, random io.Reader) (*ActivationBlob, error) {
	if random == nil {
		random = rand.Reader
	}
	random = fullReader{random}
	if len(hmacKey) == 0 || len(hmacKey) > MaxIdentityKeySize {
		return nil, fmt.Errorf("the HMAC key is %d bytes; a TPM imports 1 to %d", len(hmacKey), MaxIdentityKeySize)
	}
	if len(uri) > MaxURIDataSize {
		return nil, fmt.Errorf("the URI data is %d bytes; at most %d fit", len(uri), MaxURIDataSize)
	}
	ek, err := ParseEK(ekPub)
	if err != nil {
		return nil, fmt.Errorf("endorsement key: %w", err)
	}
	srk, err := ParseEK(srkPub)
	if err != nil {
		return nil, fmt.Errorf("storage root key: %w", err)
	}
	ekKEM, err := encapsulationKey(&ek.Public, "endorsement key")
	if err != nil {
		return nil, err
	}
	srkKEM, err := encapsulationKey(&srk.Public, "storage root key")
	if err != nil {
		return nil, err
	}
	srkName, err := srk.Name()
	if err != nil {
		return nil, fmt.Errorf("storage root key name: %w", err)
	}

	// The HMAC key as a TPM object: public area and sensitive area.
	seedValue := make([]byte, sha256.Size)
	if _, err := io.ReadFull(random, seedValue); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	pub := identityKeyPublic(seedValue, hmacKey)
	pubBytes := tpm2.Marshal(pub)
	idName, err := tpm2.ObjectName(&pub)
	if err != nil {
		return nil, err
	}
	sens2B := sized(tpm2.Marshal(tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgKeyedHash,
		SeedValue:     tpm2.TPM2BDigest{Buffer: seedValue},
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BSensitiveData{Buffer: hmacKey}),
	}))

	// Inner wrapper: AES-128-CFB with a fresh key, which becomes the credential.
	innerKey := make([]byte, innerKeySize)
	if _, err := io.ReadFull(random, innerKey); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	h := sha256.New()
	h.Write(sens2B)
	h.Write(idName.Buffer)
	inner := sized(h.Sum(nil))
	inner = append(inner, sens2B...)
	if err := cfbEncrypt(innerKey, inner); err != nil {
		return nil, err
	}

	// Outer wrapper to the SRK.
	duplicate, encSeed, err := outerWrap(random, srkKEM, idName.Buffer, inner)
	if err != nil {
		return nil, fmt.Errorf("wrapping the key for the storage root key: %w", err)
	}

	// The credential: the inner key, for the SRK's Name, sealed to the EK.
	credBlob, encSecret, err := tpm2.CreateCredential(random, ekKEM, srkName, innerKey)
	if err != nil {
		return nil, fmt.Errorf("making the credential for the endorsement key: %w", err)
	}

	encURI := append([]byte(nil), uri...)
	if err := cfbEncrypt(innerKey, encURI); err != nil {
		return nil, err
	}
	return &ActivationBlob{
		CredentialBlob:  credBlob,
		EncryptedSecret: encSecret,
		Duplicate:       duplicate,
		EncryptedSeed:   encSeed,
		Public:          pubBytes,
		EncURIData:      encURI,
	}, nil
}

// identityKeyPublic is the public area of the imported HMAC key; its
// unique field is SHA-256(seedValue ‖ key), which binds the public area to
// the sensitive one.
func identityKeyPublic(seedValue, key []byte) tpm2.TPMTPublic {
	h := sha256.New()
	h.Write(seedValue)
	h.Write(key)
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgKeyedHash,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: identityKeyAttributes,
		AuthPolicy:       tpm2.TPM2BDigest{Buffer: identityKeyPolicy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{
				Scheme:  tpm2.TPMAlgHMAC,
				Details: tpm2.NewTPMUSchemeKeyedHash(tpm2.TPMAlgHMAC, &tpm2.TPMSSchemeHMAC{HashAlg: tpm2.TPMAlgSHA256}),
			},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: h.Sum(nil)}),
	}
}

// encapsulationKey checks that a storage key protects its children with
// AES-CFB (the only mode the wrappers implement) and returns it as a
// labeled encapsulation key.
func encapsulationKey(pub *tpm2.TPMTPublic, what string) (tpm2.LabeledEncapsulationKey, error) {
	kem, err := tpm2.ImportEncapsulationKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	sym := kem.SymmetricParameters()
	if sym.Algorithm != tpm2.TPMAlgAES {
		return nil, fmt.Errorf("%s: symmetric algorithm 0x%04x is not supported, only AES", what, uint16(sym.Algorithm))
	}
	mode, err := sym.Mode.AES()
	if err != nil {
		return nil, fmt.Errorf("%s: symmetric mode: %w", what, err)
	}
	if *mode != tpm2.TPMAlgCFB {
		return nil, fmt.Errorf("%s: symmetric mode 0x%04x is not supported, only CFB", what, uint16(*mode))
	}
	bits, err := sym.KeyBits.AES()
	if err != nil {
		return nil, fmt.Errorf("%s: symmetric key size: %w", what, err)
	}
	switch *bits {
	case 128, 192, 256:
	default:
		return nil, fmt.Errorf("%s: AES key size %d is not valid", what, *bits)
	}
	if _, err := kem.NameAlg().Hash(); err != nil {
		return nil, fmt.Errorf("%s: name algorithm: %w", what, err)
	}
	return kem, nil
}

// outerWrap applies the outer duplication wrapper (TPM 2.0 Part 1,
// "Outer Duplication Wrapper") to an already inner-wrapped sensitive area:
// a seed encapsulated to the new parent with label DUPLICATE, AES-CFB under
// KDFa(seed, "STORAGE", name), and an HMAC under KDFa(seed, "INTEGRITY")
// over the ciphertext and the name. Unlike tpm2.CreateDuplicate it adds no
// size prefix: the inner wrapper already framed the sensitive area.
func outerWrap(random io.Reader, parent tpm2.LabeledEncapsulationKey, name, inner []byte) (duplicate, encSeed []byte, err error) {
	seed, encSeed, err := parent.Encapsulate(random, "DUPLICATE")
	if err != nil {
		return nil, nil, err
	}
	hash, _ := parent.NameAlg().Hash()
	bits, _ := parent.SymmetricParameters().KeyBits.AES()
	encSensitive := append([]byte(nil), inner...)
	if err := cfbEncrypt(tpm2.KDFa(hash, seed, "STORAGE", name, nil, int(*bits)), encSensitive); err != nil {
		return nil, nil, err
	}
	mac := hmac.New(hash.New, tpm2.KDFa(hash, seed, "INTEGRITY", nil, nil, hash.Size()*8))
	mac.Write(encSensitive)
	mac.Write(name)
	duplicate = sized(mac.Sum(nil))
	duplicate = append(duplicate, encSensitive...)
	return duplicate, encSeed, nil
}

// cfbEncrypt encrypts b in place with AES-CFB and a zero IV, as TPM
// wrappers do (CFB is deprecated in crypto/cipher for new designs; the
// TPM's formats require it, and each wrapper carries its own HMAC).
func cfbEncrypt(key, b []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	cipher.NewCFBEncrypter(block, make([]byte, aes.BlockSize)).XORKeyStream(b, b)
	return nil
}

// fullReader makes every Read fill its buffer: the encapsulation code
// rejects a short read.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) { return io.ReadFull(f.r, p) }
