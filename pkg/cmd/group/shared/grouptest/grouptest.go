// Package grouptest sets up enrollment groups, registration states and
// signing certificates for the tests of the group and registration
// commands.
package grouptest

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// Fixed group keys, so outputs that show them are stable.
const (
	Key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	Key2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// Validity window of the CA made by NewCA: fixed, so certificate details in
// golden files are stable, and wide, so the certificates stay valid.
var (
	NotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)
)

// NewCA makes a root and intermediate CA valid from NotBefore to NotAfter.
func NewCA(t testing.TB) *certstest.CA {
	t.Helper()
	return certstest.NewWithOptions(t, certs.Options{NotBefore: NotBefore, NotAfter: NotAfter})
}

// CertScrubs returns replacement pairs for cmdtest.Golden hiding what
// differs between runs in the details of certs (thumbprints, serial).
func CertScrubs(cs ...*x509.Certificate) []string {
	var pairs []string
	for _, c := range cs {
		pairs = append(pairs,
			certs.Thumbprint(c, crypto.SHA256), "<sha256>",
			certs.Thumbprint(c, crypto.SHA1), "<sha1>",
			certs.SerialHex(c.SerialNumber), "<serial>")
	}
	return pairs
}

// SymmetricGroup creates a symmetric-key group with keys Key1 and Key2,
// after edit (if not nil) has changed it.
func SymmetricGroup(t testing.TB, c *dps.Client, id string, edit func(g *model.EnrollmentGroup)) *model.EnrollmentGroup {
	t.Helper()
	g := &model.EnrollmentGroup{
		EnrollmentGroupID: id,
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey,
			SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: Key1, SecondaryKey: Key2}}},
	}
	return Put(t, c, g, edit)
}

// SigningGroup creates an X.509 group with cert as its primary signing
// certificate.
func SigningGroup(t testing.TB, c *dps.Client, id string, cert *x509.Certificate, edit func(g *model.EnrollmentGroup)) *model.EnrollmentGroup {
	t.Helper()
	g := &model.EnrollmentGroup{
		EnrollmentGroupID: id,
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(cert)}},
		}}},
	}
	return Put(t, c, g, edit)
}

// Put creates g after edit (if not nil) has changed it.
func Put(t testing.TB, c *dps.Client, g *model.EnrollmentGroup, edit func(g *model.EnrollmentGroup)) *model.EnrollmentGroup {
	t.Helper()
	if edit != nil {
		edit(g)
	}
	created, err := c.PutGroup(context.Background(), g, "")
	if err != nil {
		t.Fatalf("create group %s: %v", g.EnrollmentGroupID, err)
	}
	return created
}

// Enrollment creates a symmetric-key individual enrollment.
func Enrollment(t testing.TB, c *dps.Client, id string) {
	t.Helper()
	e := &model.IndividualEnrollment{
		RegistrationID:   id,
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: Key1}}},
	}
	if _, err := c.PutEnrollment(context.Background(), e, ""); err != nil {
		t.Fatalf("create enrollment %s: %v", id, err)
	}
}

// Registered is a registration state as a device that registered at
// cmdtest.Now would leave it: assigned to hub with its registration ID as
// device ID, etag "etag-<id>".
func Registered(id, hub string, now time.Time) model.DeviceRegistrationState {
	ts := model.FormatTime(now)
	return model.DeviceRegistrationState{
		RegistrationID:         id,
		CreatedDateTimeUTC:     ts,
		AssignedHub:            hub,
		DeviceID:               id,
		Status:                 model.RegAssigned,
		Substatus:              "initialAssignment",
		LastUpdatedDateTimeUTC: ts,
		ETag:                   "etag-" + id,
	}
}

// Failed is a registration state of a device whose registration failed.
func Failed(id string, code int, message string, now time.Time) model.DeviceRegistrationState {
	ts := model.FormatTime(now)
	return model.DeviceRegistrationState{
		RegistrationID:         id,
		CreatedDateTimeUTC:     ts,
		Status:                 model.RegFailed,
		ErrorCode:              code,
		ErrorMessage:           message,
		LastUpdatedDateTimeUTC: ts,
		ETag:                   "etag-" + id,
	}
}

// PutRegistration stores a registration state in the local service, as
// if the device had registered through groupID ("" for an individual
// enrollment). The service API has no call for this: devices create
// registration states by registering.
func PutRegistration(t testing.TB, inst *server.Instance, groupID string, s model.DeviceRegistrationState) {
	t.Helper()
	if err := inst.PutRegistration(context.Background(), groupID, s); err != nil {
		t.Fatalf("store registration %s: %v", s.RegistrationID, err)
	}
}
