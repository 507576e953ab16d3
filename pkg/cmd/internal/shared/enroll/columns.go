package enroll

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

// The columns below read the shared fields of a row of type T through
// common, which returns them by value (for a row e, e.EnrollmentCommon):
// the row then stays on the stack, and listings print many rows.

// TypeColumn is the ATTESTATION column: the wire attestation type.
func TypeColumn[T any](common func(T) model.EnrollmentCommon) output.Column[T] {
	return output.Column[T]{Header: "ATTESTATION", Value: func(e T) string { return AttestationType(common(e).Attestation) }}
}

// AssignmentColumns are STATUS, ALLOCATION and IOT HUBS.
func AssignmentColumns[T any](common func(T) model.EnrollmentCommon) []output.Column[T] {
	return []output.Column[T]{
		{Header: "STATUS", Value: func(e T) string { return common(e).ProvisioningStatus }},
		{Header: "ALLOCATION", Value: func(e T) string { return common(e).AllocationPolicy }},
		{Header: "IOT HUBS", Value: func(e T) string { return strings.Join(common(e).IoTHubs, ",") }},
	}
}

// SettingColumns are WEBHOOK, REPROVISION, EDGE, TWIN TAGS and TWIN
// DESIRED.
func SettingColumns[T any](common func(T) model.EnrollmentCommon) []output.Column[T] {
	return []output.Column[T]{
		{Header: "WEBHOOK", Value: func(e T) string {
			if d := common(e).CustomAllocationDefinition; d != nil {
				return d.WebhookURL + " (api-version " + d.APIVersion + ")"
			}
			return ""
		}},
		{Header: "REPROVISION", Value: func(e T) string { return common(e).ReprovisionPolicy.Name() }},
		{Header: "EDGE", Value: func(e T) string {
			if c := common(e).Capabilities; c != nil && c.IoTEdge {
				return "true"
			}
			return "false"
		}},
		{Header: "TWIN TAGS", Value: func(e T) string {
			if t := common(e).InitialTwin; t != nil {
				return string(t.Tags)
			}
			return ""
		}},
		{Header: "TWIN DESIRED", Value: func(e T) string {
			if t := common(e).InitialTwin; t != nil && t.Properties != nil {
				return string(t.Properties.Desired)
			}
			return ""
		}},
	}
}

// VersionColumns are ETAG and CREATED.
func VersionColumns[T any](common func(T) model.EnrollmentCommon) []output.Column[T] {
	return []output.Column[T]{
		{Header: "ETAG", Value: func(e T) string { return common(e).ETag }},
		{Header: "CREATED", Value: func(e T) string { return cmdutil.Timestamp(common(e).CreatedDateTimeUTC) }},
	}
}

// LastUpdatedColumn is LAST UPDATED.
func LastUpdatedColumn[T any](common func(T) model.EnrollmentCommon) output.Column[T] {
	return output.Column[T]{Header: "LAST UPDATED", Value: func(e T) string { return cmdutil.Timestamp(common(e).LastUpdatedDateTimeUTC) }}
}

// KeyColumns are PRIMARY KEY and SECONDARY KEY, secret, of the attestation
// mechanism of a row.
func KeyColumns[T any](mechanism func(T) *model.AttestationMechanism) []output.Column[T] {
	key := func(v T, secondary bool) string {
		a := mechanism(v)
		if a == nil || a.SymmetricKey == nil {
			return ""
		}
		if secondary {
			return a.SymmetricKey.SecondaryKey
		}
		return a.SymmetricKey.PrimaryKey
	}
	return []output.Column[T]{
		{Header: "PRIMARY KEY", Secret: true, Value: func(v T) string { return key(v, false) }},
		{Header: "SECONDARY KEY", Secret: true, Value: func(v T) string { return key(v, true) }},
	}
}

// CertificateSummary describes a certificate the service holds by its
// details: subject, SHA-256 thumbprint and expiry; "" without details.
func CertificateSummary(c *model.X509CertificateWithInfo) string {
	if c == nil || c.Info == nil {
		return ""
	}
	return c.Info.SubjectName + " (SHA-256 " + c.Info.SHA256Thumbprint + ", expires " + cmdutil.Timestamp(c.Info.NotAfterUTC) + ")"
}

// Slot returns the primary or the secondary certificate of certs.
func Slot(certs *model.X509Certificates, secondary bool) *model.X509CertificateWithInfo {
	switch {
	case certs == nil:
		return nil
	case secondary:
		return certs.Secondary
	}
	return certs.Primary
}
