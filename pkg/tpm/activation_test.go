package tpm

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// softStorageKey is a software stand-in for a TPM's restricted decryption
// key (EK or SRK): it undoes what the TPM undoes in ActivateCredential and
// Import, so the blob can be checked without a TPM.
type softStorageKey struct {
	pub  []byte // TPM2B_PUBLIC
	rsa  *rsa.PrivateKey
	ecc  *ecdh.PrivateKey
	name []byte
}

func newSoftStorageKey(t testing.TB, tmpl tpm2.TPMTPublic) *softStorageKey {
	t.Helper()
	k := &softStorageKey{}
	switch tmpl.Type {
	case tpm2.TPMAlgRSA:
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k.rsa = priv
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: priv.N.Bytes()})
	case tpm2.TPMAlgECC:
		priv, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.ecc = priv
		p := priv.PublicKey().Bytes()
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: p[1:33]},
			Y: tpm2.TPM2BECCParameter{Buffer: p[33:]},
		})
	}
	k.pub = tpm2.Marshal(tpm2.New2B(tmpl))
	name, err := tpm2.ObjectName(&tmpl)
	if err != nil {
		t.Fatal(err)
	}
	k.name = name.Buffer
	return k
}

// The keys take a moment to generate; the tests share them.
var (
	softKeysOnce          sync.Once
	softRSAEK, softRSASRK *softStorageKey
	softECCEK, softECCSRK *softStorageKey
)

func softKeys(t testing.TB) {
	softKeysOnce.Do(func() {
		softRSAEK = newSoftStorageKey(t, tpm2.RSAEKTemplate)
		softRSASRK = newSoftStorageKey(t, tpm2.RSASRKTemplate)
		softECCEK = newSoftStorageKey(t, tpm2.ECCEKTemplate)
		softECCSRK = newSoftStorageKey(t, tpm2.ECCSRKTemplate)
	})
}

// decapsulate recovers a seed the way the TPM does for a secret encrypted
// to this key with the given label.
func (k *softStorageKey) decapsulate(ct []byte, label string) ([]byte, error) {
	if k.rsa != nil {
		return rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ct, []byte(label+"\x00"))
	}
	pt, err := tpm2.Unmarshal[tpm2.TPMSECCPoint](ct)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, pt.X.Buffer...), pt.Y.Buffer...))
	if err != nil {
		return nil, err
	}
	z, err := k.ecc.ECDH(eph)
	if err != nil {
		return nil, err
	}
	own := k.ecc.PublicKey().Bytes()[1:33]
	return tpm2.KDFe(crypto.SHA256, z, label, pt.X.Buffer, own, 256), nil
}

// unwrap checks the HMAC of a TPM2B(hmac) ‖ ciphertext structure made with
// seed for an object called name and returns the plaintext (AES-128).
func unwrap(t *testing.T, seed, name, wrapped []byte) []byte {
	t.Helper()
	n := int(binary.BigEndian.Uint16(wrapped))
	mac, enc := wrapped[2:2+n], bytes.Clone(wrapped[2+n:])
	m := hmac.New(sha256.New, tpm2.KDFa(crypto.SHA256, seed, "INTEGRITY", nil, nil, 256))
	m.Write(enc)
	m.Write(name)
	if !hmac.Equal(m.Sum(nil), mac) {
		t.Fatal("integrity HMAC does not match")
	}
	if err := cfbDecrypt(tpm2.KDFa(crypto.SHA256, seed, "STORAGE", name, nil, 128), enc); err != nil {
		t.Fatal(err)
	}
	return enc
}

