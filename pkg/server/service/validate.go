package service

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
)

// generatedKeyBytes is the size of a service-generated symmetric key.
const generatedKeyBytes = 64

// validate checks and normalises an entity received from a client: enum
// spellings, defaults, attestation consistency, and the info of every
// uploaded certificate. The parts that depend on the stored entity are done
// by complete.
func validate(v model.Enrollable) error {
	e, _ := v.(*model.IndividualEnrollment) // nil for a group
	if e != nil {
		e.RegistrationState = nil // read-only
	}
	c := v.Common()
	if err := validateAttestation(c.Attestation, v.Kind() == model.KindGroup); err != nil {
		return err
	}
	if c.Capabilities == nil {
		c.Capabilities = &model.DeviceCapabilities{IoTEdge: false}
	}
	if c.ReprovisionPolicy == nil {
		c.ReprovisionPolicy = &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}
	}
	switch s := c.ProvisioningStatus; {
	case s == "":
		c.ProvisioningStatus = model.StatusEnabled
	case strings.EqualFold(s, model.StatusEnabled):
		c.ProvisioningStatus = model.StatusEnabled
	case strings.EqualFold(s, model.StatusDisabled):
		c.ProvisioningStatus = model.StatusDisabled
	default:
		return httpapi.BadRequest("provisioningStatus %q is not valid; use enabled or disabled", s)
	}
	if p := c.AllocationPolicy; p != "" {
		canon := ""
		for _, c := range []string{model.AllocationHashed, model.AllocationGeoLatency, model.AllocationStatic, model.AllocationCustom} {
			if strings.EqualFold(p, c) {
				canon = c
			}
		}
		if canon == "" {
			return httpapi.BadRequest("allocationPolicy %q is not valid; use hashed, geoLatency, static or custom", p)
		}
		c.AllocationPolicy = canon
	}
	if cad := c.CustomAllocationDefinition; cad != nil {
		if err := validateWebhook(cad); err != nil {
			return err
		}
	} else if c.AllocationPolicy == model.AllocationCustom {
		return httpapi.BadRequest("allocationPolicy custom requires customAllocationDefinition (webhookUrl and apiVersion)")
	}
	for i, hub := range c.IoTHubs {
		if strings.TrimSpace(hub) == "" || strings.ContainsAny(hub, " /\\") {
			return httpapi.BadRequest("iotHubs[%d] %q is not an IoT hub host name", i, hub)
		}
	}
	if t := c.InitialTwin; t != nil {
		if err := httpapi.ObjectField("initialTwin.tags", &t.Tags); err != nil {
			return err
		}
		if t.Properties != nil {
			if err := httpapi.ObjectField("initialTwin.properties.desired", &t.Properties.Desired); err != nil {
				return err
			}
		}
	}
	if e != nil {
		if err := httpapi.ObjectField("optionalDeviceInformation", &e.OptionalDeviceInformation); err != nil {
			return err
		}
		if e.DeviceID != "" {
			if err := validateDeviceID(e.DeviceID); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateWebhook(cad *model.CustomAllocationDefinition) error {
	u, err := url.Parse(cad.WebhookURL)
	if cad.WebhookURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return httpapi.BadRequest("customAllocationDefinition.webhookUrl %q is not an absolute http(s) URL", cad.WebhookURL)
	}
	if strings.TrimSpace(cad.APIVersion) == "" {
		return httpapi.BadRequest("customAllocationDefinition.apiVersion is required")
	}
	return nil
}

// validateDeviceID applies the IoT Hub device id rules.
func validateDeviceID(id string) error {
	if len(id) > model.MaxIDLength {
		return httpapi.BadRequest("deviceId is %d characters long; the limit is %d", len(id), model.MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.%_*?!(),:=@$'", c) >= 0
		if !ok {
			return httpapi.BadRequest("deviceId %q has the character %q, which IoT Hub does not allow", id, rune(c))
		}
	}
	return nil
}

func validateAttestation(a *model.AttestationMechanism, group bool) error {
	if a == nil {
		return httpapi.BadRequest("attestation is required")
	}
	switch {
	case strings.EqualFold(a.Type, model.AttestationTPM):
		a.Type = model.AttestationTPM
	case strings.EqualFold(a.Type, model.AttestationX509):
		a.Type = model.AttestationX509
	case strings.EqualFold(a.Type, model.AttestationSymmetricKey):
		a.Type = model.AttestationSymmetricKey
	case a.Type == "":
		return httpapi.BadRequest("attestation.type is required (tpm, x509 or symmetricKey)")
	default:
		return httpapi.BadRequest("attestation.type %q is not valid; use tpm, x509 or symmetricKey", a.Type)
	}
	if group && a.Type == model.AttestationTPM {
		return httpapi.BadRequest("attestation.type tpm is not supported for enrollment groups; use x509 or symmetricKey")
	}
	other := func(name string) error {
		return httpapi.BadRequest("attestation.type is %s but attestation.%s is set", a.Type, name)
	}
	switch a.Type {
	case model.AttestationTPM:
		if a.X509 != nil {
			return other("x509")
		}
		if a.SymmetricKey != nil {
			return other("symmetricKey")
		}
		if a.TPM == nil || a.TPM.EndorsementKey == "" {
			return httpapi.BadRequest("attestation.tpm.endorsementKey is required")
		}
		if _, err := base64.StdEncoding.DecodeString(a.TPM.EndorsementKey); err != nil {
			return httpapi.BadRequest("attestation.tpm.endorsementKey is not valid base64")
		}
		if a.TPM.StorageRootKey != "" {
			if _, err := base64.StdEncoding.DecodeString(a.TPM.StorageRootKey); err != nil {
				return httpapi.BadRequest("attestation.tpm.storageRootKey is not valid base64")
			}
		}
	case model.AttestationSymmetricKey:
		if a.X509 != nil {
			return other("x509")
		}
		if a.TPM != nil {
			return other("tpm")
		}
		if k := a.SymmetricKey; k != nil {
			if k.PrimaryKey != "" {
				if err := model.ValidateSymmetricKey(k.PrimaryKey); err != nil {
					return httpapi.BadRequest("attestation.symmetricKey.primaryKey: %v", err)
				}
			}
			if k.SecondaryKey != "" {
				if err := model.ValidateSymmetricKey(k.SecondaryKey); err != nil {
					return httpapi.BadRequest("attestation.symmetricKey.secondaryKey: %v", err)
				}
			}
		}
	case model.AttestationX509:
		if a.TPM != nil {
			return other("tpm")
		}
		if a.SymmetricKey != nil {
			return other("symmetricKey")
		}
		return validateX509(a.X509, group)
	}
	return nil
}

func validateX509(x *model.X509Attestation, group bool) error {
	if x == nil {
		return httpapi.BadRequest("attestation.x509 is required")
	}
	if group {
		if x.ClientCertificates != nil {
			return httpapi.BadRequest("attestation.x509.clientCertificates is for individual enrollments; enrollment groups take signingCertificates or caReferences")
		}
		switch {
		case x.SigningCertificates != nil && x.CAReferences != nil:
			return httpapi.BadRequest("attestation.x509: give either signingCertificates or caReferences, not both")
		case x.CAReferences != nil:
			if strings.TrimSpace(x.CAReferences.Primary) == "" {
				return httpapi.BadRequest("attestation.x509.caReferences.primary is required")
			}
			return nil
		case x.SigningCertificates == nil:
			return httpapi.BadRequest("attestation.x509 needs signingCertificates or caReferences")
		}
	} else {
		if x.SigningCertificates != nil || x.CAReferences != nil {
			return httpapi.BadRequest("attestation.x509 of an individual enrollment takes clientCertificates, not signingCertificates or caReferences")
		}
		if x.ClientCertificates == nil {
			return httpapi.BadRequest("attestation.x509.clientCertificates is required")
		}
	}
	for _, s := range httpapi.CertSlots(x) {
		c := *s.Cert
		if c == nil {
			if s.Primary {
				return httpapi.BadRequest("%s is required", s.Path)
			}
			continue
		}
		if strings.TrimSpace(c.Certificate) == "" {
			if c.Info == nil {
				return httpapi.BadRequest("%s.certificate is required", s.Path)
			}
			continue // complete() carries the stored certificate over
		}
		chain, err := certs.ParseWireCertificate(c.Certificate)
		if err != nil {
			return httpapi.BadRequest("%s.certificate is not a PEM, base64 DER or base64 PEM X.509 certificate: %v", s.Path, err)
		}
		parsed := chain[0]
		info := certs.Info(parsed)
		c.Certificate = certs.EncodePEM(parsed)
		c.Info = &info
	}
	return nil
}

// complete finishes an entity for storage, given the shared members c of
// it and old of the stored one (nil when it is new): keys the client left
// out are kept from the stored entity or generated, certificates sent back
// with their info only are carried over, and the etag and timestamps are
// set.
func complete(c, old *model.EnrollmentCommon, now time.Time) error {
	a := c.Attestation
	var oldAtt *model.AttestationMechanism
	if old != nil {
		oldAtt = old.Attestation
	}
	switch a.Type {
	case model.AttestationSymmetricKey:
		if a.SymmetricKey == nil {
			a.SymmetricKey = &model.SymmetricKeyAttestation{}
		}
		var oldKeys *model.SymmetricKeyAttestation
		if oldAtt != nil && oldAtt.Type == model.AttestationSymmetricKey {
			oldKeys = oldAtt.SymmetricKey
		}
		fill := func(k *string, oldKey func(*model.SymmetricKeyAttestation) string) {
			if *k != "" {
				return
			}
			if oldKeys != nil && oldKey(oldKeys) != "" {
				*k = oldKey(oldKeys)
				return
			}
			*k = httpapi.RandomKey(generatedKeyBytes)
		}
		fill(&a.SymmetricKey.PrimaryKey, func(o *model.SymmetricKeyAttestation) string { return o.PrimaryKey })
		fill(&a.SymmetricKey.SecondaryKey, func(o *model.SymmetricKeyAttestation) string { return o.SecondaryKey })
	case model.AttestationX509:
		var oldSlots map[string]*model.X509CertificateWithInfo
		if oldAtt != nil && oldAtt.X509 != nil {
			oldSlots = map[string]*model.X509CertificateWithInfo{}
			for _, s := range httpapi.CertSlots(oldAtt.X509) {
				oldSlots[s.Path] = *s.Cert
			}
		}
		for _, s := range httpapi.CertSlots(a.X509) {
			cert := *s.Cert
			if cert == nil || cert.Certificate != "" {
				continue
			}
			prev := oldSlots[s.Path]
			if prev == nil || prev.Certificate == "" || prev.Info == nil || cert.Info == nil ||
				!strings.EqualFold(prev.Info.SHA256Thumbprint, cert.Info.SHA256Thumbprint) {
				return httpapi.BadRequest("%s.certificate is required (the info given does not match the stored certificate)", s.Path)
			}
			*s.Cert = &model.X509CertificateWithInfo{Certificate: prev.Certificate, Info: prev.Info}
		}
	}
	ts := model.FormatTime(now)
	c.ETag = httpapi.NewETag()
	c.CreatedDateTimeUTC = ts
	if old != nil && old.CreatedDateTimeUTC != "" {
		c.CreatedDateTimeUTC = old.CreatedDateTimeUTC
	}
	c.LastUpdatedDateTimeUTC = ts
	return nil
}

// needsStored reports whether complete needs the stored entity to finish
// the one with shared members c: an X.509 certificate sent back with its
// info only is taken from it. Anything else a new entity gets without one.
func needsStored(c *model.EnrollmentCommon) bool {
	a := c.Attestation
	if a == nil || a.X509 == nil {
		return false
	}
	for _, s := range httpapi.CertSlots(a.X509) {
		if c := *s.Cert; c != nil && c.Certificate == "" {
			return true
		}
	}
	return false
}

// describe names an entity for messages.
func describe(kind, id string) string { return fmt.Sprintf("%s %q", kind, id) }
