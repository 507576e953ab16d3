// Package enroll holds what the enrollment and group nouns share, because
// individual enrollments and enrollment groups have the same fields but for
// their ID, attestation details and registration state: the flags that set
// those fields, --from-file documents, table columns, the wording of service
// errors and the read, patch and write of update.
//
// The shared fields are model.EnrollmentCommon, reached through
// model.Enrollable. A noun describes the service calls and detail columns
// of its entity with a Kind; its verbs keep their own options, help text
// and checks and hand the rest to Kind methods.
package enroll

import (
	"github.com/dpsctl/dpsctl/pkg/model"
)

// command is the CLI noun of kind k, "enrollment" or "group", which flag
// messages call the entity by.
func command(k model.EnrollmentKind) string {
	if k == model.KindGroup {
		return "group"
	}
	return "enrollment"
}

// ClearServerFields drops what the service owns before a write: the etag,
// the timestamps and an enrollment's registration state.
func ClearServerFields(e model.Enrollable) {
	c := e.Common()
	c.ETag, c.CreatedDateTimeUTC, c.LastUpdatedDateTimeUTC = "", "", ""
	if x, ok := e.(*model.IndividualEnrollment); ok {
		x.RegistrationState = nil
	}
}

// AttestationType returns the wire attestation type, "" when absent.
func AttestationType(a *model.AttestationMechanism) string {
	if a == nil {
		return ""
	}
	return a.Type
}

// attestationWire maps the CLI spellings of attestation types to the wire
// ones. A noun offers those of them it supports.
var attestationWire = map[string]string{
	"tpm":           model.AttestationTPM,
	"x509":          model.AttestationX509,
	"symmetric-key": model.AttestationSymmetricKey,
}

// cliName returns the CLI spelling of a wire attestation type.
func cliName(wire string) string {
	for k, v := range attestationWire {
		if v == wire {
			return k
		}
	}
	return wire
}
