package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/store"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// TPM attestation: the challenge (nonce sealed to the endorsement key) and
// the SAS token signed with the key the device activated.

// verifyTPMToken checks a TPM device's token against the key of its last
// challenge.
func (d *deviceAPI) verifyTPMToken(ctx context.Context, req *deviceRequest, tok *sas.Token, e *model.IndividualEnrollment, register bool) (*attestation, error) {
	ek, err := enrolledEK(e)
	if err != nil {
		return nil, err
	}
	key, err := d.h.st.TPMChallenge(ctx, req.regID, d.h.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("%s has no pending TPM challenge; register again without an Authorization header", describeDevice(req.regID))
	}
	if err != nil {
		return nil, err
	}
	k, verr := verifyKeys(tok, d.h.now(), key)
	if verr != nil {
		return nil, verr
	}
	att := &attestation{kind: model.AttestationTPM, authKey: k, ek: ek.TPM2BPublic}
	if !register {
		return att, nil
	}
	t := req.body.TPM
	if t != nil && t.EndorsementKey != "" {
		presented, err := tpm.DecodeEK(t.EndorsementKey)
		if err != nil || !presented.Equal(ek) {
			return nil, unauthorized("the endorsement key does not match the one enrolled for %s", describeDevice(req.regID))
		}
	}
	srk := ""
	if t != nil {
		srk = t.StorageRootKey
	}
	if srk == "" {
		srk = e.Attestation.TPM.StorageRootKey
	}
	if srk == "" {
		return nil, badRequest("tpm.storageRootKey is required")
	}
	if att.srk, err = base64.StdEncoding.DecodeString(srk); err != nil {
		return nil, badRequest("tpm.storageRootKey is not valid base64")
	}
	return att, nil
}

func enrolledEK(e *model.IndividualEnrollment) (*tpm.EK, error) {
	if e.Attestation == nil || e.Attestation.TPM == nil {
		return nil, errorf(model.ErrEnrollmentNotFound, "%s has no TPM enrollment", describeDevice(e.RegistrationID))
	}
	ek, err := tpm.DecodeEK(e.Attestation.TPM.EndorsementKey)
	if err != nil {
		return nil, unauthorized("the endorsement key enrolled for %s is not usable: %v", describeDevice(e.RegistrationID), err)
	}
	return ek, nil
}

// tpmChallenge answers a TPM device's first call: 401 with an activation
// blob wrapping a fresh HMAC key, which is kept to verify the next call.
func (d *deviceAPI) tpmChallenge(ctx context.Context, w http.ResponseWriter, req *deviceRequest) error {
	t := req.body.TPM
	if t.EndorsementKey == "" {
		return badRequest("tpm.endorsementKey is required")
	}
	e, err := d.h.st.Enrollment(ctx, req.regID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (e.Attestation == nil || e.Attestation.Type != model.AttestationTPM) {
		return errorf(model.ErrEnrollmentNotFound, "there is no TPM enrollment for %s", describeDevice(req.regID))
	}
	if err != nil {
		return err
	}
	enrolled, err := enrolledEK(e)
	if err != nil {
		return err
	}
	presented, err := tpm.DecodeEK(t.EndorsementKey)
	if err != nil {
		return unauthorized("tpm.endorsementKey is not a valid endorsement key: %v", err)
	}
	if !presented.Equal(enrolled) {
		return unauthorized("the endorsement key does not match the one enrolled for %s", describeDevice(req.regID))
	}
	srkB64 := t.StorageRootKey
	if srkB64 == "" {
		srkB64 = e.Attestation.TPM.StorageRootKey
	}
	if srkB64 == "" {
		return badRequest("tpm.storageRootKey is required")
	}
	srk, err := base64.StdEncoding.DecodeString(srkB64)
	if err != nil {
		return badRequest("tpm.storageRootKey is not valid base64")
	}
	key := make([]byte, challengeKeyBytes)
	rand.Read(key)
	blob, err := tpm.NewActivationBlob(enrolled.TPM2BPublic, srk, key, nil, nil)
	if err != nil {
		return badRequest("cannot wrap a key for this TPM: %v", err)
	}
	if err := d.h.st.PutTPMChallenge(ctx, req.regID, b64(key), d.h.now().Add(tpmChallengeTTL)); err != nil {
		return err
	}
	writeJSON(w, http.StatusUnauthorized, model.TPMChallenge{
		Message:           "Activate the authentication key in the TPM and register again with a SAS token signed by it.",
		AuthenticationKey: b64(blob),
		KeyName:           model.DeviceKeyName,
	})
	return nil
}
