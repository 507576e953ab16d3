package server

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// The proof of possession of a CA certificate, and what it changes for
// devices: a group's caReferences anchor device chains only at a verified
// certificate; an unverified, deleted or never added one refuses them.
func TestCACertificateProofOfPossession(t *testing.T) {
	inst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	e := envFor(t, inst)
	s := serve(t, inst)
	ctx := context.Background()
	svc := inst.CACertificates()
	ca := certstest.New(t)
	other := certstest.New(t)

	added, err := svc.Add(ctx, "lab-root", []byte(certs.EncodePEM(ca.Root.Cert)), "")
	if err != nil {
		t.Fatal(err)
	}
	p := added.Properties
	if added.Name != "lab-root" || added.Type != cacert.ResourceType || added.ETag == "" || p.IsVerified ||
		p.Thumbprint != certs.Thumbprint(ca.Root.Cert, crypto.SHA1) || p.Subject != certs.Info(ca.Root.Cert).SubjectName || !strings.HasSuffix(p.Expiry, " GMT") {
		t.Fatalf("added %+v", added)
	}
	if _, err := svc.Add(ctx, "lab-root", []byte(certs.EncodePEM(ca.Root.Cert)), ""); !errors.Is(err, cacert.ErrExists) {
		t.Fatalf("added twice: %v", err)
	}
	if _, err := svc.Add(ctx, "leaf", []byte(certs.EncodePEM(certstest.SelfSigned(t, "dev").Cert)), ""); err == nil || !strings.Contains(err.Error(), "CA") {
		t.Fatalf("a device certificate was accepted as a CA: %v", err)
	}
	if _, err := svc.Add(ctx, "bad name", []byte(certs.EncodePEM(ca.Root.Cert)), ""); err == nil {
		t.Fatal("a bad name was accepted")
	}

	e.put("/enrollmentGroups/by-ref", map[string]any{"enrollmentGroupId": "by-ref", "attestation": map[string]any{"type": "x509",
		"x509": map[string]any{"caReferences": map[string]string{"primary": "lab-root"}}}})
	dev := ca.Device(t, "ref-dev")
	refused := func(why string) {
		t.Run("refused when "+why, func(t *testing.T) {
			r := s.client(t, tlsCert(dev.Pair, dev.Chain), false).register("ref-dev", "", map[string]string{"registrationId": "ref-dev"})
			mustStatus(t, r, 401, model.ErrUnauthorized)
		})
	}
	refused("unverified")

	// Proof: a code, then a certificate with that CN signed by the CA.
	if _, err := svc.Verify(ctx, "lab-root", "*", []byte(certs.EncodePEM(ca.Root.Cert))); !errors.Is(err, cacert.ErrProof) {
		t.Fatalf("verify without a code: %v", err)
	}
	code, err := svc.VerificationCode(ctx, "lab-root", added.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if code.ETag == added.ETag || len(code.Properties.VerificationCode) != 48 {
		t.Fatalf("code %+v", code)
	}
	if _, err := svc.VerificationCode(ctx, "lab-root", added.ETag); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("code under an old etag: %v", err)
	}
	// The last code counts.
	code, err = svc.VerificationCode(ctx, "lab-root", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		ca   *certstest.CA
		cn   string
	}{{"signed by another key", other, code.Properties.VerificationCode}, {"another code", ca, "0123"}} {
		v, err := certs.NewVerificationCertificate(bad.ca.Root.Cert, bad.ca.Root.Key, bad.cn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Verify(ctx, "lab-root", code.ETag, []byte(certs.EncodePEM(v.Cert))); !errors.Is(err, cacert.ErrProof) {
			t.Fatalf("%s: %v", bad.name, err)
		}
	}
	refused("the proofs failed")
	v, err := certs.NewVerificationCertificate(ca.Root.Cert, ca.Root.Key, code.Properties.VerificationCode)
	if err != nil {
		t.Fatal(err)
	}
	verified, err := svc.Verify(ctx, "lab-root", code.ETag, []byte(certs.EncodePEM(v.Cert)))
	if err != nil {
		t.Fatal(err)
	}
	if !verified.Properties.IsVerified || verified.ETag == code.ETag {
		t.Fatalf("verified %+v", verified)
	}
	// A code is used once.
	if _, err := svc.Verify(ctx, "lab-root", "", []byte(certs.EncodePEM(v.Cert))); !errors.Is(err, cacert.ErrProof) {
		t.Fatalf("code used twice: %v", err)
	}

	op := s.client(t, tlsCert(dev.Pair, dev.Chain), true).provision("ref-dev", "", nil)
	if op.Status != model.RegAssigned || op.RegistrationState.X509 == nil || op.RegistrationState.X509.EnrollmentGroupID != "by-ref" {
		t.Fatalf("verified CA: %+v", op)
	}
	list, err := svc.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "lab-root" || !list[0].Properties.IsVerified {
		t.Fatalf("list %+v, %v", list, err)
	}

	// Deleted: refused again, and gone.
	if err := svc.Delete(ctx, "lab-root", added.ETag); !errors.Is(err, cacert.ErrETagMismatch) {
		t.Fatalf("delete under an old etag: %v", err)
	}
	if err := svc.Delete(ctx, "lab-root", verified.ETag); err != nil {
		t.Fatal(err)
	}
	refused("deleted")
	if _, err := svc.Get(ctx, "lab-root"); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := svc.Delete(ctx, "lab-root", ""); !errors.Is(err, cacert.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
}
