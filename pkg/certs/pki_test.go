package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewKeyTypes(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantType string
		wantBits int
		wantErr  string
	}{
		{"default", Options{}, "ECDSA", 256, ""},
		{"ec alias", Options{KeyType: "ec"}, "ECDSA", 256, ""},
		{"rsa default", Options{KeyType: KeyRSA}, "RSA", 2048, ""},
		{"rsa 3072", Options{KeyType: KeyRSA, RSABits: 3072}, "RSA", 3072, ""},
		{"rsa 1024", Options{KeyType: KeyRSA, RSABits: 1024}, "", 0, "RSA key size 1024"},
		{"unknown", Options{KeyType: "dsa"}, "", 0, `unknown key type "dsa"`},
		{"bad window", Options{NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}, "", 0, "not later than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewRoot(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kt, bits, _ := KeyDescription(p.Cert.PublicKey)
			if kt != tt.wantType || bits != tt.wantBits {
				t.Errorf("key %s/%d, want %s/%d", kt, bits, tt.wantType, tt.wantBits)
			}
			if ps := CheckSigningCertificate(p.Cert, time.Time{}); len(ps) != 0 {
				t.Errorf("root not a valid signing certificate: %v", Error(ps))
			}
		})
	}
}

func TestPKIChainAndOptions(t *testing.T) {
	na := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	root, err := NewRoot(Options{CommonName: "My Root", Organization: "Fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := NewIntermediate(root, Options{KeyType: KeyRSA, MaxPathLenZero: true})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := NewDevice(inter, "device-7", Options{NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	if !dev.Cert.NotAfter.Equal(na) {
		t.Errorf("NotAfter = %v, want %v", dev.Cert.NotAfter, na)
	}
	if got := DistinguishedName(root.Cert.Subject); got != "CN=My Root, O=Fabrikam" {
		t.Errorf("root subject = %q", got)
	}
	if inter.Cert.Subject.CommonName != "dpsctl Test Intermediate CA" || !inter.Cert.MaxPathLenZero {
		t.Errorf("intermediate %q pathlen0=%v", inter.Cert.Subject.CommonName, inter.Cert.MaxPathLenZero)
	}
	ps := Verify(dev.Cert, VerifyOptions{Intermediates: []*x509.Certificate{inter.Cert}, Roots: []*x509.Certificate{root.Cert}, RegistrationID: "device-7"})
	if len(ps) != 0 {
		t.Fatalf("fresh PKI does not verify: %v", Error(ps))
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 65)} {
		if _, err := NewDevice(inter, bad, Options{}); err == nil {
			t.Errorf("NewDevice(%q) succeeded", bad)
		}
	}
	if _, err := NewIntermediate(nil, Options{}); err == nil {
		t.Error("NewIntermediate(nil) succeeded")
	}
	mismatched := &Pair{Cert: root.Cert, Key: inter.Key}
	if _, err := NewDevice(mismatched, "dev", Options{}); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("mismatched CA key: %v", err)
	}
}