// softActivate does in software what ActivateIdentityKey has the TPM do,
// returning the HMAC key and the decrypted URI data.
func softActivate(t *testing.T, ek, srk *softStorageKey, blob []byte) (key, uri []byte) {
	t.Helper()
	b, err := ParseActivationBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	// ActivateCredential.
	seed, err := ek.decapsulate(b.EncryptedSecret, "IDENTITY")
	if err != nil {
		t.Fatalf("EK cannot decrypt the credential seed: %v", err)
	}
	cred := unwrap(t, seed, srk.name, b.CredentialBlob)
	if len(cred) != 2+16 || binary.BigEndian.Uint16(cred) != 16 {
		t.Fatalf("credential is not a 16-byte TPM2B: %x", cred)
	}
	innerKey := cred[2:]

	// Import: outer wrapper, then inner wrapper.
	pub, err := b.KeyPublic()
	if err != nil {
		t.Fatal(err)
	}
	idName, err := tpm2.ObjectName(pub)
	if err != nil {
		t.Fatal(err)
	}
	seed, err = srk.decapsulate(b.EncryptedSeed, "DUPLICATE")
	if err != nil {
		t.Fatalf("SRK cannot decrypt the duplication seed: %v", err)
	}
	inner := unwrap(t, seed, idName.Buffer, b.Duplicate)
	if err := cfbDecrypt(innerKey, inner); err != nil {
		t.Fatal(err)
	}
	n := int(binary.BigEndian.Uint16(inner))
	integrity, sens2B := inner[2:2+n], inner[2+n:]
	want := sha256.Sum256(append(bytes.Clone(sens2B), idName.Buffer...))
	if !bytes.Equal(integrity, want[:]) {
		t.Fatal("inner integrity does not match")
	}
	if int(binary.BigEndian.Uint16(sens2B)) != len(sens2B)-2 {
		t.Fatal("sensitive area size prefix is wrong")
	}
	sens, err := tpm2.Unmarshal[tpm2.TPMTSensitive](sens2B[2:])
	if err != nil {
		t.Fatal(err)
	}
	if sens.SensitiveType != tpm2.TPMAlgKeyedHash || len(sens.AuthValue.Buffer) != 0 || len(sens.SeedValue.Buffer) != 32 {
		t.Fatalf("sensitive area type 0x%x auth %d seed %d", sens.SensitiveType, len(sens.AuthValue.Buffer), len(sens.SeedValue.Buffer))
	}
	bits, err := sens.Sensitive.Bits()
	if err != nil {
		t.Fatal(err)
	}
	// The public area's unique binds it to the sensitive area.
	unique, err := pub.Unique.KeyedHash()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append(bytes.Clone(sens.SeedValue.Buffer), bits.Buffer...))
	if !bytes.Equal(unique.Buffer, sum[:]) {
		t.Fatal("public unique is not SHA-256(seed ‖ key)")
	}
	uri = bytes.Clone(b.EncURIData)
	if err := cfbDecrypt(innerKey, uri); err != nil {
		t.Fatal(err)
	}
	return bits.Buffer, uri
}

func TestIdentityKeyPolicy(t *testing.T) {
	// PolicyCommandCode(TPM_CC_Duplicate), as published for the service emulator.
	const want = "bef56b8c1cc84e11edd717528d2cd99356bd2bbf8f015209c3f84aeeaba8e8a2"
	if got := hex.EncodeToString(identityKeyPolicy); got != want {
		t.Errorf("policy %s, want %s", got, want)
	}
}

func TestNewActivationBlobSoftwareActivate(t *testing.T) {
	softKeys(t)
	tests := []struct {
		name     string
		ek, srk  *softStorageKey
		keySize  int
		uri      string
		wantSize int
	}{
		{"RSA, 32-byte key", softRSAEK, softRSASRK, 32, "", 798},
		{"RSA, 64-byte key and URI", softRSAEK, softRSASRK, 64, "https://hub.example/devices/d1", 798 + 32 + 30},
		{"RSA, 1-byte key", softRSAEK, softRSASRK, 1, "", 798 - 31},
		{"ECC EK and SRK", softECCEK, softECCSRK, 32, "x", 0},
		{"ECC EK, RSA SRK", softECCEK, softRSASRK, 16, "", 0},
		{"RSA EK, ECC SRK", softRSAEK, softECCSRK, 32, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := make([]byte, tc.keySize)
			rand.Read(key)
			blob, err := NewActivationBlob(tc.ek.pub, tc.srk.pub, key, []byte(tc.uri), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSize != 0 && len(blob) != tc.wantSize {
				t.Errorf("blob is %d bytes, want %d", len(blob), tc.wantSize)
			}
			gotKey, gotURI := softActivate(t, tc.ek, tc.srk, blob)
			if !bytes.Equal(gotKey, key) {
				t.Errorf("unwrapped key %x, want %x", gotKey, key)
			}
			if string(gotURI) != tc.uri {
				t.Errorf("URI data %q, want %q", gotURI, tc.uri)
			}
		})
	}
}

