package device

import (
	"context"
	"errors"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// Shared access signatures: individual symmetric-key enrollments and keys
// derived from an enrollment group's key.

// authSAS authenticates a SAS token: symmetric-key enrollments and groups,
// and TPM devices after their challenge. It does not read the body. For a
// register call (register true) a TPM device's attestation carries the
// challenge key, which acceptTPM checks against the body and consumes.
func (d *API) authSAS(ctx context.Context, req *deviceRequest, hdr string, register bool) (*attestation, error) {
	tok, err := d.parseDeviceToken(hdr, req)
	if err != nil {
		return nil, err
	}
	now := d.now()
	e, err := d.st.Enrollment(ctx, req.regID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if e != nil && e.Attestation != nil {
		var att *attestation
		var verr error
		switch e.Attestation.Type {
		case model.AttestationSymmetricKey:
			var keys [2]string
			if k := e.Attestation.SymmetricKey; k != nil {
				keys = [2]string{k.PrimaryKey, k.SecondaryKey}
			}
			var key string
			key, verr = httpapi.VerifyKeys(tok, now, keys[:]...)
			if verr == nil {
				att = &attestation{kind: model.AttestationSymmetricKey, authKey: key, hubKeys: keys}
			}
		case model.AttestationTPM:
			att, verr = d.verifyTPMToken(ctx, req, tok, e, register)
		default:
			return nil, httpapi.Denied("%s is enrolled with %s attestation but sent a SAS token", describeDevice(req.regID), e.Attestation.Type)
		}
		switch {
		case errors.Is(verr, sas.ErrExpired):
			return nil, expiredToken(req, tok)
		case verr != nil && !errors.Is(verr, sas.ErrSignature):
			return nil, verr
		case att != nil:
			att.enrollment = e
			att.disabled = e.ProvisioningStatus == model.StatusDisabled
			return att, nil
		case e.ProvisioningStatus != model.StatusDisabled:
			return nil, httpapi.Denied("the SAS token signature does not match the keys of %s", describeDevice(req.regID))
		}
		// A disabled individual enrollment: the device is disabled if a
		// group accepts it.
		ga, err := d.symmetricGroup(ctx, req, tok, now)
		if err != nil {
			if ae, ok := httpapi.AsError(err); !ok || ae.Code != model.ErrUnauthorized {
				return nil, err
			}
			return nil, httpapi.Denied("the SAS token signature does not match the keys of %s (disabled), nor of a group", describeDevice(req.regID))
		}
		ga.enrollment, ga.group, ga.disabled = e, nil, true
		return ga, nil
	}
	return d.symmetricGroup(ctx, req, tok, now)
}

// symmetricGroup finds the symmetric-key group whose derived key signed tok.
func (d *API) symmetricGroup(ctx context.Context, req *deviceRequest, tok *sas.Token, now time.Time) (*attestation, error) {
	for attempt := 0; attempt < 2; attempt++ {
		idx, err := d.creds.index(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		for _, g := range idx.sym {
			k := g.Attestation.SymmetricKey
			var keys [2]string
			for i, gk := range []string{k.PrimaryKey, k.SecondaryKey} {
				if gk == "" {
					continue
				}
				dk, err := sas.DeriveDeviceKey(gk, req.regID)
				if err == nil {
					keys[i] = dk
				}
			}
			key, verr := httpapi.VerifyKeys(tok, now, keys[:]...)
			if errors.Is(verr, sas.ErrExpired) {
				return nil, expiredToken(req, tok)
			}
			if verr == nil {
				return &attestation{
					kind: model.AttestationSymmetricKey, group: g, authKey: key, hubKeys: keys,
					disabled: g.ProvisioningStatus == model.StatusDisabled,
				}, nil
			}
		}
	}
	return nil, httpapi.Denied("the SAS token signature does not match any enrollment of %s", describeDevice(req.regID))
}
