package httpapi

import (
	"bytes"
	"encoding/json"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// What the service and device APIs do alike to the entities they read and
// answer with.

// ObjectField requires a free-form JSON member to be an object; JSON null
// is treated as absent.
func ObjectField(name string, raw *json.RawMessage) error {
	t := bytes.TrimSpace(*raw)
	switch {
	case len(t) == 0 || string(t) == "null":
		*raw = nil
	case t[0] != '{':
		return BadRequest("%s must be a JSON object", name)
	}
	return nil
}

// CertSlot is one certificate position of an X.509 attestation.
type CertSlot struct {
	Path    string // as the wire names it, for messages
	Primary bool
	Cert    **model.X509CertificateWithInfo
}

// CertSlots lists the certificate positions of x.
func CertSlots(x *model.X509Attestation) []CertSlot {
	var out []CertSlot
	add := func(name string, cs *model.X509Certificates) {
		if cs == nil {
			return
		}
		out = append(out,
			CertSlot{Path: "attestation.x509." + name + ".primary", Primary: true, Cert: &cs.Primary},
			CertSlot{Path: "attestation.x509." + name + ".secondary", Cert: &cs.Secondary})
	}
	add("clientCertificates", x.ClientCertificates)
	add("signingCertificates", x.SigningCertificates)
	return out
}

// StripSecrets removes what reads never show: symmetric keys and
// certificate bodies (their info stays).
func StripSecrets(a *model.AttestationMechanism) {
	if a == nil {
		return
	}
	a.SymmetricKey = nil
	StripCertificates(a)
}

// StripCertificates removes certificate bodies, which the service never
// returns.
func StripCertificates(a *model.AttestationMechanism) {
	if a == nil || a.X509 == nil {
		return
	}
	for _, s := range CertSlots(a.X509) {
		if c := *s.Cert; c != nil {
			c.Certificate = ""
		}
	}
}