// TestActivationBlobLayout checks the byte layout for the SDKs' case:
// RSA-2048 EK and SRK, a 32-byte key, no URI data.
func TestActivationBlobLayout(t *testing.T) {
	softKeys(t)
	blob, err := NewActivationBlob(mustB64(t, sampleEK), softRSASRK.pub, make([]byte, 32), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != 798 {
		t.Fatalf("blob is %d bytes, want 798", len(blob))
	}
	parts := []struct {
		name         string
		offset, size int
	}{
		{"TPM2B_ID_OBJECT", 0, 0x34},
		{"TPM2B_ENCRYPTED_SECRET (EK)", 54, 0x100},
		{"TPM2B_PRIVATE", 312, 0x8e},
		{"TPM2B_ENCRYPTED_SECRET (SRK)", 456, 0x100},
		{"TPM2B_PUBLIC", 714, 0x50},
		{"TPM2B_DATA", 796, 0},
	}
	for _, p := range parts {
		if got := int(binary.BigEndian.Uint16(blob[p.offset:])); got != p.size {
			t.Errorf("%s at %d: size %#x, want %#x", p.name, p.offset, got, p.size)
		}
	}
	// Inner digests: the ID object's integrity HMAC and the duplicate's
	// outer HMAC are SHA-256 sized; the credential is 18 bytes encrypted.
	if got := binary.BigEndian.Uint16(blob[2:]); got != 32 {
		t.Errorf("integrity HMAC size %d", got)
	}
	if got := binary.BigEndian.Uint16(blob[314:]); got != 32 {
		t.Errorf("outer HMAC size %d", got)
	}
	// The public area: keyed hash, SHA-256, sign|userWithAuth|noDA, the
	// Duplicate policy, HMAC-SHA256.
	wantPub := "0008000b00040440" + "0020" + hex.EncodeToString(identityKeyPolicy) + "000500" + "0b" + "0020"
	if got := hex.EncodeToString(blob[716 : 716+len(wantPub)/2]); got != wantPub {
		t.Errorf("public area header %s, want %s", got, wantPub)
	}

	b, err := ParseActivationBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Marshal(), blob) {
		t.Error("Marshal does not reproduce the blob")
	}
	if len(b.EncURIData) != 0 {
		t.Error("URI data not empty")
	}
}

