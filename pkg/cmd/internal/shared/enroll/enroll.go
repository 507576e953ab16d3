// Package enroll holds what the enrollment and group nouns share, because
// individual enrollments and enrollment groups have the same fields but for
// their ID, attestation details and registration state: the flags that set
// those fields, --from-file documents, table columns, the wording of service
// errors and the read, patch and write of update.
//
// A noun describes its entity with a Kind; its verbs keep their own options,
// help text and checks and hand the rest to Kind methods.
package enroll

import (
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Entity is an individual enrollment or an enrollment group.
type Entity interface {
	model.IndividualEnrollment | model.EnrollmentGroup
}

// Fields points at the fields of an entity that both kinds have.
type Fields struct {
	// Name is how flag messages call the entity: "enrollment" or "group".
	Name string

	ID                         *string // registrationId or enrollmentGroupId
	Attestation                **model.AttestationMechanism
	Capabilities               **model.DeviceCapabilities
	InitialTwin                **model.InitialTwin
	ETag                       *string
	ProvisioningStatus         *string
	ReprovisionPolicy          **model.ReprovisionPolicy
	CreatedDateTimeUTC         *string
	LastUpdatedDateTimeUTC     *string
	AllocationPolicy           *string
	IoTHubs                    *[]string
	CustomAllocationDefinition **model.CustomAllocationDefinition
}

// Of returns the shared fields of e.
func Of[E Entity](e *E) Fields {
	switch x := any(e).(type) {
	case *model.IndividualEnrollment:
		return Fields{"enrollment", &x.RegistrationID, &x.Attestation, &x.Capabilities, &x.InitialTwin, &x.ETag, &x.ProvisioningStatus,
			&x.ReprovisionPolicy, &x.CreatedDateTimeUTC, &x.LastUpdatedDateTimeUTC, &x.AllocationPolicy, &x.IoTHubs, &x.CustomAllocationDefinition}
	case *model.EnrollmentGroup:
		return Fields{"group", &x.EnrollmentGroupID, &x.Attestation, &x.Capabilities, &x.InitialTwin, &x.ETag, &x.ProvisioningStatus,
			&x.ReprovisionPolicy, &x.CreatedDateTimeUTC, &x.LastUpdatedDateTimeUTC, &x.AllocationPolicy, &x.IoTHubs, &x.CustomAllocationDefinition}
	}
	panic("enroll: not an entity") // the Entity constraint rules this out
}

// ClearServerFields drops what the service owns before a write: the etag,
// the timestamps and an enrollment's registration state.
func ClearServerFields[E Entity](e *E) {
	f := Of(e)
	*f.ETag, *f.CreatedDateTimeUTC, *f.LastUpdatedDateTimeUTC = "", "", ""
	if x, ok := any(e).(*model.IndividualEnrollment); ok {
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
