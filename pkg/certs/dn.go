package certs

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The DER walk below renders a Name (RDNSequence: SEQUENCE OF SET OF
// SEQUENCE { type OBJECT IDENTIFIER, value ANY }) straight from its bytes, as
// rawDistinguishedNameASN1 would after encoding/asn1 had unmarshalled it into
// a pkix.RDNSequence and fmt.Sprint had printed each value. It is a fast path
// only: BOOLEAN, INTEGER, BIT STRING, OCTET STRING, OBJECT IDENTIFIER and
// time values (which fmt prints from their decoded Go values), high tag
// numbers, and every error make it report !ok, and the caller then uses the
// encoding/asn1 path, which also produces the error.

// Identifier octets of the universal, primitive value types that
// encoding/asn1 decodes when it unmarshals into an interface value.
const (
	idBoolean         = 0x01
	idInteger         = 0x02
	idBitString       = 0x03
	idOctetString     = 0x04
	idOID             = 0x06
	idUTF8String      = 0x0c
	idNumericString   = 0x12
	idPrintableString = 0x13
	idT61String       = 0x14
	idIA5String       = 0x16
	idUTCTime         = 0x17
	idGeneralizedTime = 0x18
	idBMPString       = 0x1e
)

// nilValue is how a value of any other type renders: encoding/asn1 leaves
// the interface nil, fmt prints "<nil>", and the angle brackets get it
// quoted.
const nilValue = `"<nil>"`

// x500AttrNames holds the attrNames entries under 2.5.4 by last arc, for the
// common attributes whose DER is 55 04 <arc>.
var x500AttrNames = func() (t [0x80]string) {
	for oid, name := range attrNames {
		rest, ok := strings.CutPrefix(oid, "2.5.4.")
		if !ok {
			continue
		}
		arc, err := strconv.Atoi(rest)
		if err == nil && arc >= 0 && arc < len(t) && strconv.Itoa(arc) == rest {
			t[arc] = name
		}
	}
	return t
}()

// fastRawDistinguishedName renders the DER name raw without reflection.
// ok is false when raw must go through rawDistinguishedNameASN1 instead.
func fastRawDistinguishedName(raw []byte) (s string, ok bool) {
	in := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return "", false
	}
	// The most specific (last) RDN prints first, so find them all first.
	var rdnBuf [16]cryptobyte.String
	rdns := rdnBuf[:0]
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return "", false
		}
		rdns = append(rdns, set)
	}
	var outBuf [256]byte
	var scratchBuf [128]byte
	out := outBuf[:0]
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			out = append(out, ", "...)
		}
		set := rdns[i]
		for first := true; !set.Empty(); first = false {
			var atv, oid, val cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) ||
				!atv.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&val, &tag) {
				return "", false
			}
			// Bytes after the value are ignored, as encoding/asn1 ignores
			// trailing SEQUENCE members it has no field for.
			if !first {
				out = append(out, " + "...)
			}
			if out, ok = appendAttrType(out, oid); !ok {
				return "", false
			}
			out = append(out, '=')
			if out, ok = appendAttrValue(out, uint8(tag), val, scratchBuf[:0]); !ok {
				return "", false
			}
		}
	}
	return string(out), true
}

// appendAttrType appends attrType of the OID whose DER contents are oid.
func appendAttrType(dst []byte, oid []byte) ([]byte, bool) {
	if len(oid) == 3 && oid[0] == 0x55 && oid[1] == 0x04 && oid[2] < 0x80 {
		if name := x500AttrNames[oid[2]]; name != "" {
			return append(dst, name...), true
		}
	}
	start := len(dst)
	dst = append(dst, "OID."...)
	dst, ok := appendOID(dst, oid)
	if !ok {
		return nil, false
	}
	if name, known := attrNames[string(dst[start+len("OID."):])]; known {
		dst = append(dst[:start], name...)
	}
	return dst, true
}

