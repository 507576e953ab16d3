package device

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// TPM attestation: the challenge (nonce sealed to the endorsement key) and
// the SAS token signed with the key the device activated. The challenge key
// is single use and short-lived (see device_auth.go).

// noTPMEnrollmentMessage is the message of the 404 a TPM challenge gets when
// the registration ID has no TPM enrollment with the endorsement key sent:
// the same whether the ID is unknown, enrolled with another attestation or
// with another endorsement key.
const noTPMEnrollmentMessage = "Enrollment not found."

// noTPMEnrollment is that 404; the precise reason is kept for the log.
func noTPMEnrollment(format string, args ...any) *httpapi.Error {
	return &httpapi.Error{Code: model.ErrEnrollmentNotFound, Msg: noTPMEnrollmentMessage, Detail: fmt.Sprintf(format, args...)}
}

// verifyTPMToken checks a TPM device's token against the key of its last
// challenge, without consuming it. For a register call (register true) the
// attestation carries the key, which acceptTPM consumes.
func (d *API) verifyTPMToken(ctx context.Context, req *deviceRequest, tok *sas.Token, e *model.IndividualEnrollment, register bool) (*attestation, error) {
	if req.cred.NoTPM {
		return nil, ErrTPMNeedsHTTPS
	}
	ek, err := enrolledEK(e)
	if err != nil {
		return nil, err
	}
	now := d.now()
	key, err := d.st.TPMChallenge(ctx, req.regID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.Denied("%s has no pending TPM challenge (none issued, expired or already used)", describeDevice(req.regID))
	}
	if err != nil {
		return nil, err
	}
	k, verr := httpapi.VerifyKeys(tok, now, key)
	if verr != nil {
		return nil, verr
	}
	att := &attestation{kind: model.AttestationTPM, authKey: k, ek: ek.TPM2BPublic}
	if register {
		att.challenge = k
	}
	return att, nil
}

// acceptTPM completes a TPM device's register call once its token verified
// and its body was read: the endorsement key sent, if any, must be the
// enrolled one, and the storage root key is needed to wrap the hub key.
// Then the challenge is consumed; of two calls with the same token only
// one gets past this point.
func (d *API) acceptTPM(ctx context.Context, req *deviceRequest, att *attestation) error {
	e := att.enrollment
	ek, err := enrolledEK(e)
	if err != nil {
		return err
	}
	t := req.body.TPM
	if t != nil && t.EndorsementKey != "" {
		presented, err := tpm.DecodeEK(t.EndorsementKey)
		if err != nil || !presented.Equal(ek) {
			return httpapi.Denied("the endorsement key sent with the token does not match the one enrolled for %s", describeDevice(req.regID))
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
		return httpapi.BadRequest("tpm.storageRootKey is required")
	}
	if att.srk, err = base64.StdEncoding.DecodeString(srk); err != nil {
		return httpapi.BadRequest("tpm.storageRootKey is not valid base64")
	}
	now := d.now()
	err = d.write(ctx, func(tx *store.Tx) error { return tx.ConsumeTPMChallenge(req.regID, att.challenge, now) })
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Denied("the TPM challenge of %s was already used, replaced or expired", describeDevice(req.regID))
	}
	return err
}

// enrolledEK decodes the endorsement key of a TPM enrollment.
func enrolledEK(e *model.IndividualEnrollment) (*tpm.EK, error) {
	if e.Attestation == nil || e.Attestation.TPM == nil {
		return nil, httpapi.Denied("%s has no TPM enrollment", describeDevice(e.RegistrationID))
	}
	ek, err := tpm.DecodeEK(e.Attestation.TPM.EndorsementKey)
	if err != nil {
		return nil, httpapi.Denied("the endorsement key enrolled for %s is not usable: %v", describeDevice(e.RegistrationID), err)
	}
	return ek, nil
}

// tpmChallenge answers a TPM device's first call: 401 with an activation
// blob wrapping a fresh HMAC key, which is kept to verify the next call.
func (d *API) tpmChallenge(ctx context.Context, req *deviceRequest) (Response, error) {
	t := req.body.TPM
	if t.EndorsementKey == "" {
		return Response{}, httpapi.BadRequest("tpm.endorsementKey is required")
	}
	// What the request alone shows is checked before the enrollment is
	// looked up, so that the answer cannot depend on it.
	presented, err := tpm.DecodeEK(t.EndorsementKey)
	if err != nil {
		return Response{}, httpapi.Denied("%s: tpm.endorsementKey is not a valid endorsement key: %v", describeDevice(req.regID), err)
	}
	e, err := d.st.Enrollment(ctx, req.regID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Response{}, noTPMEnrollment("TPM challenge for %s: there is no individual enrollment", describeDevice(req.regID))
	case err != nil:
		return Response{}, err
	case e.Attestation == nil || e.Attestation.Type != model.AttestationTPM || e.Attestation.TPM == nil:
		kind := "no"
		if e.Attestation != nil {
			kind = e.Attestation.Type
		}
		return Response{}, noTPMEnrollment("TPM challenge for %s: it is enrolled with %s attestation", describeDevice(req.regID), kind)
	}
	enrolled, err := tpm.DecodeEK(e.Attestation.TPM.EndorsementKey)
	if err != nil {
		return Response{}, noTPMEnrollment("TPM challenge for %s: the enrolled endorsement key is not usable: %v", describeDevice(req.regID), err)
	}
	if !presented.Equal(enrolled) {
		return Response{}, noTPMEnrollment("TPM challenge for %s: the endorsement key sent is not the enrolled one", describeDevice(req.regID))
	}
	srkB64 := t.StorageRootKey
	if srkB64 == "" {
		srkB64 = e.Attestation.TPM.StorageRootKey
	}
	if srkB64 == "" {
		return Response{}, httpapi.BadRequest("tpm.storageRootKey is required")
	}
	srk, err := base64.StdEncoding.DecodeString(srkB64)
	if err != nil {
		return Response{}, httpapi.BadRequest("tpm.storageRootKey is not valid base64")
	}
	key := make([]byte, challengeKeyBytes)
	rand.Read(key)
	blob, err := tpm.NewActivationBlob(enrolled.TPM2BPublic, srk, key, nil, nil)
	if err != nil {
		return Response{}, httpapi.BadRequest("cannot wrap a key for this TPM: %v", err)
	}
	if err := d.st.PutTPMChallenge(ctx, req.regID, b64(key), d.now().Add(TPMChallengeTTL)); err != nil {
		return Response{}, err
	}
	resp, err := answer(http.StatusUnauthorized, model.TPMChallenge{
		Message:           "Activate the authentication key in the TPM and register again with a SAS token signed by it.",
		AuthenticationKey: b64(blob),
		KeyName:           model.DeviceKeyName,
	})
	resp.Challenge = true
	return resp, err
}
