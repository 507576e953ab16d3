package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// tlsCert is the client certificate a device presents: its certificate
// followed by the rest of its chain.
func tlsCert(p *certs.Pair, chain []*x509.Certificate) *tls.Certificate {
	c := &tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}
	for _, x := range chain {
		if !x.Equal(p.Cert) {
			c.Certificate = append(c.Certificate, x.Raw)
		}
	}
	return c
}

func x509Individual(id string, primary, secondary *x509.Certificate, status string) map[string]any {
	cc := map[string]any{"primary": map[string]string{"certificate": certs.EncodePEM(primary)}}
	if secondary != nil {
		cc["secondary"] = map[string]string{"certificate": certs.EncodePEM(secondary)}
	}
	return map[string]any{
		"registrationId": id, "provisioningStatus": status,
		"attestation": map[string]any{"type": "x509", "x509": map[string]any{"clientCertificates": cc}},
	}
}

func x509Group(id string, signing *x509.Certificate, status string) map[string]any {
	return map[string]any{
		"enrollmentGroupId": id, "provisioningStatus": status,
		"attestation": map[string]any{"type": "x509", "x509": map[string]any{
			"signingCertificates": map[string]any{"primary": map[string]string{"certificate": certs.EncodePEM(signing)}},
		}},
	}
}

