package certs

import (
	"crypto"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"go.step.sm/crypto/fingerprint"
)

// tlv encodes one DER element with identifier octet id and the
// concatenation of contents.
func tlv(id byte, contents ...[]byte) []byte {
	var body []byte
	for _, c := range contents {
		body = append(body, c...)
	}
	out := []byte{id}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xff:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, body...)
}

func derOID(arcs ...int) []byte {
	b, err := asn1.Marshal(asn1.ObjectIdentifier(arcs))
	if err != nil {
		panic(err)
	}
	return b
}

func derStr(id byte, s string) []byte { return tlv(id, []byte(s)) }

func derATV(oid, value []byte, extra ...[]byte) []byte {
	return tlv(0x30, append([][]byte{oid, value}, extra...)...)
}

func derRDN(atvs ...[]byte) []byte { return tlv(0x31, atvs...) }

func derName(rdns ...[]byte) []byte { return tlv(0x30, rdns...) }

var (
	oidCN     = derOID(2, 5, 4, 3)
	oidSerial = derOID(2, 5, 4, 5)
	oidC      = derOID(2, 5, 4, 6)
	oidO      = derOID(2, 5, 4, 10)
	oidOU     = derOID(2, 5, 4, 11)
	oidDC     = derOID(0, 9, 2342, 19200300, 100, 1, 25)
	oidUID    = derOID(0, 9, 2342, 19200300, 100, 1, 1)
	oidEmail  = derOID(1, 2, 840, 113549, 1, 9, 1)
	oidOrgID  = derOID(2, 5, 4, 97)
	oidJurC   = derOID(1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3)
)

func cn(s string) []byte { return derRDN(derATV(oidCN, derStr(0x0c, s))) }

type dnCase struct {
	name string
	der  []byte
	want string // "" with wantErr
	// fast: the reflection-free walk renders it without encoding/asn1.
	fast    bool
	wantErr bool
}

