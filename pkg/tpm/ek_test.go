package tpm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// sampleEK is the RSA-2048 endorsement key published with the Azure IoT
// provisioning service SDK samples (316 bytes as TPM2B_PUBLIC).
const sampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
	"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
	"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
	"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
	"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

const sampleEKRegID = "sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq"

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegistrationIDVectors(t *testing.T) {
	ek := mustB64(t, sampleEK)
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"node sdk vector", []byte("registration"), "fhe4gdqgarivz3mywpiu7wehkguprzfzxru5ja5gpisxyfflph5q"},
		{"sample EK with size prefix", ek, sampleEKRegID},
		{"sample EK without size prefix (wrong rule)", ek[2:], "32pctvom5dcq6zpuqt3iyndi56efjcos5cma7exdogz5ho2ddeuq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RegistrationID(tt.input)
			if got != tt.want {
				t.Errorf("RegistrationID = %q, want %q", got, tt.want)
			}
			if len(got) != 52 || strings.ContainsAny(got, "=ABCDEFGHIJKLMNOPQRSTUVWXYZ01") {
				t.Errorf("RegistrationID %q is not 52 chars of lower-case base32", got)
			}
		})
	}
}

func TestRegistrationIDHex(t *testing.T) {
	ek := mustB64(t, sampleEK)
	sum := sha256.Sum256(ek)
	if got, want := RegistrationIDHex(ek), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("RegistrationIDHex = %q, want %q", got, want)
	}
	// As `base64 -d | sha256sum` prints it for the sample EK.
	if got, want := RegistrationIDHex(ek), "9232c2fa4b5c604e39fcb33bff357af2c1fd4652bb0bf47dc0368a1a63f4a841"; got != want {
		t.Fatalf("RegistrationIDHex = %q, want %q", got, want)
	}
}

func TestDecodeSampleEK(t *testing.T) {
	ek, err := DecodeEK(sampleEK)
	if err != nil {
		t.Fatal(err)
	}
	if len(ek.TPM2BPublic) != 316 {
		t.Errorf("TPM2BPublic is %d bytes, want 316", len(ek.TPM2BPublic))
	}
	if ek.Algorithm != "RSA" || ek.KeyBits != 2048 || ek.NameAlg != "SHA256" || ek.Curve != "" {
		t.Errorf("got %s %d %s %q", ek.Algorithm, ek.KeyBits, ek.NameAlg, ek.Curve)
	}
	if ek.Base64() != sampleEK {
		t.Errorf("Base64 does not round-trip")
	}
	if ek.RegistrationID() != sampleEKRegID {
		t.Errorf("RegistrationID = %s", ek.RegistrationID())
	}
	if id, err := RegistrationIDFromEK(sampleEK); err != nil || id != sampleEKRegID {
		t.Errorf("RegistrationIDFromEK = %q, %v", id, err)
	}
	name, err := ek.Name()
	if err != nil || len(name) != 34 || name[0] != 0x00 || name[1] != 0x0b {
		t.Errorf("Name = %x, %v", name, err)
	}
	// The bare TPMT_PUBLIC form gives the same canonical key.
	bare, err := ParseEK(ek.TPMTPublic())
	if err != nil {
		t.Fatal(err)
	}
	if !bare.Equal(ek) {
		t.Error("TPMT_PUBLIC form does not canonicalise to the TPM2B form")
	}
}

func TestDecodeEKTolerance(t *testing.T) {
	raw := mustB64(t, sampleEK)
	tests := []struct {
		name string
		in   string
	}{
		{"unpadded", strings.TrimRight(sampleEK, "=")},
		{"wrapped", sampleEK[:60] + "\n" + sampleEK[60:] + "\n"},
		{"url alphabet", base64.URLEncoding.EncodeToString(raw)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ek, err := DecodeEK(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if ek.RegistrationID() != sampleEKRegID {
				t.Errorf("RegistrationID = %s", ek.RegistrationID())
			}
		})
	}
}

// marshalTemplate returns TPM2B_PUBLIC bytes for a template altered by edit.
func marshalTemplate(tmpl tpm2.TPMTPublic, edit func(*tpm2.TPMTPublic)) []byte {
	if edit != nil {
		edit(&tmpl)
	}
	return tpm2.Marshal(tpm2.New2B(tmpl))
}

