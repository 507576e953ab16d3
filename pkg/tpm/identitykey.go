package tpm

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// SASKeyName is the skn of the device SAS token for TPM registration.
const SASKeyName = "registration"

// defaultInputBuffer is used when the TPM does not report
// TPM_PT_INPUT_BUFFER; every TPM 2.0 accepts at least this much.
const defaultInputBuffer = 1024

// ActivateIdentityKey imports the HMAC key carried by an activation blob
// and persists it at IdentityKeyHandle (0x81000100), replacing any key
// already there. The EK must be at EKHandle and the SRK at SRKHandle (see
// ReadIdentity). The sequence is the device SDKs': ActivateCredential (SRK
// as the activated object, EK authorised by PolicySecret(endorsement))
// recovers the inner wrapper key; Import under the SRK with it, Load, then
// EvictControl. The earlier key is evicted only once the new one has
// loaded, so a blob for another TPM leaves it in place.
func ActivateIdentityKey(t transport.TPM, blob []byte) error {
	b, err := ParseActivationBlob(blob)
	if err != nil {
		return err
	}
	ekName, err := readName(t, EKHandle, "endorsement key")
	if err != nil {
		return err
	}
	srkName, err := readName(t, SRKHandle, "storage root key")
	if err != nil {
		return err
	}
	srk := tpm2.AuthHandle{Handle: SRKHandle, Name: srkName, Auth: tpm2.PasswordAuth(nil)}

	ac, err := tpm2.ActivateCredential{
		ActivateHandle: srk,
		KeyHandle: tpm2.AuthHandle{
			Handle: EKHandle,
			Name:   ekName,
			Auth:   tpm2.Policy(tpm2.TPMAlgSHA256, 16, endorsementPolicy),
		},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: b.CredentialBlob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: b.EncryptedSecret},
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_ActivateCredential (is the blob for this TPM's EK and SRK?): %w", err)
	}
	innerKey := ac.CertInfo.Buffer
	switch len(innerKey) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("the activated credential is %d bytes, not an AES key", len(innerKey))
	}

	imp, err := tpm2.Import{
		ParentHandle:  srk,
		EncryptionKey: tpm2.TPM2BData{Buffer: innerKey},
		ObjectPublic:  tpm2.BytesAs2B[tpm2.TPMTPublic](b.Public),
		Duplicate:     tpm2.TPM2BPrivate{Buffer: b.Duplicate},
		InSymSeed:     tpm2.TPM2BEncryptedSecret{Buffer: b.EncryptedSeed},
		Symmetric: tpm2.TPMTSymDef{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(len(innerKey)*8)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
		},
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_Import of the identity key: %w", err)
	}
	ld, err := tpm2.Load{
		ParentHandle: srk,
		InPrivate:    imp.OutPrivate,
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](b.Public),
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_Load of the identity key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: ld.ObjectHandle}.Execute(t)

	owner := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	oldName, err := readName(t, IdentityKeyHandle, "identity key")
	switch {
	case err == nil:
		_, err = tpm2.EvictControl{
			Auth:             owner,
			ObjectHandle:     tpm2.NamedHandle{Handle: IdentityKeyHandle, Name: oldName},
			PersistentHandle: IdentityKeyHandle,
		}.Execute(t)
		if err != nil {
			return fmt.Errorf("evicting the earlier identity key at 0x%08x: %w", uint32(IdentityKeyHandle), err)
		}
	case !errors.Is(err, ErrNotPersisted):
		return err
	}
	_, err = tpm2.EvictControl{
		Auth:             owner,
		ObjectHandle:     tpm2.NamedHandle{Handle: ld.ObjectHandle, Name: ld.Name},
		PersistentHandle: IdentityKeyHandle,
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("persisting the identity key at 0x%08x: %w", uint32(IdentityKeyHandle), err)
	}
	return nil
}

// endorsementPolicy satisfies the EK's authPolicy, PolicySecret(TPM_RH_ENDORSEMENT),
// with the (empty) endorsement hierarchy password.
func endorsementPolicy(t transport.TPM, session tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
	_, err := tpm2.PolicySecret{
		AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		PolicySession: session,
		NonceTPM:      nonceTPM,
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_PolicySecret(endorsement): %w", err)
	}
	return nil
}

