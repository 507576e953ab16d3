// Package shared holds what the enrollment group verbs share beyond package
// enroll: the Kind, table columns, ID completion, the wording of errors
// only groups have, and the flags and certificate checks only groups have.
package shared

import (
	"slices"

	"github.com/dpsctl/dpsctl/pkg/cmd/internal/shared/enroll"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

type group = model.EnrollmentGroup

// common returns the fields a group shares with enrollments, which the
// shared columns read.
func common(g group) model.EnrollmentCommon { return g.EnrollmentCommon }

// Columns are the list columns of an enrollment group.
var Columns = slices.Concat(
	[]output.Column[group]{
		{Header: "GROUP ID", Value: func(g group) string { return g.EnrollmentGroupID }},
		enroll.TypeColumn(common),
	},
	enroll.AssignmentColumns(common),
	[]output.Column[group]{enroll.LastUpdatedColumn(common)},
)

// DetailColumns are the fields "group show" prints in table form.
var DetailColumns = slices.Concat(
	[]output.Column[group]{
		Columns[0],
		{Header: "ATTESTATION", Value: func(g group) string { return AttestationSummary(g.Attestation) }},
	},
	mechanismColumns(func(g group) *mechanism { return g.Attestation }),
	Columns[2:5],
	enroll.SettingColumns(common),
	enroll.VersionColumns(common),
	Columns[5:],
)

type mechanism = model.AttestationMechanism

// AttestationColumns are the table columns of a group's attestation
// mechanism.
var AttestationColumns = slices.Concat(
	[]output.Column[mechanism]{{Header: "TYPE", Value: func(a mechanism) string { return AttestationSummary(&a) }}},
	mechanismColumns(func(a mechanism) *mechanism { return &a }),
)

// mechanismColumns are the columns of the attestation mechanism m of a
// row: signing certificates, CA references and keys.
func mechanismColumns[T any](m func(T) *mechanism) []output.Column[T] {
	return slices.Concat(
		[]output.Column[T]{
			{Header: "SIGNING CERTIFICATE", Value: func(v T) string { return signingCert(m(v), false) }},
			{Header: "SECONDARY SIGNING CERTIFICATE", Value: func(v T) string { return signingCert(m(v), true) }},
			{Header: "CA REFERENCE", Value: func(v T) string { return caReference(m(v), false) }},
			{Header: "SECONDARY CA REFERENCE", Value: func(v T) string { return caReference(m(v), true) }},
		},
		enroll.KeyColumns(m),
	)
}

// AttestationSummary names the attestation of a group: its wire type, and
// for x509 whether the group holds signing certificates or references CA
// certificates of the service.
func AttestationSummary(a *model.AttestationMechanism) string {
	t := enroll.AttestationType(a)
	if t != model.AttestationX509 || a.X509 == nil {
		return t
	}
	switch {
	case a.X509.SigningCertificates != nil:
		return t + " (signing certificate)"
	case a.X509.CAReferences != nil:
		return t + " (CA reference)"
	}
	return t
}

func signingCert(a *model.AttestationMechanism, secondary bool) string {
	if a == nil || a.X509 == nil {
		return ""
	}
	return enroll.CertificateSummary(enroll.Slot(a.X509.SigningCertificates, secondary))
}

func caReference(a *model.AttestationMechanism, secondary bool) string {
	if a == nil || a.X509 == nil || a.X509.CAReferences == nil {
		return ""
	}
	if secondary {
		return a.X509.CAReferences.Secondary
	}
	return a.X509.CAReferences.Primary
}
