package enrollfile

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// FromEnrollment returns the record of an enrollment, for export. keys, when
// not nil, are the symmetric keys read through the attestation mechanism;
// without them the key columns stay empty. X.509 certificates, which the
// service never returns, are written as sha256:<thumbprint> references.
func FromEnrollment(e *model.IndividualEnrollment, keys *model.SymmetricKeyAttestation) *Record {
	return FromEntity(e, keys)
}

// FromEntity is FromEnrollment for an enrollment or an enrollment group
// (whose signing certificates go to the certificate columns).
func FromEntity(ent model.Enrollable, keys *model.SymmetricKeyAttestation) *Record {
	r := &Record{}
	set := func(c Column, s string) { r.Values[c] = s }
	set(RegistrationID, ent.ID())
	e := ent.Common()
	if a := e.Attestation; a != nil {
		set(Attestation, a.Type)
		switch a.Type {
		case model.AttestationTPM:
			if a.TPM != nil {
				set(EndorsementKey, a.TPM.EndorsementKey)
			}
		case model.AttestationX509:
			if a.X509 != nil {
				if cs := *ent.Kind().Certificates(a.X509); cs != nil {
					set(Certificate, certificateRef(cs.Primary))
					set(SecondaryCertificate, certificateRef(cs.Secondary))
				}
			}
		case model.AttestationSymmetricKey:
			if keys != nil {
				set(PrimaryKey, keys.PrimaryKey)
				set(SecondaryKey, keys.SecondaryKey)
			}
		}
	}
	if ind, ok := ent.(*model.IndividualEnrollment); ok {
		set(DeviceID, ind.DeviceID)
	}
	set(IoTHubs, strings.Join(e.IoTHubs, ";"))
	set(AllocationPolicy, e.AllocationPolicy)
	if d := e.CustomAllocationDefinition; d != nil {
		set(WebhookURL, d.WebhookURL)
		set(WebhookAPIVersion, d.APIVersion)
	}
	set(ProvisioningStatus, e.ProvisioningStatus)
	if e.ReprovisionPolicy != nil {
		set(ReprovisionPolicy, e.ReprovisionPolicy.Name())
	}
	if e.Capabilities != nil && e.Capabilities.IoTEdge {
		set(IoTEdge, "true")
	}
	if t := e.InitialTwin; t != nil {
		set(Tags, compactObject(t.Tags))
		if t.Properties != nil {
			set(DesiredProperties, compactObject(t.Properties.Desired))
		}
	}
	return r
}

func certificateRef(c *model.X509CertificateWithInfo) string {
	switch {
	case c == nil:
		return ""
	case c.Certificate != "":
		if cs, err := certs.ParseWireCertificate(c.Certificate); err == nil {
			return certs.EncodePEM(cs[0])
		}
		return c.Certificate
	case c.Info != nil && c.Info.SHA256Thumbprint != "":
		return ThumbprintPrefix + strings.ToUpper(c.Info.SHA256Thumbprint)
	}
	return ""
}

func compactObject(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return string(t)
	}
	return buf.String()
}
