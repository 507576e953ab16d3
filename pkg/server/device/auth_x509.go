package device

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// X.509 attestation over mutual TLS: individual enrollments by certificate,
// enrollment groups by signing certificate or verified CA. The device's
// certificate (the first one sent, whose key the TLS handshake proved) is
// never a CA certificate.

// authX509 authenticates the TLS client certificate chain.
func (d *API) authX509(ctx context.Context, req *deviceRequest, chain []*x509.Certificate) (*attestation, error) {
	leaf := chain[0]
	now := d.now()
	who := describeDevice(req.regID)
	if !strings.EqualFold(leaf.Subject.CommonName, req.regID) {
		return nil, invalidCertificate(who + ": the certificate's CN " + quote(leaf.Subject.CommonName) + " is not the registration ID")
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return nil, invalidCertificate(who + ": the device certificate is a CA certificate (basicConstraints CA:TRUE)")
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, invalidCertificate(who + ": the certificate is not valid at this time (valid " + leaf.NotBefore.UTC().Format(time.RFC3339) + " to " + leaf.NotAfter.UTC().Format(time.RFC3339) + ")")
	}
	thumb := certs.Thumbprint(leaf, crypto.SHA256)
	e, err := d.st.Enrollment(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if e != nil && e.Attestation != nil {
		reason := ""
		if e.Attestation.Type != model.AttestationX509 || e.Attestation.X509 == nil || e.Attestation.X509.ClientCertificates == nil {
			reason = who + " is enrolled with " + e.Attestation.Type + " attestation"
		} else {
			cc := e.Attestation.X509.ClientCertificates
			var enrolled *x509.Certificate
			for _, c := range []*model.X509CertificateWithInfo{cc.Primary, cc.Secondary} {
				if c != nil && c.Info != nil && strings.EqualFold(c.Info.SHA256Thumbprint, thumb) {
					enrolled = leaf
				}
			}
			if enrolled == nil {
				reason = "the certificate's thumbprint matches neither certificate enrolled for " + who
			} else if ps := certs.Verify(leaf, certs.VerifyOptions{Intermediates: chain[1:], Roots: []*x509.Certificate{leaf}, RegistrationID: req.regID, At: now}); len(ps) > 0 {
				return nil, invalidCertificate(who + ": " + certs.Error(ps).Error())
			} else {
				return &attestation{
					kind: model.AttestationX509, enrollment: e, leaf: leaf, thumbprint: thumb,
					disabled: e.ProvisioningStatus == model.StatusDisabled,
				}, nil
			}
		}
		if e.ProvisioningStatus != model.StatusDisabled {
			return nil, invalidCertificate(reason)
		}
		ga, err := d.x509Group(ctx, req, chain, thumb, now)
		if err != nil {
			if ae, ok := httpapi.AsError(err); !ok || ae.Code != model.ErrUnauthorized {
				return nil, err
			}
			return nil, invalidCertificate(reason + " (disabled), and " + httpapi.LogDetail(err))
		}
		ga.enrollment, ga.group, ga.disabled = e, nil, true
		return ga, nil
	}
	return d.x509Group(ctx, req, chain, thumb, now)
}

// x509Group finds the group that decides for the chain (see
// groupIndex.match) and checks the verified path to it under the
// service's rules.
func (d *API) x509Group(ctx context.Context, req *deviceRequest, chain []*x509.Certificate, thumb string, now time.Time) (*attestation, error) {
	leaf := chain[0]
	var (
		anchor *x509Anchor
		path   []*x509.Certificate
		merr   error
	)
	for attempt := 0; attempt < 2 && anchor == nil; attempt++ {
		idx, err := d.creds.index(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		anchor, path, merr = idx.match(chain, now)
	}
	if anchor == nil {
		return nil, invalidCertificate("the certificate chain of " + describeDevice(req.regID) + " does not verify to an enrollment group's certificate, and there is no individual enrollment for it: " + merr.Error())
	}
	ps := certs.Verify(leaf, certs.VerifyOptions{Intermediates: path[1 : len(path)-1], Roots: []*x509.Certificate{anchor.cert}, RegistrationID: req.regID, At: now})
	if len(ps) > 0 {
		return nil, invalidCertificate(describeDevice(req.regID) + " (enrollment group " + quote(anchor.group.EnrollmentGroupID) + "): " + certs.Error(ps).Error())
	}
	return &attestation{
		kind: model.AttestationX509, group: anchor.group, leaf: leaf, thumbprint: thumb, signing: anchor.cert,
		disabled: anchor.group.ProvisioningStatus == model.StatusDisabled,
	}, nil
}