func TestX509OverTLS(t *testing.T) {
	e, logs := logEnv(t, nil)
	s := serve(t, e.inst)

	ca := certstest.New(t)         // groups anchor here
	rogue := certstest.New(t)      // trusted by nobody
	refCA := certstest.New(t)      // a verified CA certificate of the service
	unverified := certstest.New(t) // a CA certificate that was never verified
	ctx := context.Background()
	for name, c := range map[string]struct {
		ca       *certstest.CA
		verified bool
	}{"lab-ca": {refCA, true}, "pending-ca": {unverified, false}} {
		if err := e.inst.PutCACertificate(ctx, name, c.ca.Root.Cert, c.verified); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.inst.PutCACertificate(ctx, "leaf", certstest.SelfSigned(t, "not-a-ca").Cert, true); err == nil {
		t.Fatal("a device certificate was accepted as a CA")
	}

	e.put("/enrollmentGroups/x-root", x509Group("x-root", ca.Root.Cert, "enabled"))
	e.put("/enrollmentGroups/x-inter", x509Group("x-inter", ca.Intermediate.Cert, "enabled"))
	for _, g := range []struct{ id, ref string }{{"x-ref", "lab-ca"}, {"x-pending", "pending-ca"}} {
		e.put("/enrollmentGroups/"+g.id, map[string]any{"enrollmentGroupId": g.id, "attestation": map[string]any{"type": "x509", "x509": map[string]any{"caReferences": map[string]string{"primary": g.ref}}}})
	}

	selfA := certstest.SelfSigned(t, "x-self")
	selfB := certstest.SelfSigned(t, "x-self")
	e.put("/enrollments/x-self", x509Individual("x-self", selfA.Cert, selfB.Cert, "enabled"))
	// A CA-issued device with an individual enrollment: the enrollment wins.
	own := ca.Device(t, "x-own")
	e.put("/enrollments/x-own", x509Individual("x-own", own.Cert, nil, "enabled"))
	// A device of the group switched off by a disabled individual
	// enrollment (for another certificate).
	off := ca.Device(t, "x-off")
	e.put("/enrollments/x-off", x509Individual("x-off", certstest.SelfSigned(t, "x-off").Cert, nil, "disabled"))
	offSelf := certstest.SelfSigned(t, "x-off-self")
	e.put("/enrollments/x-off-self", x509Individual("x-off-self", offSelf.Cert, nil, "disabled"))
	// A disabled intermediate group disables its devices even though the
	// root group is enabled: the most specific group decides.
	ca2 := certstest.New(t)
	e.put("/enrollmentGroups/x2-root", x509Group("x2-root", ca2.Root.Cert, "enabled"))
	e.put("/enrollmentGroups/x2-inter", x509Group("x2-inter", ca2.Intermediate.Cert, "disabled"))

	rootDev := ca.RootDevice(t, "x-rootdev")
	interDev := ca.Device(t, "x-interdev")
	refDev := refCA.Device(t, "x-refdev")
	tests := []struct {
		name, id   string
		cert       *tls.Certificate
		wantStatus string
		wantGroup  string
	}{
		{"individual primary", "x-self", tlsCert(selfA.Pair, nil), model.RegAssigned, ""},
		{"individual secondary", "x-self", tlsCert(selfB.Pair, nil), model.RegAssigned, ""},
		{"individual wins over group", "x-own", tlsCert(own.Pair, own.Chain), model.RegAssigned, ""},
		{"intermediate group", "x-interdev", tlsCert(interDev.Pair, interDev.Chain), model.RegAssigned, "x-inter"},
		{"intermediate group, upper-case id", "X-INTERDEV", tlsCert(interDev.Pair, interDev.Chain), model.RegAssigned, "x-inter"},
		{"root group, chain not sent", "x-rootdev", tlsCert(rootDev.Pair, nil), model.RegAssigned, "x-root"},
		{"root group, root sent too", "x-rootdev", tlsCert(rootDev.Pair, []*x509.Certificate{ca.Root.Cert}), model.RegAssigned, "x-root"},
		{"verified CA reference", "x-refdev", tlsCert(refDev.Pair, refDev.Chain), model.RegAssigned, "x-ref"},
		{"disabled individual over group", "x-off", tlsCert(off.Pair, off.Chain), model.RegDisabled, ""},
		{"disabled individual", "x-off-self", tlsCert(offSelf.Pair, nil), model.RegDisabled, ""},
		{"disabled intermediate group", "x2-dev", tlsCert(ca2.Device(t, "x2-dev").Pair, ca2.Device(t, "x2-dev").Chain), model.RegDisabled, "x2-inter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.client(t, tt.cert, true)
			op := d.provision(tt.id, "", nil)
			rs := op.RegistrationState
			if op.Status != tt.wantStatus || rs.X509 == nil || rs.X509.EnrollmentGroupID != tt.wantGroup || rs.SymmetricKey != nil {
				t.Fatalf("%+v / %+v", op, rs)
			}
			if tt.wantStatus != model.RegAssigned {
				return
			}
			dev := e.hubDevice(rs.AssignedHub, rs.DeviceID)
			if dev.AuthenticationType != store.AuthSelfSigned || dev.PrimaryThumbprint != certs.Thumbprint(tt.cert.Leaf, sha256Hash) {
				t.Fatalf("hub device %+v", dev)
			}
			// The device connects to the hub with the same certificate.
			mustHub(t, d.sendMessage(rs.DeviceID, ""), 204)
		})
	}

	expired := ca.DeviceWithOptions(t, "x-old", certs.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	wrongCN := ca.Device(t, "x-someone")
	pending := unverified.Device(t, "x-pending-dev")
	stranger := rogue.Device(t, "x-stranger")
	forged := rogue.Device(t, "x-forged")
	// The device is told "Invalid certificate." and nothing more; the
	// reason is in the server log.
	bad := []struct {
		name, id string
		cert     *tls.Certificate
		reason   string // in the log
	}{
		{"untrusted chain", "x-stranger", tlsCert(stranger.Pair, stranger.Chain), "does not verify to an enrollment group's certificate"},
		{"untrusted root presented", "x-stranger", tlsCert(stranger.Pair, append(stranger.Chain, rogue.Root.Cert)), "does not verify to an enrollment group's certificate"},
		{"CN is not the registration id", "x-interdev", tlsCert(wrongCN.Pair, wrongCN.Chain), `CN "x-someone" is not the registration ID`},
		{"expired", "x-old", tlsCert(expired.Pair, expired.Chain), "not valid at this time"},
		{"unverified CA reference", "x-pending-dev", tlsCert(pending.Pair, pending.Chain), "does not verify to an enrollment group's certificate"},
		{"other certificate for an individual enrollment", "x-self", tlsCert(certstest.SelfSigned(t, "x-self").Pair, nil), "matches neither certificate enrolled"},
		// Same issuer name (certstest names every intermediate alike), other key.
		{"leaf signed by an impostor of the group's intermediate", "x-forged", tlsCert(forged.Pair, []*x509.Certificate{ca.Intermediate.Cert}), "does not verify to an enrollment group's certificate"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			d := s.client(t, b.cert, false)
			mark := logs.mark()
			r := d.register(b.id, "", map[string]string{"registrationId": b.id})
			mustBeInvalidCertificate(t, r, logs, mark, b.reason)
		})
	}

	// Polls check the certificate: another device's certificate is refused.
	d := s.client(t, tlsCert(interDev.Pair, interDev.Chain), false)
	r := d.register("x-interdev", "", nil)
	mustStatus(t, r, 202)
	var op model.RegistrationOperationStatus
	r.json(t, &op)
	other := s.client(t, tlsCert(refDev.Pair, refDev.Chain), false)
	mustStatus(t, other.operation("x-interdev", op.OperationID, ""), 401, model.ErrUnauthorized)
	mustStatus(t, d.operation("x-interdev", op.OperationID, ""), 200)
	// The hub refuses a certificate that is not the device's.
	mustHub(t, other.sendMessage("x-interdev", ""), 401)
	// No certificate and no token over TLS: 401, not a TLS failure.
	mustStatus(t, s.client(t, nil, false).register("x-interdev", "", nil), 401, model.ErrUnauthorized)
	r = e.call(http.MethodGet, "/registrations/x-interdev", nil)
	var st model.DeviceRegistrationState
	r.json(t, &st)
	if st.Status != model.RegAssigned {
		t.Fatalf("%s", r.body)
	}
}

const sha256Hash = crypto.SHA256

// mustBeInvalidCertificate checks the answer to a refused X.509 device:
// 401 "Invalid certificate." and nothing more, while the reason reached the
// log after mark.
func mustBeInvalidCertificate(t *testing.T, r resp, logs *syncBuffer, mark int, reason string) {
	t.Helper()
	mustStatus(t, r, 401, model.ErrUnauthorized)
	var body model.ErrorDetails
	r.json(t, &body)
	if body.Message != "Invalid certificate." || body.Info != nil || strings.Contains(string(r.body), "reason") {
		t.Fatalf("%s", r.body)
	}
	logs.mustContain(t, mark, reason)
}
