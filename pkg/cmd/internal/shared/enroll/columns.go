package enroll

import (
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

// Each Value below reads the row through Of within the function, so that
// the row stays on the stack: listings print many rows.

// TypeColumn is the ATTESTATION column: the wire attestation type.
func TypeColumn[E Entity]() output.Column[E] {
	return output.Column[E]{Header: "ATTESTATION", Value: func(e E) string { return AttestationType(*Of(&e).Attestation) }}
}

// AssignmentColumns are STATUS, ALLOCATION and IOT HUBS.
func AssignmentColumns[E Entity]() []output.Column[E] {
	return []output.Column[E]{
		{Header: "STATUS", Value: func(e E) string { return *Of(&e).ProvisioningStatus }},
		{Header: "ALLOCATION", Value: func(e E) string { return *Of(&e).AllocationPolicy }},
		{Header: "IOT HUBS", Value: func(e E) string { return strings.Join(*Of(&e).IoTHubs, ",") }},
	}
}

// SettingColumns are WEBHOOK, REPROVISION, EDGE, TWIN TAGS and TWIN
// DESIRED.
func SettingColumns[E Entity]() []output.Column[E] {
	return []output.Column[E]{
		{Header: "WEBHOOK", Value: func(e E) string {
			if d := *Of(&e).CustomAllocationDefinition; d != nil {
				return d.WebhookURL + " (api-version " + d.APIVersion + ")"
			}
			return ""
		}},
		{Header: "REPROVISION", Value: func(e E) string { return (*Of(&e).ReprovisionPolicy).Name() }},
		{Header: "EDGE", Value: func(e E) string {
			if c := *Of(&e).Capabilities; c != nil && c.IoTEdge {
				return "true"
			}
			return "false"
		}},
		{Header: "TWIN TAGS", Value: func(e E) string {
			if t := *Of(&e).InitialTwin; t != nil {
				return string(t.Tags)
			}
			return ""
		}},
		{Header: "TWIN DESIRED", Value: func(e E) string {
			if t := *Of(&e).InitialTwin; t != nil && t.Properties != nil {
				return string(t.Properties.Desired)
			}
			return ""
		}},
	}
}

// VersionColumns are ETAG and CREATED.
func VersionColumns[E Entity]() []output.Column[E] {
	return []output.Column[E]{
		{Header: "ETAG", Value: func(e E) string { return *Of(&e).ETag }},
		{Header: "CREATED", Value: func(e E) string { return cmdutil.Timestamp(*Of(&e).CreatedDateTimeUTC) }},
	}
}

// LastUpdatedColumn is LAST UPDATED.
func LastUpdatedColumn[E Entity]() output.Column[E] {
	return output.Column[E]{Header: "LAST UPDATED", Value: func(e E) string { return cmdutil.Timestamp(*Of(&e).LastUpdatedDateTimeUTC) }}
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