func TestParseEKErrors(t *testing.T) {
	good := mustB64(t, sampleEK)
	sample, err := ParseEK(good)
	if err != nil {
		t.Fatal(err)
	}
	withModulus := func(p *tpm2.TPMTPublic) {
		n, _ := sample.Public.Unique.RSA()
		p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n.Buffer})
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "too short"},
		{"truncated", good[:200], "size prefix says 314 bytes but only 198 follow"},
		{"trailing bytes", append(append([]byte{}, good...), 0, 0), "size prefix says 314 bytes but 316 follow"},
		{"garbage", []byte("registration"), "size prefix"},
		{"empty TCG template", marshalTemplate(tpm2.RSAEKTemplate, nil), "shorter than 2048 bits"},
		{"signing key", marshalTemplate(tpm2.RSAEKTemplate, func(p *tpm2.TPMTPublic) {
			withModulus(p)
			p.ObjectAttributes.Decrypt = false
			p.ObjectAttributes.SignEncrypt = true
		}), "not a restricted decryption key"},
		{"unrestricted", marshalTemplate(tpm2.RSAEKTemplate, func(p *tpm2.TPMTPublic) {
			withModulus(p)
			p.ObjectAttributes.Restricted = false
		}), "not a restricted decryption key"},
		{"RSA 3072", marshalTemplate(tpm2.RSAEKTemplate, func(p *tpm2.TPMTPublic) {
			p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
					KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
					Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)},
				KeyBits: 3072,
			})
			p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 384)})
		}), "RSA key of 3072 bits"},
		{"ECC P-384", marshalTemplate(tpm2.ECCEKTemplate, func(p *tpm2.TPMTPublic) {
			d, _ := p.Parameters.ECCDetail()
			c := *d
			c.CurveID = tpm2.TPMECCNistP384
			p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &c)
		}), "ECC curve 0x0004"},
		{"ECC point not on curve", marshalTemplate(tpm2.ECCEKTemplate, nil), "not on the P-256 curve"},
		{"keyed hash", marshalTemplate(tpm2.TPMTPublic{
			Type: tpm2.TPMAlgKeyedHash, NameAlg: tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{Restricted: true, Decrypt: true},
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
				Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull}}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: make([]byte, 32)}),
		}, nil), "key type 0x0008"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEK(tt.data)
			if err == nil {
				t.Fatal("ParseEK succeeded, want error")
			}
			if !errors.Is(err, ErrInvalidEK) {
				t.Errorf("error %v does not wrap ErrInvalidEK", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeEKBadBase64(t *testing.T) {
	for _, in := range []string{"", "   ", "not base64!", "AToA$"} {
		if _, err := DecodeEK(in); err == nil || !errors.Is(err, ErrInvalidEK) {
			t.Errorf("DecodeEK(%q) = %v, want ErrInvalidEK", in, err)
		}
	}
}

func FuzzParseEK(f *testing.F) {
	good := mustB64(f, sampleEK)
	f.Add(good)
	f.Add(good[2:])
	f.Add(good[:100])
	f.Add(marshalTemplate(tpm2.ECCEKTemplate, nil))
	f.Add(marshalTemplate(tpm2.RSASRKTemplate, nil))
	f.Add([]byte{0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		ek, err := ParseEK(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidEK) {
				t.Fatalf("error %v does not wrap ErrInvalidEK", err)
			}
			return
		}
		again, err := ParseEK(ek.TPM2BPublic)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
		if !again.Equal(ek) || again.RegistrationID() != ek.RegistrationID() {
			t.Fatal("canonical form is not stable")
		}
		if ek.Algorithm != "RSA" && ek.Algorithm != "ECC" {
			t.Fatalf("accepted algorithm %q", ek.Algorithm)
		}
	})
}

func TestParseECCEK(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.PublicKey.ECDH()
	b := raw.Bytes() // 0x04 ‖ X ‖ Y
	data := marshalTemplate(tpm2.ECCEKTemplate, func(p *tpm2.TPMTPublic) {
		p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: b[1:33]},
			Y: tpm2.TPM2BECCParameter{Buffer: b[33:]},
		})
	})
	ek, err := ParseEK(data)
	if err != nil {
		t.Fatal(err)
	}
	if ek.Algorithm != "ECC" || ek.KeyBits != 256 || ek.Curve != "P-256" {
		t.Errorf("got %s/%d/%s", ek.Algorithm, ek.KeyBits, ek.Curve)
	}
	if !ek.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
		t.Error("public key differs")
	}
}

func TestParseEKData(t *testing.T) {
	raw := mustB64(t, sampleEK)
	sample, _ := ParseEK(raw)
	spki, err := x509.MarshalPKIXPublicKey(sample.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	spkiPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"binary TPM2B", raw, ""},
		{"binary TPMT", raw[2:], ""},
		{"base64", []byte(sampleEK + "\n"), ""},
		{"base64 of TPMT", []byte(base64.StdEncoding.EncodeToString(raw[2:])), ""},
		{"PEM public key", spkiPEM, "PEM PUBLIC KEY"},
		{"DER public key", spki, "SubjectPublicKeyInfo"},
		{"empty", nil, "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ek, err := ParseEKData(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidEK) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ek.RegistrationID() != sampleEKRegID {
				t.Errorf("RegistrationID = %s", ek.RegistrationID())
			}
		})
	}
}
