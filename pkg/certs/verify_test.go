package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"
)

// mk issues a certificate from tmpl with a fresh P-256 key, signed by parent
// or self-signed when parent is nil.
func mk(t *testing.T, parent *Pair, tmpl *x509.Certificate) *Pair {
	t.Helper()
	key, err := GenerateKey(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pc, pk := tmpl, key
	if parent != nil {
		pc, pk = parent.Cert, parent.Key
	}
	c, err := createCertificate(tmpl, pc, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	return &Pair{Cert: c, Key: key}
}

func caTmpl(cn string, nb, na time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
}

func leafTmpl(cn string, nb, na time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
}

func with(c *x509.Certificate, edit func(*x509.Certificate)) *x509.Certificate {
	edit(c)
	return c
}

func TestVerify(t *testing.T) {
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(24*time.Hour)
	past, future := now.Add(-48*time.Hour), now.Add(48*time.Hour)

	root := mk(t, nil, caTmpl("Root A", nb, na))
	otherRoot := mk(t, nil, caTmpl("Root B", nb, na))
	inter := mk(t, root, caTmpl("Inter", nb, na))
	leaf := mk(t, inter, leafTmpl("dev1", nb, na))
	selfSigned := mk(t, nil, leafTmpl("dev-ss", nb, na))

	expiredLeaf := mk(t, inter, leafTmpl("dev1", past, now.Add(-time.Hour)))
	futureLeaf := mk(t, inter, leafTmpl("dev1", future, future.Add(time.Hour)))
	expiredInter := mk(t, root, caTmpl("Old Inter", past, now.Add(-time.Minute)))
	leafOfExpired := mk(t, expiredInter, leafTmpl("dev1", nb, na))
	serverLeaf := mk(t, inter, with(leafTmpl("dev1", nb, na), func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}))
	noDigSig := mk(t, inter, with(leafTmpl("dev1", nb, na), func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageKeyEncipherment
	}))
	badIDLeaf := mk(t, inter, leafTmpl("dev one!", nb, na))
	longIDLeaf := mk(t, inter, leafTmpl(strings.Repeat("a", 65), nb, na))
	noCNLeaf := mk(t, inter, with(leafTmpl("", nb, na), func(c *x509.Certificate) {
		c.Subject = pkix.Name{Organization: []string{"Contoso"}}
	}))
	// A device certificate used as an issuer.
	notCA := mk(t, inter, leafTmpl("dev-issuer", nb, na))
	leafOfNotCA := mk(t, notCA, leafTmpl("dev1", nb, na))
	// An intermediate with the same name as inter but another key.
	impostor := mk(t, root, caTmpl("Inter", nb, na))
	// A root re-created with the same name.
	rootAgain := mk(t, nil, caTmpl("Root A", nb, na))
	// The same chain under another root.
	interB := mk(t, otherRoot, caTmpl("Inter B", nb, na))
	leafB := mk(t, interB, leafTmpl("dev1", nb, na))
	// Path length 0 on the root, yet an intermediate below it.
	tightRoot := mk(t, nil, with(caTmpl("Tight Root", nb, na), func(c *x509.Certificate) {
		c.MaxPathLen, c.MaxPathLenZero = 0, true
	}))
	tightInter := mk(t, tightRoot, caTmpl("Tight Inter", nb, na))
	leafOfTight := mk(t, tightInter, leafTmpl("dev1", nb, na))
	serverInter := mk(t, root, with(caTmpl("Server Inter", nb, na), func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}))
	leafOfServerInter := mk(t, serverInter, leafTmpl("dev1", nb, na))
	noSignInter := mk(t, root, with(caTmpl("NoSign Inter", nb, na), func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature
	}))
	leafOfNoSign := mk(t, noSignInter, leafTmpl("dev1", nb, na))
	criticalLeaf := mk(t, inter, with(leafTmpl("dev1", nb, na), func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: []int{1, 3, 6, 1, 4, 1, 55555, 1}, Critical: true, Value: []byte{0x05, 0x00}}}
	}))

	chain := func(c ...*Pair) []*x509.Certificate {
		out := make([]*x509.Certificate, len(c))
		for i, p := range c {
			out[i] = p.Cert
		}
		return out
	}
	tests := []struct {
		name     string
		leaf     *Pair
		opts     VerifyOptions
		want     []string // codes, in order
		wantCert string   // Cert of the first problem
	}{
		{"valid chain", leaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root), RegistrationID: "dev1"}, nil, ""},
		{"valid, case-insensitive ID", leaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root), RegistrationID: "DEV1"}, nil, ""},
		{"valid, trusted intermediate", leaf, VerifyOptions{Roots: chain(inter)}, nil, ""},
		{"valid, self-signed leaf trusted itself", selfSigned, VerifyOptions{Roots: chain(selfSigned), RegistrationID: "dev-ss"}, nil, ""},
		{"valid, no roots", leaf, VerifyOptions{RegistrationID: "dev1"}, nil, ""},
		{"valid, bundle with root among intermediates", leaf, VerifyOptions{Intermediates: chain(inter, root), Roots: chain(root)}, nil, ""},
		{"expired leaf", expiredLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeExpired}, "leaf CN=dev1"},
		{"leaf not yet valid", futureLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeNotYetValid}, "leaf CN=dev1"},
		{"expired intermediate", leafOfExpired, VerifyOptions{Intermediates: chain(expiredInter), Roots: chain(root)}, []string{CodeExpired}, "intermediate CN=Old Inter"},
		{"wrong CN", leaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root), RegistrationID: "dev2"}, []string{CodeCNMismatch}, "leaf CN=dev1"},
		{"CN not an ID", badIDLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeIDInvalid}, "leaf CN=dev one!"},
		{"CN longer than 64", longIDLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeIDInvalid}, ""},
		{"no CN", noCNLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeIDInvalid}, "leaf O=Contoso"},
		{"missing client auth", serverLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeMissingClientAuth}, "leaf CN=dev1"},
		{"missing digitalSignature", noDigSig, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeMissingDigitalSig}, "leaf CN=dev1"},
		{"non-CA issuer", leafOfNotCA, VerifyOptions{Intermediates: chain(notCA, inter), Roots: chain(root)}, []string{CodeNotCA, CodeNoCertSign}, "intermediate CN=dev-issuer"},
		{"broken chain", leaf, VerifyOptions{Roots: chain(root)}, []string{CodeBrokenChain}, "leaf CN=dev1"},
		{"wrong root, full bundle", leafB, VerifyOptions{Intermediates: chain(interB, otherRoot), Roots: chain(root)}, []string{CodeWrongRoot}, "root CN=Root B"},
		{"wrong root, root not sent", leafB, VerifyOptions{Intermediates: chain(interB), Roots: chain(root)}, []string{CodeBrokenChain}, "intermediate CN=Inter B"},
		{"bad signature", leaf, VerifyOptions{Intermediates: chain(impostor), Roots: chain(root)}, []string{CodeBadSignature}, "leaf CN=dev1"},
		{"root of the same name, other key", leaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(rootAgain)}, []string{CodeWrongRoot}, "intermediate CN=Inter"},
		{"path length", leafOfTight, VerifyOptions{Intermediates: chain(tightInter), Roots: chain(tightRoot)}, []string{CodePathLength}, "root CN=Tight Root"},
		{"CA excludes client auth", leafOfServerInter, VerifyOptions{Intermediates: chain(serverInter), Roots: chain(root)}, []string{CodeCAClientAuth}, "intermediate CN=Server Inter"},
		{"CA without keyCertSign", leafOfNoSign, VerifyOptions{Intermediates: chain(noSignInter), Roots: chain(root)}, []string{CodeNoCertSign}, "intermediate CN=NoSign Inter"},
		{"unhandled critical extension (stdlib backstop)", criticalLeaf, VerifyOptions{Intermediates: chain(inter), Roots: chain(root)}, []string{CodeInvalidChain}, "leaf CN=dev1"},
		{"several problems", expiredLeaf, VerifyOptions{Roots: chain(root), RegistrationID: "other"}, []string{CodeCNMismatch, CodeExpired, CodeBrokenChain}, "leaf CN=dev1"},
		{"self-signed leaf not trusted", selfSigned, VerifyOptions{Roots: chain(root)}, []string{CodeWrongRoot}, "leaf CN=dev-ss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verify(tt.leaf.Cert, tt.opts)
			var codes []string
			for _, p := range got {
				codes = append(codes, p.Code)
				if p.Reason == "" || p.Cert == "" {
					t.Errorf("problem without reason or cert: %+v", p)
				}
			}
			if strings.Join(codes, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("codes = %v, want %v\nproblems: %v", codes, tt.want, Error(got))
			}
			if tt.wantCert != "" && got[0].Cert != tt.wantCert {
				t.Errorf("first problem is about %q, want %q", got[0].Cert, tt.wantCert)
			}
			if (len(got) == 0) != (AsError(got) == nil) {
				t.Error("AsError disagrees with the problem list")
			}
		})
	}
}

