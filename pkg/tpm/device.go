package tpm

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Persistent handles the device SDKs use.
const (
	EKHandle          tpm2.TPMHandle = 0x81010001 // endorsement key
	SRKHandle         tpm2.TPMHandle = 0x81000001 // storage root key
	IdentityKeyHandle tpm2.TPMHandle = 0x81000100 // imported HMAC identity key
)

// ErrNotPersisted is returned when a key is absent from its persistent
// handle and creation was not requested.
var ErrNotPersisted = errors.New("no key at the persistent handle")

// Identity is what a device presents for TPM attestation.
type Identity struct {
	EK *EK
	// SRK is the storage root key's TPM2B_PUBLIC, size prefix included.
	SRK []byte
	// EKCreated and SRKCreated report keys this call created and persisted.
	EKCreated, SRKCreated bool
}

// SRKBase64 returns the standard base64 of the SRK public area, the form of
// the register request's tpm.storageRootKey.
func (id *Identity) SRKBase64() string { return base64.StdEncoding.EncodeToString(id.SRK) }

// ReadIdentity reads the EK at 0x81010001 and the SRK at 0x81000001. With
// create set, a missing key is created from the TCG template (the EK under
// the endorsement hierarchy, the SRK under the owner hierarchy) and
// persisted, as the device SDKs do; otherwise a missing key yields an error
// wrapping ErrNotPersisted.
func ReadIdentity(t transport.TPM, create bool) (*Identity, error) {
	ek, ekCreated, err := ReadEK(t, create)
	if err != nil {
		return nil, err
	}
	srk, srkCreated, err := ReadSRK(t, create)
	if err != nil {
		return nil, err
	}
	return &Identity{EK: ek, SRK: srk, EKCreated: ekCreated, SRKCreated: srkCreated}, nil
}

// ReadEK returns the endorsement key persisted at EKHandle, creating and
// persisting it from the TCG RSA-2048 EK template when absent and create is
// set. created reports whether it was created.
func ReadEK(t transport.TPM, create bool) (ek *EK, created bool, err error) {
	pub, created, err := readOrCreate(t, EKHandle, tpm2.TPMRHEndorsement, tpm2.RSAEKTemplate, create, "endorsement key")
	if err != nil {
		return nil, false, err
	}
	ek, err = ParseEK(pub)
	if err != nil {
		return nil, false, fmt.Errorf("the key at 0x%08x: %w", uint32(EKHandle), err)
	}
	return ek, created, nil
}

// ReadSRK returns the TPM2B_PUBLIC of the storage root key at SRKHandle,
// creating and persisting it from the TCG RSA-2048 SRK template when absent
// and create is set.
func ReadSRK(t transport.TPM, create bool) (srk []byte, created bool, err error) {
	pub, created, err := readOrCreate(t, SRKHandle, tpm2.TPMRHOwner, tpm2.RSASRKTemplate, create, "storage root key")
	if err != nil {
		return nil, false, err
	}
	// The SRK is also a restricted decryption key; the EK checks apply.
	if _, err := ParseEK(pub); err != nil {
		return nil, false, fmt.Errorf("the key at 0x%08x is not a usable storage root key: %w", uint32(SRKHandle), err)
	}
	return pub, created, nil
}

// ReadPublic returns the TPM2B_PUBLIC (size prefix included) of the object
// at handle, or an error wrapping ErrNotPersisted if there is none.
func ReadPublic(t transport.TPM, handle tpm2.TPMHandle) ([]byte, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: handle}.Execute(t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, fmt.Errorf("0x%08x: %w", uint32(handle), ErrNotPersisted)
		}
		return nil, fmt.Errorf("reading the public area at 0x%08x: %w", uint32(handle), err)
	}
	return sized(rsp.OutPublic.Bytes()), nil
}

func sized(b []byte) []byte {
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	return out
}

func readOrCreate(t transport.TPM, handle, hierarchy tpm2.TPMHandle, tmpl tpm2.TPMTPublic, create bool, what string) ([]byte, bool, error) {
	pub, err := ReadPublic(t, handle)
	if err == nil {
		return pub, false, nil
	}
	if !errors.Is(err, ErrNotPersisted) || !create {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: hierarchy, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t)
	if err != nil {
		return nil, false, fmt.Errorf("creating the %s: %w", what, err)
	}
	defer tpm2.FlushContext{FlushHandle: cp.ObjectHandle}.Execute(t)
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     &tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: handle,
	}.Execute(t)
	if err != nil {
		return nil, false, fmt.Errorf("persisting the %s at 0x%08x: %w", what, uint32(handle), err)
	}
	pub, err = ReadPublic(t, handle)
	if err != nil {
		return nil, false, fmt.Errorf("%s after persisting: %w", what, err)
	}
	return pub, true, nil
}

// Startup sends TPM2_Startup(CLEAR); a TPM that is already started is fine.
// Simulators and swtpm without start-up flags need it once after power-on.
func Startup(t transport.TPM) error {
	_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
	if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
		return fmt.Errorf("TPM2_Startup: %w", err)
	}
	return nil
}

// Warning response codes after which a command may simply be sent again.
const (
	rcYielded = 0x908
	rcTesting = 0x90A
	rcRetry   = 0x922
)

// retrying resends a command while the TPM answers RETRY, TESTING or
// YIELDED (swtpm answers RETRY to some first commands after start-up).
type retrying struct {
	transport.TPMCloser
	attempts int
	pause    time.Duration
}

func withRetry(t transport.TPMCloser) transport.TPMCloser {
	return &retrying{TPMCloser: t, attempts: 5, pause: 20 * time.Millisecond}
}

func (r *retrying) Send(cmd []byte) ([]byte, error) {
	var (
		rsp []byte
		err error
	)
	for i := 0; i < r.attempts; i++ {
		rsp, err = r.TPMCloser.Send(cmd)
		if err != nil || len(rsp) < 10 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcRetry, rcTesting, rcYielded:
			time.Sleep(r.pause * time.Duration(i+1))
			continue
		}
		return rsp, nil
	}
	return rsp, err
}
