// Package enrollfiletest makes test material for enrollment files:
// endorsement keys that pass every check, fast enough to make by the
// hundred thousand for benchmarks. Nothing it makes is a real device's key.
package enrollfiletest

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"

	"github.com/google/go-tpm/tpm2"
)

// NewEK returns the base64 TPM2B_PUBLIC of a fresh ECC P-256 endorsement
// key built on the TCG default EK template (restricted, decrypt-only,
// AES-128-CFB), the form an enrollment's endorsementKey takes.
func NewEK() string {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	pub := k.PublicKey().Bytes() // 0x04 ‖ X ‖ Y
	tmpl := tpm2.ECCEKTemplate
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pub[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: pub[33:65]},
	})
	return base64.StdEncoding.EncodeToString(tpm2.Marshal(tpm2.New2B(tmpl)))
}

// SampleEK is the RSA 2048 endorsement key published with the Azure IoT
// SDK samples, and SampleEKRegistrationID the registration ID the device
// SDKs derive from it.
const (
	SampleEK = "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUScTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3dyKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKRdln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFeWlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="

	SampleEKRegistrationID = "sizmf6sllrqe4op4wm576nl26la72rssxmf7i7oag2fbuy7uvbaq"
)