func TestNewActivationBlobErrors(t *testing.T) {
	softKeys(t)
	ek, srk := softRSAEK.pub, softRSASRK.pub
	withSym := func(tmpl tpm2.TPMTPublic, mode tpm2.TPMAlgID) []byte {
		k := newSoftStorageKey(t, tmpl)
		pub, _ := tpm2.Unmarshal[tpm2.TPMTPublic](k.pub[2:])
		parms, _ := pub.Parameters.RSADetail()
		parms.Symmetric.Mode = tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, mode)
		return tpm2.Marshal(tpm2.New2B(*pub))
	}
	tests := []struct {
		name    string
		ek, srk []byte
		key     []byte
		uri     []byte
		want    string
	}{
		{"empty key", ek, srk, nil, nil, "1 to 64"},
		{"65-byte key", ek, srk, make([]byte, 65), nil, "1 to 64"},
		{"URI data too long", ek, srk, make([]byte, 32), make([]byte, 1025), "at most 1024"},
		{"EK not a key", []byte("registration"), srk, make([]byte, 32), nil, "endorsement key"},
		{"SRK empty", ek, nil, make([]byte, 32), nil, "storage root key"},
		{"SRK is a template without key", ek, marshalTemplate(tpm2.RSASRKTemplate, nil), make([]byte, 32), nil, "storage root key"},
		{"EK in OFB mode", withSym(tpm2.RSAEKTemplate, tpm2.TPMAlgOFB), srk, make([]byte, 32), nil, "only CFB"},
		{"SRK in OFB mode", ek, withSym(tpm2.RSASRKTemplate, tpm2.TPMAlgOFB), make([]byte, 32), nil, "only CFB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewActivationBlob(tc.ek, tc.srk, tc.key, tc.uri, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// failingReader fails after n bytes.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("entropy exhausted")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestNewActivationBlobRandomFailure(t *testing.T) {
	softKeys(t)
	for _, n := range []int{0, 20, 40, 60, 100} {
		_, err := NewActivationBlob(softRSAEK.pub, softRSASRK.pub, make([]byte, 32), nil, &failingReader{n: n})
		if err == nil {
			t.Errorf("with %d random bytes: no error", n)
		}
	}
}

func validBlob(t testing.TB) []byte {
	softKeys(t)
	blob, err := NewActivationBlob(softRSAEK.pub, softRSASRK.pub, make([]byte, 32), []byte("uri"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

func TestParseActivationBlobTruncated(t *testing.T) {
	blob := validBlob(t)
	for n := range len(blob) {
		if _, err := ParseActivationBlob(blob[:n]); !errors.Is(err, ErrInvalidActivationBlob) {
			t.Fatalf("%d of %d bytes: %v", n, len(blob), err)
		}
	}
	// Trailing bytes are ignored, as the SDKs ignore them.
	b, err := ParseActivationBlob(append(bytes.Clone(blob), 0xde, 0xad))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Marshal(), blob) {
		t.Error("round trip with trailing bytes")
	}
}

// blobWith rebuilds a valid blob with one part replaced.
func blobWith(t *testing.T, edit func(*ActivationBlob)) []byte {
	b, err := ParseActivationBlob(validBlob(t))
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	return b.Marshal()
}

func TestParseActivationBlobErrors(t *testing.T) {
	publicWith := func(edit func(*tpm2.TPMTPublic)) []byte {
		pub := identityKeyPublic(make([]byte, 32), []byte("key"))
		edit(&pub)
		return tpm2.Marshal(pub)
	}
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"empty", nil, "truncated before the credential blob"},
		{"size beyond the end", []byte{0x00, 0x10, 1, 2}, "claims 16 bytes but only 2 follow"},
		{"six empty parts", make([]byte, 12), "credential blob"},
		{"credential without HMAC", blobWith(t, func(b *ActivationBlob) { b.CredentialBlob = []byte{0, 0, 1, 2} }), "0-byte integrity HMAC"},
		{"credential HMAC too long", blobWith(t, func(b *ActivationBlob) { b.CredentialBlob = append([]byte{0, 65}, make([]byte, 70)...) }), "65-byte integrity HMAC"},
		{"credential without encIdentity", blobWith(t, func(b *ActivationBlob) { b.CredentialBlob = b.CredentialBlob[:34] }), "encrypted part is missing"},
		{"duplicate too short", blobWith(t, func(b *ActivationBlob) { b.Duplicate = []byte{0} }), "too short for its outer HMAC"},
		{"duplicate without sensitive", blobWith(t, func(b *ActivationBlob) { b.Duplicate = b.Duplicate[:34] }), "encrypted part is missing"},
		{"empty EK secret", blobWith(t, func(b *ActivationBlob) { b.EncryptedSecret = nil }), "secret for the EK (TPM2B_ENCRYPTED_SECRET) is empty"},
		{"empty SRK seed", blobWith(t, func(b *ActivationBlob) { b.EncryptedSeed = nil }), "seed for the SRK (TPM2B_ENCRYPTED_SECRET) is empty"},
		{"oversized seed", blobWith(t, func(b *ActivationBlob) { b.EncryptedSeed = make([]byte, 513) }), "more than any TPM key can decrypt"},
		{"oversized URI data", blobWith(t, func(b *ActivationBlob) { b.EncURIData = make([]byte, 1025) }), "at most 1024"},
		{"empty public", blobWith(t, func(b *ActivationBlob) { b.Public = nil }), "public area (TPM2B_PUBLIC) is empty"},
		{"garbage public", blobWith(t, func(b *ActivationBlob) { b.Public = []byte{0, 8, 0} }), "does not decode"},
		{"public with extra bytes", blobWith(t, func(b *ActivationBlob) { b.Public = append(bytes.Clone(b.Public), 0) }), "unexpected bytes"},
		{"RSA public", blobWith(t, func(b *ActivationBlob) { b.Public = tpm2.Marshal(tpm2.RSASRKTemplate) }), "keyed-hash"},
		{"NULL scheme", blobWith(t, func(b *ActivationBlob) {
			b.Public = publicWith(func(p *tpm2.TPMTPublic) {
				p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
					Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
				})
			})
		}), "HMAC scheme"},
		{"HMAC-SHA1", blobWith(t, func(b *ActivationBlob) {
			b.Public = publicWith(func(p *tpm2.TPMTPublic) {
				p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
					Scheme: tpm2.TPMTKeyedHashScheme{
						Scheme:  tpm2.TPMAlgHMAC,
						Details: tpm2.NewTPMUSchemeKeyedHash(tpm2.TPMAlgHMAC, &tpm2.TPMSSchemeHMAC{HashAlg: tpm2.TPMAlgSHA1}),
					},
				})
			})
		}), "HMAC-SHA256"},
		{"no sign attribute", blobWith(t, func(b *ActivationBlob) {
			b.Public = publicWith(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SignEncrypt = false })
		}), "cannot sign"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseActivationBlob(tc.blob)
			if !errors.Is(err, ErrInvalidActivationBlob) {
				t.Fatalf("error %v does not wrap ErrInvalidActivationBlob", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSASResource(t *testing.T) {
	tests := []struct {
		scope, regID, want string
	}{
		{"0ne000A1B2C", "device-1", "0ne000A1B2C%2Fregistrations%2Fdevice-1"},
		{"0ne000A1B2C", "sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq", "0ne000A1B2C%2Fregistrations%2Fsizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq"},
		{"0ne1", "a.b_c:d", "0ne1%2Fregistrations%2Fa.b_c%3Ad"},
		{"0ne1", "with space", "0ne1%2Fregistrations%2Fwith%20space"},
	}
	for _, tc := range tests {
		if got := SASResource(tc.scope, tc.regID); got != tc.want {
			t.Errorf("SASResource(%q, %q) = %q, want %q", tc.scope, tc.regID, got, tc.want)
		}
	}
}

func FuzzParseActivationBlob(f *testing.F) {
	blob := validBlob(f)
	f.Add(blob)
	f.Add(blob[:400])
	f.Add(append(bytes.Clone(blob), 1, 2, 3))
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Add([]byte{0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseActivationBlob(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidActivationBlob) {
				t.Fatalf("error %v does not wrap ErrInvalidActivationBlob", err)
			}
			return
		}
		out := b.Marshal()
		if !bytes.HasPrefix(data, out) {
			t.Fatal("Marshal is not a prefix of the input")
		}
		again, err := ParseActivationBlob(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(again.Marshal(), out) {
			t.Fatal("round trip is not stable")
		}
		if _, err := again.KeyPublic(); err != nil {
			t.Fatalf("accepted a public area that does not decode: %v", err)
		}
	})
}

// cfbDecrypt decrypts b in place with AES-CFB and a zero IV.
func cfbDecrypt(key, b []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	cipher.NewCFBDecrypter(block, make([]byte, aes.BlockSize)).XORKeyStream(b, b)
	return nil
}