// readName returns the Name of the object at a persistent handle, or an
// error wrapping ErrNotPersisted.
func readName(t transport.TPM, handle tpm2.TPMHandle, what string) (tpm2.TPM2BName, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: handle}.Execute(t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return tpm2.TPM2BName{}, fmt.Errorf("%s at 0x%08x: %w", what, uint32(handle), ErrNotPersisted)
		}
		return tpm2.TPM2BName{}, fmt.Errorf("reading the %s at 0x%08x: %w", what, uint32(handle), err)
	}
	return rsp.Name, nil
}

// SignWithIdentityKey returns HMAC-SHA256 of data computed inside the TPM
// with the key at IdentityKeyHandle. Data larger than the TPM's input
// buffer (TPM_PT_INPUT_BUFFER) goes through an HMAC sequence.
func SignWithIdentityKey(t transport.TPM, data []byte) ([]byte, error) {
	name, err := readName(t, IdentityKeyHandle, "identity key")
	if err != nil {
		return nil, err
	}
	key := tpm2.AuthHandle{Handle: IdentityKeyHandle, Name: name, Auth: tpm2.PasswordAuth(nil)}
	chunk := inputBufferSize(t)
	if len(data) <= chunk {
		rsp, err := tpm2.Hmac{
			Handle:  key,
			Buffer:  tpm2.TPM2BMaxBuffer{Buffer: data},
			HashAlg: tpm2.TPMAlgSHA256,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_HMAC: %w", err)
		}
		return rsp.OutHMAC.Buffer, nil
	}

	start, err := tpm2.HmacStart{Handle: key, HashAlg: tpm2.TPMAlgSHA256}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_HMAC_Start: %w", err)
	}
	seq := tpm2.AuthHandle{Handle: start.SequenceHandle, Auth: tpm2.PasswordAuth(nil)}
	for len(data) > chunk {
		if _, err := (tpm2.SequenceUpdate{
			SequenceHandle: seq,
			Buffer:         tpm2.TPM2BMaxBuffer{Buffer: data[:chunk]},
		}).Execute(t); err != nil {
			tpm2.FlushContext{FlushHandle: start.SequenceHandle}.Execute(t)
			return nil, fmt.Errorf("TPM2_SequenceUpdate: %w", err)
		}
		data = data[chunk:]
	}
	done, err := tpm2.SequenceComplete{
		SequenceHandle: seq,
		Buffer:         tpm2.TPM2BMaxBuffer{Buffer: data},
		Hierarchy:      tpm2.TPMRHNull,
	}.Execute(t)
	if err != nil {
		tpm2.FlushContext{FlushHandle: start.SequenceHandle}.Execute(t)
		return nil, fmt.Errorf("TPM2_SequenceComplete: %w", err)
	}
	return done.Result.Buffer, nil
}

// inputBufferSize returns TPM_PT_INPUT_BUFFER, the largest TPM2B_MAX_BUFFER
// the TPM accepts.
func inputBufferSize(t transport.TPM) int {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTInputBuffer),
		PropertyCount: 1,
	}.Execute(t)
	if err != nil {
		return defaultInputBuffer
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return defaultInputBuffer
	}
	for _, p := range props.TPMProperty {
		if p.Property == tpm2.TPMPTInputBuffer && p.Value > 0 && p.Value <= 1<<16 {
			return int(p.Value)
		}
	}
	return defaultInputBuffer
}

// SASResource returns the sr of a device's registration SAS token:
// "{idScope}/registrations/{registrationId}" URL-encoded ("/" as "%2F"),
// the form the Node and C# SDKs sign.
func SASResource(idScope, registrationID string) string {
	return strings.ReplaceAll(url.QueryEscape(idScope+"/registrations/"+registrationID), "+", "%20")
}

// SASToken builds the registration SAS token the device SDKs send after the
// TPM challenge: "SharedAccessSignature sr=…&sig=…&se=…&skn=registration",
// where sig is base64 of the TPM's HMAC-SHA256 over sr + "\n" + se, made
// with the key at IdentityKeyHandle, and se is expiry in Unix seconds.
func SASToken(t transport.TPM, idScope, registrationID string, expiry time.Time) (string, error) {
	sr := SASResource(idScope, registrationID)
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig, err := SignWithIdentityKey(t, []byte(sr+"\n"+se))
	if err != nil {
		return "", err
	}
	return "SharedAccessSignature sr=" + sr +
		"&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)) +
		"&se=" + se +
		"&skn=" + SASKeyName, nil
}
