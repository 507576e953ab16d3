package tpm

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/binary"
)

// CheckEK validates a base64 endorsement key and returns its canonical
// base64 form, for callers that need no parsed EK. The common shapes (a
// TPM2B_PUBLIC in standard base64, RSA 2048 or ECC P-256, AES-CFB
// symmetric, no scheme) are checked directly, some fifty times faster than
// DecodeEK's reflection-based decoding, which matters for files of a
// million enrollments; anything else, and every rejection, goes through
// DecodeEK, which gives the precise reason. The fast path accepts only what
// ParseEK accepts (FuzzCheckEK holds it to that).
func CheckEK(s string) (string, error) {
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && quickEK(raw) {
		return s, nil
	}
	ek, err := DecodeEK(s)
	if err != nil {
		return "", err
	}
	return ek.Base64(), nil
}

// TPM constants of the shapes quickEK knows.
const (
	algRSA    = 0x0001
	algAES    = 0x0006
	algSHA1   = 0x0004
	algSHA256 = 0x000B
	algSHA384 = 0x000C
	algSHA512 = 0x000D
	algNull   = 0x0010
	algECC    = 0x0023
	algCFB    = 0x0043
	curveP256 = 0x0003

	attrRestricted = 1 << 16
	attrDecrypt    = 1 << 17
	attrSign       = 1 << 18
	// attrDefined are the TPMA_OBJECT bits that are not reserved.
	attrDefined = 1<<1 | 1<<2 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<10 | 1<<11 | 1<<16 | 1<<17 | 1<<18 | 1<<19
)

// quickEK reports whether b is a size-prefixed TPM2B_PUBLIC of one of the
// common endorsement key shapes, well formed and valid. False means "not
// known here", not necessarily invalid.
func quickEK(b []byte) bool {
	p := ekParser{b: b, ok: true}
	size := p.u16()
	if !p.ok || int(size) != len(b)-2 {
		return false
	}
	typ, nameAlg, attrs := p.u16(), p.u16(), p.u32()
	switch nameAlg {
	case algSHA1, algSHA256, algSHA384, algSHA512:
	default:
		return false
	}
	if attrs&^attrDefined != 0 || attrs&attrRestricted == 0 || attrs&attrDecrypt == 0 || attrs&attrSign != 0 {
		return false
	}
	if n := p.u16(); n > 64 { // authPolicy digest
		return false
	} else {
		p.skip(int(n))
	}
	// Symmetric definition: AES 128 or 256, CFB.
	if p.u16() != algAES {
		return false
	}
	if bits := p.u16(); bits != 128 && bits != 256 {
		return false
	}
	if p.u16() != algCFB || p.u16() != algNull { // mode, then scheme
		return false
	}
	switch typ {
	case algRSA:
		if p.u16() != 2048 {
			return false
		}
		if e := p.u32(); e != 0 && e != 65537 {
			return false
		}
		n := p.bytes2B()
		if !p.ok || len(n) != 256 || n[0]&0x80 == 0 {
			return false
		}
	case algECC:
		if p.u16() != curveP256 || p.u16() != algNull { // curve, kdf
			return false
		}
		x, y := p.bytes2B(), p.bytes2B()
		if !p.ok || len(x) != 32 || len(y) != 32 {
			return false
		}
		var pt [65]byte
		pt[0] = 4
		copy(pt[1:], x)
		copy(pt[33:], y)
		if _, err := ecdh.P256().NewPublicKey(pt[:]); err != nil {
			return false
		}
	default:
		return false
	}
	return p.ok && len(p.b) == 0
}

type ekParser struct {
	b  []byte
	ok bool
}

func (p *ekParser) take(n int) []byte {
	if len(p.b) < n {
		p.ok = false
		p.b = p.b[:0]
		return nil
	}
	v := p.b[:n]
	p.b = p.b[n:]
	return v
}

func (p *ekParser) u16() uint16 {
	if v := p.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (p *ekParser) u32() uint32 {
	if v := p.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (p *ekParser) skip(n int) { p.take(n) }

func (p *ekParser) bytes2B() []byte {
	n := p.u16()
	return p.take(int(n))
}
