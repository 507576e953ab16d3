//go:build tpmsimulator

package provisioning

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// TestTPMAttesterSimulator runs the TPM flow against a fake device API that
// builds real activation blobs: the challenge key must sign the second
// register request, and the hub key of the assigned result must end up in
// the TPM.
func TestTPMAttesterSimulator(t *testing.T) {
	sim, err := tpm.OpenSimulator(7)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	att, err := NewTPM(sim)
	if err != nil {
		t.Fatal(err)
	}
	id := att.RegistrationID()
	if len(id) != 52 {
		t.Fatalf("registration ID %q", id)
	}
	challengeKey, hubKey := random(t, 32), random(t, 32)

	tests := []struct {
		name string
		// foreignEK makes the service build its blobs for another TPM.
		foreignEK bool
		wantErr   string
	}{
		{name: "assigned"},
		{name: "blob for another TPM", foreignEK: true, wantErr: "TPM challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{t: t}
			f.answer = func(n int, s seen) reply {
				var body model.DeviceRegistration
				if err := json.Unmarshal([]byte(s.Body), &body); err != nil || body.TPM == nil {
					return reply{400, "", `{"errorCode":400000}`}
				}
				ek, _ := base64.StdEncoding.DecodeString(body.TPM.EndorsementKey)
				srk, _ := base64.StdEncoding.DecodeString(body.TPM.StorageRootKey)
				if tt.foreignEK {
					other, err := tpm.DecodeEK(foreignEK(t))
					if err != nil {
						t.Error(err)
					}
					ek = other.TPM2BPublic
				}
				if s.Auth == "" {
					blob, err := tpm.NewActivationBlob(ek, srk, challengeKey, nil, rand.Reader)
					if err != nil {
						t.Error(err)
						return reply{500, "", `{}`}
					}
					return reply{401, "", fmt.Sprintf(`{"message":"challenge","authenticationKey":%q,"keyName":"registration"}`, base64.StdEncoding.EncodeToString(blob))}
				}
				tok, err := sas.ParseToken(s.Auth)
				if err != nil || tok.Verify(base64.StdEncoding.EncodeToString(challengeKey), time.Now()) != nil {
					return reply{401, "", `{"errorCode":401002,"message":"bad signature"}`}
				}
				if !strings.EqualFold(tok.Resource, scope+"/registrations/"+id) {
					return reply{401, "", `{"errorCode":401002,"message":"bad sr"}`}
				}
				blob, err := tpm.NewActivationBlob(ek, srk, hubKey, nil, rand.Reader)
				if err != nil {
					t.Error(err)
					return reply{500, "", `{}`}
				}
				return reply{200, "", fmt.Sprintf(`{"operationId":"op","status":"assigned","registrationState":{"registrationId":%q,"assignedHub":"hub","deviceId":%q,"status":"assigned","tpm":{"authenticationKey":%q}}}`, id, id, base64.StdEncoding.EncodeToString(blob))}
			}
			host, roots := startFake(t, f)
			c := newTestClient(t, host, roots, att, func(o *Options) { o.RegistrationID = id })
			st, err := c.Register(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.RegistrationState.DeviceID != id {
				t.Errorf("result %+v", st.RegistrationState)
			}
			msg := []byte("hub.example.net%2Fdevices%2Fdev\n1700000000")
			sig, err := att.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			m := hmac.New(sha256.New, hubKey)
			m.Write(msg)
			if !bytes.Equal(sig, m.Sum(nil)) {
				t.Error("the TPM does not sign with the hub key")
			}
		})
	}
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// foreignEK is another TPM's endorsement key: the RSA-2048 EK published
// with the Azure IoT provisioning SDK samples.
func foreignEK(t *testing.T) string {
	t.Helper()
	return "AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S124GUgtk8qHaGzMUaaoABgCAAEMAEAgAAAAAAAEAxsj2gUS" +
		"cTk1UjuioeTlfGYZrrimExB+bScH75adUMRIi2UOMxG1kw4y+9RW/IVoMl4e620VxZad0ARX2gUqVjYO7KPVt3d" +
		"yKhZS3dkcvfBisBhP1XH9B33VqHG9SHnbnQXdBUaCgKAfxome8UmBKfe+naTsE5fkvjb/do3/dD6l4sGBwFCnKR" +
		"dln4XpM03zLpoHFao8zOwt8l/uP3qUIxmCYv9A7m69Ms+5/pCkTu/rK4mRDsfhZ0QLfbzVI6zQFOKF/rwsfBtFe" +
		"WlWtcuJMKlXdD8TXWElTzgh7JS4qhFzreL0c1mI0GCj+Aws0usZh7dLIVPnlgZcBhgy1SSDQMQ=="
}