func TestVerifyAtTime(t *testing.T) {
	now := time.Now()
	root := mk(t, nil, caTmpl("Root", now.Add(-time.Hour), now.Add(time.Hour)))
	leaf := mk(t, root, leafTmpl("dev1", now.Add(-time.Hour), now.Add(time.Hour)))
	opts := VerifyOptions{Roots: []*x509.Certificate{root.Cert}}
	if ps := Verify(leaf.Cert, opts); len(ps) != 0 {
		t.Fatalf("now: %v", Error(ps))
	}
	opts.At = now.Add(2 * time.Hour)
	ps := Verify(leaf.Cert, opts)
	if !HasCode(ps, CodeExpired) || len(ps) != 2 {
		t.Fatalf("later: want leaf and root expired, got %v", Error(ps))
	}
}

func TestCheckDeviceCertificate(t *testing.T) {
	now := time.Now()
	root, _ := NewRoot(Options{})
	good, err := NewDevice(root, "sensor-01", Options{})
	if err != nil {
		t.Fatal(err)
	}
	self, err := NewDevice(nil, "sensor-02", Options{KeyType: KeyRSA})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cert  *x509.Certificate
		id    string
		at    time.Time
		codes []string
	}{
		{"issued", good.Cert, "sensor-01", time.Time{}, nil},
		{"self-signed RSA", self.Cert, "sensor-02", now, nil},
		{"no id given", good.Cert, "", now, nil},
		{"other id", good.Cert, "sensor-02", now, []string{CodeCNMismatch}},
		{"after expiry", good.Cert, "sensor-01", good.Cert.NotAfter.Add(time.Second), []string{CodeExpired}},
		{"before validity", good.Cert, "sensor-01", good.Cert.NotBefore.Add(-time.Second), []string{CodeNotYetValid}},
		{"CA as device", root.Cert, "", now, []string{CodeIDInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var codes []string
			for _, p := range CheckDeviceCertificate(tt.cert, tt.id, tt.at) {
				codes = append(codes, p.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tt.codes, ",") {
				t.Errorf("codes = %v, want %v", codes, tt.codes)
			}
		})
	}
}

func TestCheckSigningCertificate(t *testing.T) {
	now := time.Now()
	root, _ := NewRoot(Options{})
	inter, _ := NewIntermediate(root, Options{})
	dev, _ := NewDevice(inter, "dev1", Options{})
	bare := mk(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "bare"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	tests := []struct {
		name  string
		cert  *x509.Certificate
		at    time.Time
		codes []string
	}{
		{"root", root.Cert, now, nil},
		{"intermediate", inter.Cert, time.Time{}, nil},
		{"device", dev.Cert, now, []string{CodeNotCA, CodeNoCertSign}},
		{"no basic constraints", bare.Cert, now, []string{CodeNotCA}},
		{"expired", root.Cert, root.Cert.NotAfter.Add(time.Hour), []string{CodeExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := CheckSigningCertificate(tt.cert, tt.at)
			var codes []string
			for _, p := range ps {
				codes = append(codes, p.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tt.codes, ",") {
				t.Errorf("codes = %v, want %v", codes, tt.codes)
			}
		})
	}
	if ps := CheckSigningCertificate(bare.Cert, now); len(ps) != 1 || !strings.Contains(ps[0].Reason, "basicConstraints is missing") {
		t.Errorf("reason = %v", Error(ps))
	}
}
