package importer

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// Diff compares the enrollment an import wants with the one the service
// holds and returns the wire names of the fields that differ (none when
// they are the same enrollment). What the service fills in is ignored:
// etag, timestamps, registration state, certificate details; defaults
// compare equal to their absence (provisioningStatus enabled, reprovision
// policy reprovision-and-migrate, iotEdge false, empty twin objects).
// Symmetric keys are compared only when want gives them; haveKeys are the
// keys read through the attestation mechanism. Certificates are compared by
// SHA-256 thumbprint.
func Diff(want, have *model.IndividualEnrollment, haveKeys *model.SymmetricKeyAttestation) []string {
	return DiffEntity(want, have, haveKeys)
}

// DiffEntity is Diff for two enrollments or two enrollment groups (of the
// same kind: want's); a group's signing certificates are compared as an
// enrollment's client certificates are.
func DiffEntity(wantEntity, haveEntity model.Enrollable, haveKeys *model.SymmetricKeyAttestation) []string {
	var d []string
	add := func(name string, differs bool) {
		if differs {
			d = append(d, name)
		}
	}
	if w, ok := wantEntity.(*model.IndividualEnrollment); ok {
		h, _ := haveEntity.(*model.IndividualEnrollment)
		add("deviceId", h == nil || w.DeviceID != h.DeviceID)
	}
	kind := wantEntity.Kind()
	want, have := wantEntity.Common(), haveEntity.Common()
	d = append(d, diffAttestation(kind, want.Attestation, have.Attestation, haveKeys)...)
	add("iotHubs", !sameHubs(want.IoTHubs, have.IoTHubs))
	add("allocationPolicy", !strings.EqualFold(want.AllocationPolicy, have.AllocationPolicy))
	add("customAllocationDefinition", !sameCustom(want.CustomAllocationDefinition, have.CustomAllocationDefinition))
	add("provisioningStatus", !strings.EqualFold(orDefault(want.ProvisioningStatus, model.StatusEnabled), orDefault(have.ProvisioningStatus, model.StatusEnabled)))
	add("reprovisionPolicy", reprovision(want.ReprovisionPolicy) != reprovision(have.ReprovisionPolicy))
	add("capabilities.iotEdge", edge(want.Capabilities) != edge(have.Capabilities))
	wt, ht := twin(want.InitialTwin), twin(have.InitialTwin)
	add("initialTwin.tags", !sameObject(wt.Tags, ht.Tags))
	add("initialTwin.properties.desired", !sameObject(desired(wt), desired(ht)))
	return d
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func reprovision(p *model.ReprovisionPolicy) model.ReprovisionPolicy {
	if p == nil {
		return model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}
	}
	return *p
}

func edge(c *model.DeviceCapabilities) bool { return c != nil && c.IoTEdge }

func twin(t *model.InitialTwin) model.InitialTwin {
	if t == nil {
		return model.InitialTwin{}
	}
	return *t
}

func desired(t model.InitialTwin) json.RawMessage {
	if t.Properties == nil {
		return nil
	}
	return t.Properties.Desired
}

func sameHubs(a, b []string) bool {
	norm := func(hs []string) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = strings.ToLower(h)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

func sameCustom(a, b *model.CustomAllocationDefinition) bool {
	if a == nil || b == nil {
		return (a == nil) == (b == nil)
	}
	return a.WebhookURL == b.WebhookURL && a.APIVersion == b.APIVersion
}

// sameObject compares two JSON objects by value; absent, null and {} are
// the same.
func sameObject(a, b json.RawMessage) bool {
	va, vb := decodeObject(a), decodeObject(b)
	return reflect.DeepEqual(va, vb)
}

func decodeObject(raw json.RawMessage) any {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return map[string]any{}
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(t)
	}
	return v
}

func diffAttestation(kind model.EnrollmentKind, want, have *model.AttestationMechanism, haveKeys *model.SymmetricKeyAttestation) []string {
	if want == nil || have == nil {
		if (want == nil) != (have == nil) {
			return []string{"attestation"}
		}
		return nil
	}
	if !strings.EqualFold(want.Type, have.Type) {
		return []string{"attestation.type"}
	}
	var d []string
	switch want.Type {
	case model.AttestationTPM:
		var we, he string
		if want.TPM != nil {
			we = want.TPM.EndorsementKey
		}
		if have.TPM != nil {
			he = have.TPM.EndorsementKey
		}
		if !sameBase64(we, he) {
			d = append(d, "attestation.tpm.endorsementKey")
		}
	case model.AttestationX509:
		slot := "clientCertificates"
		if kind == model.KindGroup {
			slot = "signingCertificates"
		}
		wp, ws := certsOf(kind, want.X509)
		hp, hs := certsOf(kind, have.X509)
		if !strings.EqualFold(thumbprint(wp), thumbprint(hp)) {
			d = append(d, "attestation.x509."+slot+".primary")
		}
		if !strings.EqualFold(thumbprint(ws), thumbprint(hs)) {
			d = append(d, "attestation.x509."+slot+".secondary")
		}
	case model.AttestationSymmetricKey:
		if want.SymmetricKey == nil {
			break
		}
		var hk model.SymmetricKeyAttestation
		if haveKeys != nil {
			hk = *haveKeys
		}
		if k := want.SymmetricKey.PrimaryKey; k != "" && !sameBase64(k, hk.PrimaryKey) {
			d = append(d, "attestation.symmetricKey.primaryKey")
		}
		if k := want.SymmetricKey.SecondaryKey; k != "" && !sameBase64(k, hk.SecondaryKey) {
			d = append(d, "attestation.symmetricKey.secondaryKey")
		}
	}
	return d
}

func sameBase64(a, b string) bool {
	if a == b {
		return true
	}
	da, errA := base64.StdEncoding.DecodeString(a)
	db, errB := base64.StdEncoding.DecodeString(b)
	return errA == nil && errB == nil && bytes.Equal(da, db)
}

func clientCerts(x *model.X509Attestation) (primary, secondary *model.X509CertificateWithInfo) {
	return certsOf(model.KindEnrollment, x)
}

// certsOf returns the certificates of the kind's slot: the client
// certificates of an enrollment, the signing certificates of a group.
func certsOf(kind model.EnrollmentKind, x *model.X509Attestation) (primary, secondary *model.X509CertificateWithInfo) {
	if x == nil {
		return nil, nil
	}
	cs := *kind.Certificates(x)
	if cs == nil {
		return nil, nil
	}
	return cs.Primary, cs.Secondary
}

// thumbprint returns the SHA-256 thumbprint of a certificate slot: from the
// certificate when it is there, from its details otherwise.
func thumbprint(c *model.X509CertificateWithInfo) string {
	if c == nil {
		return ""
	}
	if c.Certificate != "" {
		if cs, err := certs.ParseWireCertificate(c.Certificate); err == nil {
			return certs.Thumbprint(cs[0], crypto.SHA256)
		}
		return "unparsable:" + c.Certificate
	}
	if c.Info != nil {
		return c.Info.SHA256Thumbprint
	}
	return ""
}
