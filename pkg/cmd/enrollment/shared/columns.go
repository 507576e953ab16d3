// Package shared holds what the enrollment verbs share: table columns,
// ID completion, the create/update flag bundle and --from-file parsing.
package shared

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

type enrollment = model.IndividualEnrollment

// Columns are the list columns of an individual enrollment.
var Columns = []output.Column[enrollment]{
	{Header: "REGISTRATION ID", Value: func(e enrollment) string { return e.RegistrationID }},
	{Header: "ATTESTATION", Value: func(e enrollment) string { return AttestationType(e.Attestation) }},
	{Header: "DEVICE ID", Value: func(e enrollment) string { return e.DeviceID }},
	{Header: "STATUS", Value: func(e enrollment) string { return e.ProvisioningStatus }},
	{Header: "ALLOCATION", Value: func(e enrollment) string { return e.AllocationPolicy }},
	{Header: "IOT HUBS", Value: func(e enrollment) string { return strings.Join(e.IoTHubs, ",") }},
	{Header: "REGISTRATION", Value: func(e enrollment) string {
		if e.RegistrationState == nil {
			return ""
		}
		return e.RegistrationState.Status
	}},
	{Header: "LAST UPDATED", Value: func(e enrollment) string { return Time(e.LastUpdatedDateTimeUTC) }},
}

// DetailColumns are the fields "enrollment show" prints in table form.
var DetailColumns = []output.Column[enrollment]{
	Columns[0],
	Columns[2],
	Columns[1],
	{Header: "ENDORSEMENT KEY", Value: func(e enrollment) string {
		if a := e.Attestation; a != nil && a.TPM != nil {
			return a.TPM.EndorsementKey
		}
		return ""
	}},
	{Header: "CERTIFICATE", Value: func(e enrollment) string { return certSummary(e.Attestation, false) }},
	{Header: "SECONDARY CERTIFICATE", Value: func(e enrollment) string { return certSummary(e.Attestation, true) }},
	{Header: "PRIMARY KEY", Secret: true, Value: func(e enrollment) string {
		if a := e.Attestation; a != nil && a.SymmetricKey != nil {
			return a.SymmetricKey.PrimaryKey
		}
		return ""
	}},
	{Header: "SECONDARY KEY", Secret: true, Value: func(e enrollment) string {
		if a := e.Attestation; a != nil && a.SymmetricKey != nil {
			return a.SymmetricKey.SecondaryKey
		}
		return ""
	}},
	Columns[3],
	Columns[4],
	Columns[5],
	{Header: "WEBHOOK", Value: func(e enrollment) string {
		if d := e.CustomAllocationDefinition; d != nil {
			return d.WebhookURL + " (api-version " + d.APIVersion + ")"
		}
		return ""
	}},
	{Header: "REPROVISION", Value: func(e enrollment) string { return e.ReprovisionPolicy.Name() }},
	{Header: "EDGE", Value: func(e enrollment) string {
		if e.Capabilities != nil && e.Capabilities.IoTEdge {
			return "true"
		}
		return "false"
	}},
	{Header: "TWIN TAGS", Value: func(e enrollment) string {
		if e.InitialTwin != nil {
			return string(e.InitialTwin.Tags)
		}
		return ""
	}},
	{Header: "TWIN DESIRED", Value: func(e enrollment) string {
		if e.InitialTwin != nil && e.InitialTwin.Properties != nil {
			return string(e.InitialTwin.Properties.Desired)
		}
		return ""
	}},
	Columns[6],
	{Header: "ASSIGNED HUB", Value: func(e enrollment) string {
		if e.RegistrationState == nil {
			return ""
		}
		return e.RegistrationState.AssignedHub
	}},
	{Header: "ETAG", Value: func(e enrollment) string { return e.ETag }},
	{Header: "CREATED", Value: func(e enrollment) string { return Time(e.CreatedDateTimeUTC) }},
	Columns[7],
}

// AttestationColumns are the table columns of an attestation mechanism.
var AttestationColumns = []output.Column[model.AttestationMechanism]{
	{Header: "TYPE", Value: func(a model.AttestationMechanism) string { return a.Type }},
	{Header: "ENDORSEMENT KEY", Value: func(a model.AttestationMechanism) string {
		if a.TPM != nil {
			return a.TPM.EndorsementKey
		}
		return ""
	}},
	{Header: "CERTIFICATE", Value: func(a model.AttestationMechanism) string { return certSummary(&a, false) }},
	{Header: "SECONDARY CERTIFICATE", Value: func(a model.AttestationMechanism) string { return certSummary(&a, true) }},
	{Header: "PRIMARY KEY", Secret: true, Value: func(a model.AttestationMechanism) string {
		if a.SymmetricKey != nil {
			return a.SymmetricKey.PrimaryKey
		}
		return ""
	}},
	{Header: "SECONDARY KEY", Secret: true, Value: func(a model.AttestationMechanism) string {
		if a.SymmetricKey != nil {
			return a.SymmetricKey.SecondaryKey
		}
		return ""
	}},
}

// AttestationType returns the wire attestation type, "" when absent.
func AttestationType(a *model.AttestationMechanism) string {
	if a == nil {
		return ""
	}
	return a.Type
}

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
	c := certs.Primary
	if secondary {
		c = certs.Secondary
	}
	if c == nil || c.Info == nil {
		return ""
	}
	return c.Info.SubjectName + " (SHA-256 " + c.Info.SHA256Thumbprint + ", expires " + Time(c.Info.NotAfterUTC) + ")"
}

// Time shortens a service timestamp to RFC 3339 in whole seconds; text that
// does not parse is returned as is.
func Time(s string) string { return cmdutil.Timestamp(s) }
