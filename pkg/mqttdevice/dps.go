package mqttdevice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// DPSAPIVersion is the api-version of the device API the SDKs send.
const DPSAPIVersion = "2019-03-31"

// ClientVersion names this client in the CONNECT user name.
const ClientVersion = "dpsctl-mqtt/1"

// RegisterOptions describe one registration over MQTT.
type RegisterOptions struct {
	Endpoint
	IDScope, RegistrationID string
	// SymmetricKey (base64) signs the SAS password; or SASToken is used
	// as given. Neither for X.509: the certificate is in Endpoint.TLS.
	SymmetricKey string
	SASToken     string
	// Payload is the custom allocation payload, sent as "payload".
	Payload json.RawMessage
	// DefaultRetryAfter is the wait between polls when the service gives
	// no retry-after [2s, as the SDKs].
	DefaultRetryAfter time.Duration
	// MaxRetryAfter, if positive, caps the wait between polls, whatever
	// retry-after says (a local service); negative polls at once, as a
	// benchmark does.
	MaxRetryAfter time.Duration
}

// StatusError is an answer of 300–428 the registration cannot go on
// from (401 for a wrong key, 404, 400, …).
type StatusError struct {
	Status  int
	Details model.ErrorDetails
	Body    []byte
}

func (e *StatusError) Error() string {
	if e.Details.Message != "" {
		return fmt.Sprintf("DPS answered %d: %s (errorCode %d)", e.Status, e.Details.Message, e.Details.ErrorCode)
	}
	return fmt.Sprintf("DPS answered %d: %s", e.Status, e.Body)
}

// ErrRegistrationFailed is returned with the status when the service ends
// the registration as "failed" or "disabled".
var ErrRegistrationFailed = errors.New("registration failed")

// Register registers the device over MQTT and polls the operation until it
// is assigned, failed or disabled, or ctx is done. As the SDKs do over
// MQTT, an answer of 429 or more is retried after retry-after.
func Register(ctx context.Context, o RegisterOptions) (*model.RegistrationOperationStatus, error) {
	if o.IDScope == "" || o.RegistrationID == "" {
		return nil, errors.New("DPS registration over MQTT needs an ID scope and a registration ID")
	}
	password := o.SASToken
	if password == "" && o.SymmetricKey != "" {
		tok, err := sas.NewToken(o.SymmetricKey, o.IDScope+"/registrations/"+o.RegistrationID, "registration", time.Now().Add(time.Hour))
		if err != nil {
			return nil, err
		}
		password = tok
	}
	user := topics.Username{Service: topics.DPS, IDScope: o.IDScope, RegistrationID: o.RegistrationID,
		Params: topics.Bag{{Key: "api-version", Value: DPSAPIVersion}, {Key: "ClientVersion", Value: ClientVersion}}}
	x, err := openExchange(ctx, o.Endpoint, o.RegistrationID, user.String(), password, topics.DPSResponseFilter)
	if err != nil {
		return nil, err
	}
	defer x.close()
	body, err := json.Marshal(model.DeviceRegistration{RegistrationID: o.RegistrationID, Payload: o.Payload})
	if err != nil {
		return nil, err
	}
	defRetry := o.DefaultRetryAfter
	if defRetry <= 0 {
		defRetry = 2 * time.Second
	}
	opID := ""
	for {
		rid := newRID()
		topic := topics.Topic{Kind: topics.DPSRegister, RID: rid}.String()
		payload := body
		if opID != "" {
			topic = topics.Topic{Kind: topics.DPSOperationStatus, RID: rid, OperationID: opID}.String()
			payload = []byte(" ")
		}
		var r response
		err := x.request(topic, payload, func(a answer) bool {
			t, err := topics.Parse(a.topic)
			if err != nil || t.Kind != topics.DPSResponse || t.RID != rid {
				return false // answers nobody waits for are ignored, as the SDKs do
			}
			r = response{status: t.Status, retryAfter: t.RetryAfter, body: a.payload}
			return true
		})
		if err != nil {
			return nil, err
		}
		retry := defRetry
		if r.retryAfter > 0 {
			retry = time.Duration(r.retryAfter) * time.Second
		}
		switch {
		case o.MaxRetryAfter < 0:
			retry = 0
		case o.MaxRetryAfter > 0:
			retry = min(retry, o.MaxRetryAfter)
		}
		switch {
		case r.status >= 429:
			// throttled or a service error: the same request again
		case r.status >= 300:
			se := &StatusError{Status: r.status, Body: r.body}
			_ = json.Unmarshal(r.body, &se.Details)
			return nil, se
		default:
			var st model.RegistrationOperationStatus
			if err := json.Unmarshal(r.body, &st); err != nil {
				return nil, fmt.Errorf("DPS answer %d is not a registration status: %w", r.status, err)
			}
			switch st.Status {
			case "assigned":
				return &st, nil
			case "failed", "disabled":
				msg := st.Status
				if rs := st.RegistrationState; rs != nil && rs.ErrorMessage != "" {
					msg = fmt.Sprintf("%s: %s (errorCode %d)", st.Status, rs.ErrorMessage, rs.ErrorCode)
				}
				return &st, fmt.Errorf("%w: %s", ErrRegistrationFailed, msg)
			}
			if st.OperationID == "" {
				return nil, fmt.Errorf("DPS answered %d with status %q and no operationId", r.status, st.Status)
			}
			opID = st.OperationID
		}
		if err := apierr.Wait(ctx, retry); err != nil {
			return nil, err
		}
	}
}