func dnCases() []dnCase {
	return []dnCase{
		{"cn only", derName(cn("dev-000417")), "CN=dev-000417", true, false},
		{"empty name", derName(), "", true, false},
		{"ordering", derName(
			derRDN(derATV(oidC, derStr(0x13, "US"))),
			derRDN(derATV(oidO, derStr(0x13, "Contoso Ltd"))),
			derRDN(derATV(oidOU, derStr(0x0c, "Field"))),
			cn("sensor-1"),
		), "CN=sensor-1, OU=Field, O=Contoso Ltd, C=US", true, false},
		{"multi-valued rdn", derName(
			derRDN(derATV(oidO, derStr(0x13, "Contoso"))),
			derRDN(derATV(oidCN, derStr(0x0c, "sensor-1")), derATV(oidSerial, derStr(0x13, "0042"))),
		), "CN=sensor-1 + SERIALNUMBER=0042, O=Contoso", true, false},
		{"empty rdn", derName(cn("a"), derRDN(), cn("b")), "CN=b, , CN=a", true, false},
		{"named non-X.500 attributes", derName(
			derRDN(derATV(oidDC, derStr(0x16, "com"))),
			derRDN(derATV(oidUID, derStr(0x0c, "u1"))),
			derRDN(derATV(oidEmail, derStr(0x16, "ops@contoso.com"))),
		), "E=ops@contoso.com, UID=u1, DC=com", true, false},
		{"unknown oids", derName(
			derRDN(derATV(oidJurC, derStr(0x13, "US"))),
			derRDN(derATV(oidOrgID, derStr(0x0c, "VATUS-1"))),
			derRDN(derATV(derOID(2, 999, 1), derStr(0x0c, "x"))),
			derRDN(derATV(derOID(2, 5, 4, 200), derStr(0x0c, "y"))),
		), "OID.2.5.4.200=y, OID.2.999.1=x, OID.2.5.4.97=VATUS-1, OID.1.3.6.1.4.1.311.60.2.1.3=US", true, false},
		{"oid arc at int32 max", derName(derRDN(derATV([]byte{0x06, 0x06, 0x55, 0x87, 0xff, 0xff, 0xff, 0x7f}, derStr(0x0c, "x")))), "OID.2.5.2147483647=x", true, false},
		{"large first arc", derName(derRDN(derATV([]byte{0x06, 0x03, 0x88, 0x37, 0x01}, derStr(0x0c, "x")))), "OID.2.999.1=x", true, false},
		{"single-octet oid", derName(derRDN(derATV([]byte{0x06, 0x01, 0x2a}, derStr(0x0c, "v")))), "OID.1.2=v", true, false},
		{"empty value", derName(derRDN(derATV(oidCN, derStr(0x0c, "")))), `CN=""`, true, false},
		{"quotes", derName(
			derRDN(derATV(oidO, derStr(0x0c, `Contoso, "Test" CA`))),
			derRDN(derATV(oidOU, derStr(0x0c, " lead"))),
			derRDN(derATV(oidOU, derStr(0x0c, "trail "))),
			derRDN(derATV(oidOU, derStr(0x0c, "#hash"))),
			derRDN(derATV(oidOU, derStr(0x0c, "a+b=c;d<e>f\\g"))),
			derRDN(derATV(oidOU, derStr(0x0c, "line\nbreak\r"))),
			derRDN(derATV(oidOU, derStr(0x0c, "mid # and space"))),
		), "OU=mid # and space, OU=\"line\nbreak\r\", OU=\"a+b=c;d<e>f\\g\", OU=\"#hash\", OU=\"trail \", OU=\" lead\", O=\"Contoso, \"\"Test\"\" CA\"", true, false},
		{"printable with asterisk and ampersand", derName(derRDN(derATV(oidCN, derStr(0x13, "*.A&B")))), "CN=*.A&B", true, false},
		{"numeric", derName(derRDN(derATV(oidSerial, derStr(0x12, "0123 456")))), "SERIALNUMBER=0123 456", true, false},
		{"ia5", derName(derRDN(derATV(oidEmail, derStr(0x16, "a@b")))), "E=a@b", true, false},
		{"t61 latin-1", derName(derRDN(derATV(oidO, tlv(0x14, []byte("Soci\xe9t\xe9"))))), "O=Société", true, false},
		{"utf8", derName(derRDN(derATV(oidO, derStr(0x0c, "Zürich ☃")))), "O=Zürich ☃", true, false},
		{"bmp", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0, 'd', 0, 'e', 0, 'v', 0x26, 0x03})))), "CN=dev☃", true, false},
		{"bmp with terminator", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0, 'x', 0, 0})))), "CN=x", true, false},
		{"bmp needing quotes", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0, ' ', 0, 'x'})))), `CN=" x"`, true, false},
		{"bmp only terminator", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0, 0})))), `CN=""`, true, false},
		{"null value", derName(derRDN(derATV(oidCN, []byte{0x05, 0x00}))), `CN="<nil>"`, true, false},
		{"visible string value", derName(derRDN(derATV(oidCN, derStr(0x1a, "v")))), `CN="<nil>"`, true, false},
		{"constructed value", derName(derRDN(derATV(oidCN, tlv(0x30, derStr(0x0c, "x"))))), `CN="<nil>"`, true, false},
		{"context-specific value", derName(derRDN(derATV(oidCN, derStr(0x80, "x")))), `CN="<nil>"`, true, false},
		{"trailing members in atv", derName(derRDN(derATV(oidCN, derStr(0x0c, "x"), []byte{0xff, 0xff}))), "CN=x", true, false},
		{"long value", derName(derRDN(derATV(oidCN, derStr(0x0c, strings.Repeat("v", 300))))), "CN=" + strings.Repeat("v", 300), true, false},

		// encoding/asn1 renders these (fmt of a number, bytes, OID, time).
		{"integer value", derName(derRDN(derATV(oidCN, []byte{0x02, 0x01, 0x05}))), "CN=5", false, false},
		{"octet string value", derName(derRDN(derATV(oidCN, []byte{0x04, 0x02, 1, 2}))), `CN=[1 2]`, false, false},
		{"boolean value", derName(derRDN(derATV(oidCN, []byte{0x01, 0x01, 0xff}))), `CN=true`, false, false},
		{"oid value", derName(derRDN(derATV(oidCN, derOID(1, 2, 3)))), `CN=1.2.3`, false, false},

		{"not a sequence", derRDN(), "", false, true},
		{"nothing", nil, "", false, true},
		{"trailing bytes", append(derName(cn("a")), 0), "", false, true},
		{"truncated", derName(cn("abc"))[:8], "", false, true},
		{"rdn not a set", derName(derATV(oidCN, derStr(0x0c, "x"))), "", false, true},
		{"atv not a sequence", derName(derRDN(derStr(0x0c, "x"))), "", false, true},
		{"missing value", derName(derRDN(tlv(0x30, oidCN))), "", false, true},
		{"missing type", derName(derRDN(tlv(0x30))), "", false, true},
		{"type not an oid", derName(derRDN(derATV(derStr(0x0c, "x"), derStr(0x0c, "x")))), "", false, true},
		{"empty oid", derName(derRDN(derATV([]byte{0x06, 0x00}, derStr(0x0c, "x")))), "", false, true},
		{"non-minimal oid arc", derName(derRDN(derATV([]byte{0x06, 0x03, 0x55, 0x80, 0x04}, derStr(0x0c, "x")))), "", false, true},
		{"truncated oid arc", derName(derRDN(derATV([]byte{0x06, 0x02, 0x55, 0x84}, derStr(0x0c, "x")))), "", false, true},
		{"oid arc of six octets", derName(derRDN(derATV([]byte{0x06, 0x07, 0x55, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00}, derStr(0x0c, "x")))), "", false, true},
		{"oid arc over int32", derName(derRDN(derATV([]byte{0x06, 0x06, 0x55, 0x8f, 0xff, 0xff, 0xff, 0x7f}, derStr(0x0c, "x")))), "", false, true},
		{"bad printable", derName(derRDN(derATV(oidCN, derStr(0x13, "a@b")))), "", false, true},
		{"bad utf8", derName(derRDN(derATV(oidCN, derStr(0x0c, "\xff")))), "", false, true},
		{"bad ia5", derName(derRDN(derATV(oidCN, derStr(0x16, "\x80")))), "", false, true},
		{"bad numeric", derName(derRDN(derATV(oidCN, derStr(0x12, "12a")))), "", false, true},
		{"odd bmp", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0, 'x', 0})))), "", false, true},
		{"bmp surrogate", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0xd8, 0x3d, 0xde, 0x00})))), "", false, true},
		{"bmp noncharacter", derName(derRDN(derATV(oidCN, tlv(0x1e, []byte{0xff, 0xfe})))), "", false, true},
		{"non-minimal length", []byte{0x30, 0x81, 0x00}, "", false, true},
		{"indefinite length", []byte{0x30, 0x80, 0x00, 0x00}, "", false, true},
		{"bad boolean value", derName(derRDN(derATV(oidCN, []byte{0x01, 0x01, 0x01}))), "", false, true},
	}
}