// appendOID appends the dotted form of the OBJECT IDENTIFIER contents der,
// accepting exactly what encoding/asn1 accepts: at least one arc, minimal
// base-128 arcs of at most five octets whose values fit in an int32.
func appendOID(dst []byte, der []byte) ([]byte, bool) {
	if len(der) == 0 {
		return nil, false
	}
	for first := true; len(der) > 0; first = false {
		var v int64
		n := 0
		for {
			if n == len(der) || n == 5 || n == 0 && der[0] == 0x80 {
				return nil, false
			}
			b := der[n]
			v = v<<7 | int64(b&0x7f)
			n++
			if b&0x80 == 0 {
				break
			}
		}
		if v > 1<<31-1 {
			return nil, false
		}
		der = der[n:]
		if first {
			if v < 80 {
				dst = strconv.AppendInt(dst, v/40, 10)
				dst = append(dst, '.')
				dst = strconv.AppendInt(dst, v%40, 10)
			} else {
				dst = append(dst, "2."...)
				dst = strconv.AppendInt(dst, v-80, 10)
			}
			continue
		}
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, v, 10)
	}
	return dst, true
}

// Byte classes for the attribute value scans.
const (
	clsPrintable = 1 << iota // allowed in a PrintableString by encoding/asn1
	clsNumeric               // allowed in a NumericString
	clsASCII                 // allowed in an IA5String
	clsSpecial               // makes quoteDNValue quote the value
)

var dnByteClass = func() (t [256]uint8) {
	for b := range 0x80 {
		t[b] = clsASCII
	}
	for b := range 256 {
		c := byte(b)
		// encoding/asn1 also accepts '*' and '&', which real certificates use.
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			'\'' <= c && c <= ')' || '+' <= c && c <= '/' || strings.IndexByte(" :=?*&", c) >= 0 {
			t[b] |= clsPrintable
		}
		if '0' <= c && c <= '9' || c == ' ' {
			t[b] |= clsNumeric
		}
	}
	for _, c := range []byte(dnSpecials) {
		t[c] |= clsSpecial
	}
	return t
}()

// dnSpecials are the characters that make quoteDNValue quote a value.
const dnSpecials = ",+=\"\n\r<>;\\"

// scanDNValue returns the classes every byte of v has and the classes some
// byte has.
func scanDNValue(v []byte) (all, any uint8) {
	all = 0xff
	for _, b := range v {
		c := dnByteClass[b]
		all &= c
		any |= c
	}
	return all, any
}

// appendAttrValue appends the quoted rendering of an attribute value with
// identifier octet id and contents val. scratch is a buffer for transcoded
// values.
func appendAttrValue(dst []byte, id uint8, val []byte, scratch []byte) ([]byte, bool) {
	var all, any uint8
	switch id {
	case idPrintableString:
		if all, any = scanDNValue(val); all&clsPrintable == 0 {
			return nil, false
		}
	case idNumericString:
		if all, any = scanDNValue(val); all&clsNumeric == 0 {
			return nil, false
		}
	case idIA5String:
		if all, any = scanDNValue(val); all&clsASCII == 0 {
			return nil, false
		}
	case idUTF8String:
		if !utf8.Valid(val) {
			return nil, false
		}
		_, any = scanDNValue(val)
	case idT61String:
		// Read as Latin-1, as encoding/asn1 does.
		for _, b := range val {
			scratch = utf8.AppendRune(scratch, rune(b))
		}
		val = scratch
		_, any = scanDNValue(val)
	case idBMPString:
		if len(val)%2 != 0 {
			return nil, false
		}
		if l := len(val); l >= 2 && val[l-1] == 0 && val[l-2] == 0 {
			val = val[:l-2] // terminator
		}
		for i := 0; i < len(val); i += 2 {
			u := rune(val[i])<<8 | rune(val[i+1])
			// Surrogates and noncharacters are rejected.
			if u == 0xfffe || u == 0xffff || u >= 0xfdd0 && u <= 0xfdef || u >= 0xd800 && u <= 0xdfff {
				return nil, false
			}
			scratch = utf8.AppendRune(scratch, u)
		}
		val = scratch
		_, any = scanDNValue(val)
	case idBoolean, idInteger, idBitString, idOctetString, idOID, idUTCTime, idGeneralizedTime:
		// fmt renders the decoded Go values; leave these to encoding/asn1.
		return nil, false
	default:
		return append(dst, nilValue...), true
	}
	return appendDNValue(dst, val, any&clsSpecial != 0), true
}

// appendDNValue appends quoteDNValue(string(v)); special tells whether v
// contains one of dnSpecials.
func appendDNValue(dst []byte, v []byte, special bool) []byte {
	if len(v) == 0 {
		return append(dst, `""`...)
	}
	if !special && v[0] != ' ' && v[len(v)-1] != ' ' && v[0] != '#' {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, b := range v {
		if b == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, b)
	}
	return append(dst, '"')
}
