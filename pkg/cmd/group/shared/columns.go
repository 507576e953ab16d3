// Package shared holds what the enrollment group verbs share: table columns,
// ID completion, the create/update flag bundle and --from-file parsing.
package shared

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

type group = model.EnrollmentGroup

// Columns are the list columns of an enrollment group.
var Columns = []output.Column[group]{
	{Header: "GROUP ID", Value: func(g group) string { return g.EnrollmentGroupID }},
	{Header: "ATTESTATION", Value: func(g group) string { return AttestationType(g.Attestation) }},
	{Header: "STATUS", Value: func(g group) string { return g.ProvisioningStatus }},
	{Header: "ALLOCATION", Value: func(g group) string { return g.AllocationPolicy }},
	{Header: "IOT HUBS", Value: func(g group) string { return strings.Join(g.IoTHubs, ",") }},
	{Header: "LAST UPDATED", Value: func(g group) string { return Time(g.LastUpdatedDateTimeUTC) }},
}

// DetailColumns are the fields "group show" prints in table form.
var DetailColumns = []output.Column[group]{
	Columns[0],
	{Header: "ATTESTATION", Value: func(g group) string { return AttestationSummary(g.Attestation) }},
	{Header: "SIGNING CERTIFICATE", Value: func(g group) string { return signingCert(g.Attestation, false) }},
	{Header: "SECONDARY SIGNING CERTIFICATE", Value: func(g group) string { return signingCert(g.Attestation, true) }},
	{Header: "CA REFERENCE", Value: func(g group) string { return caReference(g.Attestation, false) }},
	{Header: "SECONDARY CA REFERENCE", Value: func(g group) string { return caReference(g.Attestation, true) }},
	{Header: "PRIMARY KEY", Secret: true, Value: func(g group) string { return key(g.Attestation, false) }},
	{Header: "SECONDARY KEY", Secret: true, Value: func(g group) string { return key(g.Attestation, true) }},
	Columns[2],
	Columns[3],
	Columns[4],
	{Header: "WEBHOOK", Value: func(g group) string {
		if d := g.CustomAllocationDefinition; d != nil {
			return d.WebhookURL + " (api-version " + d.APIVersion + ")"
		}
		return ""
	}},
	{Header: "REPROVISION", Value: func(g group) string { return g.ReprovisionPolicy.Name() }},
	{Header: "EDGE", Value: func(g group) string {
		if g.Capabilities != nil && g.Capabilities.IoTEdge {
			return "true"
		}
		return "false"
	}},
	{Header: "TWIN TAGS", Value: func(g group) string {
		if g.InitialTwin != nil {
			return string(g.InitialTwin.Tags)
		}
		return ""
	}},
	{Header: "TWIN DESIRED", Value: func(g group) string {
		if g.InitialTwin != nil && g.InitialTwin.Properties != nil {
			return string(g.InitialTwin.Properties.Desired)
		}
		return ""
	}},
	{Header: "ETAG", Value: func(g group) string { return g.ETag }},
	{Header: "CREATED", Value: func(g group) string { return Time(g.CreatedDateTimeUTC) }},
	Columns[5],
}

type mechanism = model.AttestationMechanism

// AttestationColumns are the table columns of a group's attestation
// mechanism.
var AttestationColumns = []output.Column[mechanism]{
	{Header: "TYPE", Value: func(a mechanism) string { return AttestationSummary(&a) }},
	{Header: "SIGNING CERTIFICATE", Value: func(a mechanism) string { return signingCert(&a, false) }},
	{Header: "SECONDARY SIGNING CERTIFICATE", Value: func(a mechanism) string { return signingCert(&a, true) }},
	{Header: "CA REFERENCE", Value: func(a mechanism) string { return caReference(&a, false) }},
	{Header: "SECONDARY CA REFERENCE", Value: func(a mechanism) string { return caReference(&a, true) }},
	{Header: "PRIMARY KEY", Secret: true, Value: func(a mechanism) string { return key(&a, false) }},
	{Header: "SECONDARY KEY", Secret: true, Value: func(a mechanism) string { return key(&a, true) }},
}

// AttestationType returns the wire attestation type, "" when absent.
func AttestationType(a *model.AttestationMechanism) string {
	if a == nil {
		return ""
	}
	return a.Type
}

// AttestationSummary names the attestation of a group: its wire type, and
// for x509 whether the group holds signing certificates or references CA
// certificates of the service.
func AttestationSummary(a *model.AttestationMechanism) string {
	t := AttestationType(a)
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
	if a == nil || a.X509 == nil || a.X509.SigningCertificates == nil {
		return ""
	}
	c := a.X509.SigningCertificates.Primary
	if secondary {
		c = a.X509.SigningCertificates.Secondary
	}
	if c == nil || c.Info == nil {
		return ""
	}
	return c.Info.SubjectName + " (SHA-256 " + c.Info.SHA256Thumbprint + ", expires " + Time(c.Info.NotAfterUTC) + ")"
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

func key(a *model.AttestationMechanism, secondary bool) string {
	if a == nil || a.SymmetricKey == nil {
		return ""
	}
	if secondary {
		return a.SymmetricKey.SecondaryKey
	}
	return a.SymmetricKey.PrimaryKey
}

// Time shortens a service timestamp to RFC 3339 in whole seconds; text that
// does not parse is returned as is.
func Time(s string) string { return cmdutil.Timestamp(s) }