func TestRawDistinguishedName(t *testing.T) {
	for _, tt := range dnCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RawDistinguishedName(tt.der)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RawDistinguishedName(%x) error %v, want error %v", tt.der, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("RawDistinguishedName(%x) = %q, want %q", tt.der, got, tt.want)
			}
			ref, refErr := rawDistinguishedNameASN1(tt.der)
			if ref != got || (refErr != nil) != (err != nil) {
				t.Errorf("encoding/asn1 gives %q, %v", ref, refErr)
			}
			if _, fast := fastRawDistinguishedName(tt.der); fast != tt.fast {
				t.Errorf("fast path taken = %v, want %v", fast, tt.fast)
			}
		})
	}
}

// TestRawDistinguishedNameEveryByte renders every byte value, alone, between
// letters and at either end, in each string type both ways.
func TestRawDistinguishedNameEveryByte(t *testing.T) {
	for _, id := range []byte{0x0c, 0x12, 0x13, 0x14, 0x16, 0x1e} {
		for b := range 256 {
			for _, v := range [][]byte{{byte(b)}, {'a', byte(b), 'z'}, {byte(b), 'z'}, {'a', byte(b)}, {0, byte(b)}} {
				raw := derName(derRDN(derATV(oidCN, tlv(id, v))))
				want, wantErr := rawDistinguishedNameASN1(raw)
				got, ok := fastRawDistinguishedName(raw)
				if ok && (wantErr != nil || got != want) {
					t.Errorf("tag %#x value %x: fast path %q; encoding/asn1 %q, %v", id, v, got, want, wantErr)
				}
				if !ok && wantErr == nil {
					t.Errorf("tag %#x value %x: fast path declines what encoding/asn1 renders as %q", id, v, want)
				}
			}
		}
	}
}

