// Package shared holds what the enrollment verbs share beyond package
// enroll: the Kind, table columns, ID completion and the flags only
// enrollments have.
package shared

import (
	"slices"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

type enrollment = model.IndividualEnrollment

// common returns the fields an enrollment shares with groups, which the
// shared columns read.
func common(e enrollment) model.EnrollmentCommon { return e.EnrollmentCommon }

// Columns are the list columns of an individual enrollment.
var Columns = slices.Concat(
	[]output.Column[enrollment]{
		{Header: "REGISTRATION ID", Value: func(e enrollment) string { return e.RegistrationID }},
		enroll.TypeColumn(common),
		{Header: "DEVICE ID", Value: func(e enrollment) string { return e.DeviceID }},
	},
	enroll.AssignmentColumns(common),
	[]output.Column[enrollment]{
		{Header: "REGISTRATION", Value: func(e enrollment) string {
			if e.RegistrationState == nil {
				return ""
			}
			return e.RegistrationState.Status
		}},
		enroll.LastUpdatedColumn(common),
	},
)

// DetailColumns are the fields "enrollment show" prints in table form.
var DetailColumns = slices.Concat(
	[]output.Column[enrollment]{
		Columns[0],
		Columns[2],
		Columns[1],
		{Header: "ENDORSEMENT KEY", Value: func(e enrollment) string { return endorsementKey(e.Attestation) }},
		{Header: "CERTIFICATE", Value: func(e enrollment) string { return certSummary(e.Attestation, false) }},
		{Header: "SECONDARY CERTIFICATE", Value: func(e enrollment) string { return certSummary(e.Attestation, true) }},
	},
	enroll.KeyColumns(func(e enrollment) *model.AttestationMechanism { return e.Attestation }),
	Columns[3:6],
	enroll.SettingColumns(common),
	[]output.Column[enrollment]{
		Columns[6],
		{Header: "ASSIGNED HUB", Value: func(e enrollment) string {
			if e.RegistrationState == nil {
				return ""
			}
			return e.RegistrationState.AssignedHub
		}},
	},
	enroll.VersionColumns(common),
	Columns[7:],
)

// AttestationColumns are the table columns of an attestation mechanism.
var AttestationColumns = slices.Concat(
	[]output.Column[model.AttestationMechanism]{
		{Header: "TYPE", Value: func(a model.AttestationMechanism) string { return a.Type }},
		{Header: "ENDORSEMENT KEY", Value: func(a model.AttestationMechanism) string { return endorsementKey(&a) }},
		{Header: "CERTIFICATE", Value: func(a model.AttestationMechanism) string { return certSummary(&a, false) }},
		{Header: "SECONDARY CERTIFICATE", Value: func(a model.AttestationMechanism) string { return certSummary(&a, true) }},
	},
	enroll.KeyColumns(func(a model.AttestationMechanism) *model.AttestationMechanism { return &a }),
)

func endorsementKey(a *model.AttestationMechanism) string {
	if a != nil && a.TPM != nil {
		return a.TPM.EndorsementKey
	}
	return ""
}

// certSummary describes the client (or signing) certificate of an X.509
// attestation, or names its CA reference.
func certSummary(a *model.AttestationMechanism, secondary bool) string {
	if a == nil || a.X509 == nil {
		return ""
	}
	certs := a.X509.ClientCertificates
	if certs == nil {
		certs = a.X509.SigningCertificates
	}
	if certs == nil {
		if r := a.X509.CAReferences; r != nil {
			if secondary {
				return r.Secondary
			}
			return r.Primary
		}
		return ""
	}
	return enroll.CertificateSummary(enroll.Slot(certs, secondary))
}