func TestNewVerificationCertificate(t *testing.T) {
	root, err := NewRoot(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const code = "3B8D1C2F0A6E4C5D9E7F1A2B3C4D5E6F7A8B9C0D1E2F3A4B"
	v, err := NewVerificationCertificate(root.Cert, root.Key, code)
	if err != nil {
		t.Fatal(err)
	}
	if v.Cert.Subject.CommonName != code {
		t.Errorf("CN = %q", v.Cert.Subject.CommonName)
	}
	if err := v.Cert.CheckSignatureFrom(root.Cert); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	if v.Cert.NotAfter.After(root.Cert.NotAfter) {
		t.Error("outlives the CA")
	}
	other, _ := NewRoot(Options{})
	tests := []struct {
		name string
		key  crypto.Signer
		code string
		want string
	}{
		{"empty code", root.Key, "", "empty"},
		{"long code", root.Key, strings.Repeat("A", 65), "limited to 64"},
		{"wrong key", other.Key, code, "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerificationCertificate(root.Cert, tt.key, tt.code)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWritePairAndReadBack(t *testing.T) {
	dir := t.TempDir()
	root, _ := NewRoot(Options{})
	dev, _ := NewDevice(root, "dev1", Options{})
	certPath, keyPath := filepath.Join(dir, "dev1.pem"), filepath.Join(dir, "dev1.key")
	if err := WritePair(dev, []*x509.Certificate{root.Cert}, certPath, keyPath, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	certs, err := ReadFile(certPath)
	if err != nil || len(certs) != 2 || !certs[0].Equal(dev.Cert) {
		t.Fatalf("read back %d certs: %v", len(certs), err)
	}
	key, err := ReadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := KeyMatches(dev.Cert, key); err != nil {
		t.Fatal(err)
	}
	// No overwrite without force, and nothing is half-written.
	other, _ := NewDevice(root, "dev2", Options{})
	err = WritePair(other, nil, certPath, filepath.Join(dir, "new.key"), false)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.key")); err == nil {
		t.Error("key written although the certificate exists")
	}
	if err := WritePrivateKey(keyPath, other.Key, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WritePrivateKey over existing: %v", err)
	}
	// Force replaces both and tightens a loose key mode.
	os.Chmod(keyPath, 0o644)
	if err := WritePair(other, nil, certPath, keyPath, true); err != nil {
		t.Fatal(err)
	}
	certs, _ = ReadFile(certPath)
	key, _ = ReadPrivateKey(keyPath)
	if len(certs) != 1 || !certs[0].Equal(other.Cert) || KeyMatches(other.Cert, key) != nil {
		t.Error("force did not replace the files")
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Errorf("forced key mode %v, want 0600", st.Mode().Perm())
	}
}

func TestParsePrivateKeyForms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	pk8, _ := x509.MarshalPKCS8PrivateKey(ec)
	pk1 := x509.MarshalPKCS1PrivateKey(rk)
	enc := func(typ string, b []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: h, Bytes: b})
	}
	root, _ := NewRoot(Options{})
	certPEM := []byte(EncodePEM(root.Cert))
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"EC PEM", enc("EC PRIVATE KEY", ecDER, nil), ""},
		{"PKCS#8 PEM", enc("PRIVATE KEY", pk8, nil), ""},
		{"PKCS#1 PEM", enc("RSA PRIVATE KEY", pk1, nil), ""},
		{"certificate then key", append(append([]byte{}, certPEM...), enc("PRIVATE KEY", pk8, nil)...), ""},
		{"PKCS#8 DER", pk8, ""},
		{"PKCS#1 DER", pk1, ""},
		{"EC DER", ecDER, ""},
		{"encrypted PKCS#8", enc("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, nil), "encrypted"},
		{"encrypted legacy", enc("RSA PRIVATE KEY", []byte{1, 2, 3}, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}), "encrypted"},
		{"certificate only", certPEM, "holds only CERTIFICATE"},
		{"garbage", []byte("nope"), "neither a PEM private key"},
		{"corrupt PEM key", enc("PRIVATE KEY", []byte{1, 2, 3}, nil), "parsing PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Public() == nil {
				t.Error("no public key")
			}
		})
	}
}

func TestInspect(t *testing.T) {
	root, _ := NewRoot(Options{CommonName: "Root"})
	inter, _ := NewIntermediate(root, Options{CommonName: "Inter", MaxPathLenZero: true})
	dev, _ := NewDevice(inter, "dev1", Options{KeyType: KeyRSA})
	in := Inspect(dev.Cert)
	if in.Subject != "CN=dev1" || in.Issuer != "CN=Inter" || in.KeyType != "RSA" || in.KeySize != 2048 || in.IsCA || in.SelfSigned {
		t.Errorf("device inspection %+v", in)
	}
	if strings.Join(in.ExtKeyUsage, ",") != "clientAuth" || strings.Join(in.KeyUsage, ",") != "digitalSignature,keyEncipherment" {
		t.Errorf("usages %v %v", in.KeyUsage, in.ExtKeyUsage)
	}
	ii := Inspect(inter.Cert)
	if !ii.IsCA || ii.PathLength == nil || *ii.PathLength != 0 || ii.Curve != "P-256" || ii.KeySize != 256 {
		t.Errorf("intermediate inspection %+v", ii)
	}
	ri := Inspect(root.Cert)
	if !ri.SelfSigned || ri.PathLength != nil || ri.SubjectKeyID == "" {
		t.Errorf("root inspection %+v", ri)
	}
	b, err := json.Marshal(ii)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"subject":`, `"serialNumber":`, `"sha1Thumbprint":`, `"sha256Thumbprint":`, `"isCA":true`, `"pathLength":0`, `"keyUsage":`, `"notAfter":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestDistinguishedNameQuoting(t *testing.T) {
	root, _ := NewRoot(Options{CommonName: `Contoso, "Test" CA`, Organization: "A+B"})
	info := Info(root.Cert)
	if want := `CN="Contoso, ""Test"" CA", O="A+B"`; info.SubjectName != want {
		t.Errorf("SubjectName = %s, want %s", info.SubjectName, want)
	}
}