// TestRawDistinguishedNameCertificates checks the names x509 writes, which
// are what Info sees, against encoding/asn1 and DistinguishedName.
func TestRawDistinguishedNameCertificates(t *testing.T) {
	for _, bc := range benchCerts(t) {
		for _, raw := range [][]byte{bc.cert.RawSubject, bc.cert.RawIssuer} {
			got, ok := fastRawDistinguishedName(raw)
			want, err := rawDistinguishedNameASN1(raw)
			if !ok || err != nil || got != want {
				t.Errorf("%s: fast %q, %v; encoding/asn1 %q, %v", bc.name, got, ok, want, err)
			}
		}
	}
	c := benchCerts(t)[1].cert
	if got, want := subjectName(c), "SERIALNUMBER=SN-9F3A-0417 + CN=sensor-000417, OU=\"Building 7, Floor 2\", OU=Field Devices, O=Contoso Ltd, C=US"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if got, want := issuerName(c), DistinguishedName(c.Issuer); got != want {
		t.Errorf("issuer %q, DistinguishedName %q", got, want)
	}
}

func FuzzRawDistinguishedName(f *testing.F) {
	for _, tt := range dnCases() {
		f.Add(tt.der)
	}
	for _, bc := range benchCerts(f) {
		f.Add(bc.cert.RawSubject)
		f.Add(bc.cert.RawIssuer)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, wantErr := rawDistinguishedNameASN1(raw)
		if fast, ok := fastRawDistinguishedName(raw); ok && (wantErr != nil || fast != want) {
			t.Fatalf("fast path renders %x as %q; encoding/asn1 gives %q, %v", raw, fast, want, wantErr)
		}
		got, err := RawDistinguishedName(raw)
		if got != want || (err != nil) != (wantErr != nil) {
			t.Fatalf("RawDistinguishedName(%x) = %q, %v; encoding/asn1 gives %q, %v", raw, got, err, want, wantErr)
		}
	})
}

func TestThumbprintMatchesFingerprint(t *testing.T) {
	c := benchCerts(t)[0].cert
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA224, crypto.MD4, 0, 99} {
		want := ""
		if fp, err := fingerprint.New(c.Raw, h, fingerprint.HexFingerprint); err == nil {
			want = strings.ToUpper(fp)
		}
		if got := Thumbprint(c, h); got != want {
			t.Errorf("Thumbprint(%v) = %s, want %s", h, got, want)
		}
	}
}

func TestSerialHexMatchesDEROctets(t *testing.T) {
	ref := func(n *big.Int) string {
		if n.Sign() < 0 {
			return "-" + strings.ToUpper(new(big.Int).Neg(n).Text(16))
		}
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return strings.ToUpper(hex.EncodeToString(b))
	}
	hexInt := func(s string) *big.Int {
		n, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatalf("bad hex %s", s)
		}
		return n
	}
	for _, n := range []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(0x7f), big.NewInt(0x80), big.NewInt(0xff), big.NewInt(0x100), big.NewInt(-1), big.NewInt(-0x80),
		hexInt("5a3c9e0f71b2d4c6e8f00a1b2c3d4e5f60718293"),
		hexInt("ff3c9e0f71b2d4c6e8f00a1b2c3d4e5f60718293"), // 20 octets, high bit set
		hexInt("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		hexInt("f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	} {
		if got, want := SerialHex(n), ref(n); got != want {
			t.Errorf("SerialHex(%x) = %s, want %s", n, got, want)
		}
	}
}
