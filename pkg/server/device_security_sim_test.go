//go:build tpmsimulator

package server

import (
	"net/http"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// TestTPMReplaySimulator registers a TPM device end to end with the
// simulator, then replays its register call: the replay is refused, the
// hub key stays the one the TPM holds (the device is not locked out) and
// the device's polls and status lookups keep working with its token.
func TestTPMReplaySimulator(t *testing.T) {
	tp, id := simIdentity(t, 23)
	defer tp.Close()

	e, logs := logEnv(t, nil)
	s := serve(t, e.inst)
	d := s.client(t, nil, true)

	regID := id.EK.RegistrationID()
	e.put("/enrollments/"+regID, tpmEnrollment(regID, id.EK.Base64(), "enabled"))
	body := map[string]any{"registrationId": regID, "tpm": map[string]string{"endorsementKey": id.EK.Base64(), "storageRootKey": id.SRKBase64()}}

	tok := answerChallenge(t, d, tp, regID, body)
	op := d.provision(regID, tok, body)
	rs := op.RegistrationState
	if op.Status != model.RegAssigned || rs.TPM == nil {
		t.Fatalf("%+v %+v", op, rs)
	}
	hubKey := e.hubDevice(rs.AssignedHub, rs.DeviceID).PrimaryKey

	// Replays of the register call, with and without the body.
	for i, b := range []any{body, nil} {
		mark := logs.mark()
		r := d.register(regID, tok, b)
		mustStatus(t, r, 401, model.ErrUnauthorized)
		logs.mustContain(t, mark, "no pending TPM challenge")
		if k := e.hubDevice(rs.AssignedHub, rs.DeviceID).PrimaryKey; k != hubKey {
			t.Fatalf("replay %d rotated the hub key", i)
		}
	}

	// The device's token still polls and looks up its status.
	mustStatus(t, d.operation(regID, op.OperationID, tok), 200)
	mustStatus(t, d.must(http.MethodPost, d.regPath(regID)+"?api-version=2019-03-31", `{"registrationId":"`+regID+`"}`, tok), 200)

	// The TPM activates the hub key it was sent and reaches its hub.
	hubTok := activateHubKey(t, tp, rs)
	mustHub(t, d.sendMessage(rs.DeviceID, hubTok), 204)

	// A new challenge registers the device again, once.
	tok = answerChallenge(t, d, tp, regID, body)
	if op := d.provision(regID, tok, body); op.Status != model.RegAssigned {
		t.Fatalf("%+v", op)
	}
	mustStatus(t, d.register(regID, tok, body), 401, model.ErrUnauthorized)
}
