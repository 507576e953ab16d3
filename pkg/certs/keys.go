package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
)

// ParsePrivateKey reads an unencrypted private key: PEM (PKCS#1 "RSA PRIVATE
// KEY", SEC 1 "EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY"; other blocks such as
// certificates in the same file are skipped) or DER in any of those forms.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	var key any
	if bytes.Contains(data, []byte("-----BEGIN")) {
		block, err := findKeyBlock(data)
		if err != nil {
			return nil, err
		}
		key, err = pemutil.Parse(pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}))
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
	} else {
		var err error
		key, err = parseDERKey(data)
		if err != nil {
			return nil, err
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign certificates", key)
	}
	return signer, nil
}

func findKeyBlock(data []byte) (*pem.Block, error) {
	var types []string
	rest := data
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			types = append(types, block.Type)
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return nil, fmt.Errorf("the private key is encrypted; decrypt it first (for example with `openssl pkey -in key.pem -out plain.pem`)")
		}
		return block, nil
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("no PEM private key found")
	}
	return nil, fmt.Errorf("no private key found; the PEM data holds only %s", strings.Join(types, ", "))
}

func parseDERKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("the data is neither a PEM private key nor a DER PKCS#8, PKCS#1 or EC private key")
}

// ReadPrivateKey reads a private key file in any form ParsePrivateKey
// accepts. Errors name the file.
func ReadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// KeyMatches reports an error unless key is the private key of cert.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) error {
	if err := keyutil.VerifyPair(cert.PublicKey, key); err != nil {
		return fmt.Errorf("the private key does not belong to the certificate %s", subjectName(cert))
	}
	return nil
}

// EncodePrivateKeyPEM returns key as an unencrypted PKCS#8 PEM block.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	block, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(block), nil
}

// writeFile writes data to path with perm, refusing to replace an existing
// file unless force is set. The error wraps fs.ErrExist in that case.
func writeFile(path string, data []byte, perm os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		return err
	}
	if force {
		// An existing file keeps its mode on truncation; tighten it.
		if err := f.Chmod(perm); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteCertificates writes certs as PEM to path (mode 0644), refusing to
// overwrite an existing file unless force is set.
func WriteCertificates(path string, certs []*x509.Certificate, force bool) error {
	if len(certs) == 0 {
		return fmt.Errorf("no certificate to write to %s", path)
	}
	return writeFile(path, []byte(EncodePEMChain(certs)), 0o644, force)
}

// WritePrivateKey writes key as unencrypted PKCS#8 PEM to path with mode
// 0600, refusing to overwrite an existing file unless force is set.
func WritePrivateKey(path string, key crypto.Signer, force bool) error {
	data, err := EncodePrivateKeyPEM(key)
	if err != nil {
		return err
	}
	return writeFile(path, data, 0o600, force)
}

// WritePair writes the certificate (followed by chain, if any) to certPath
// and the key to keyPath. Neither file is written if either exists and force
// is not set.
func WritePair(p *Pair, chain []*x509.Certificate, certPath, keyPath string, force bool) error {
	if !force {
		for _, path := range []string{certPath, keyPath} {
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
			}
		}
	}
	if err := WritePrivateKey(keyPath, p.Key, force); err != nil {
		return err
	}
	if err := WriteCertificates(certPath, append([]*x509.Certificate{p.Cert}, chain...), force); err != nil {
		if !force {
			os.Remove(keyPath)
		}
		return err
	}
	return nil
}
