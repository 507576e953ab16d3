package server

// Custom allocation: the service POSTs an AllocationRequest to the
// enrollment's webhook URL (as given, query string included) and waits up
// to WebhookTimeout for an AllocationResponse. Its iotHubHostName must be
// one of the linkedHubs sent (the candidates); its initialTwin replaces
// the enrollment's where an initial twin applies, and its payload goes back
// to the device. Any failure (unreachable, timeout, non-2xx, bad JSON, a
// hub that is not a candidate) fails the registration with 400208 and the
// reason in errorMessage.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// WebhookTimeout bounds one call of a custom allocation webhook.
const WebhookTimeout = 5 * time.Second

// maxWebhookResponse bounds the webhook's answer.
const maxWebhookResponse = MaxBodyBytes

func (d *deviceAPI) allocateCustom(ctx context.Context, req *deviceRequest, att *attestation, v enrollmentView, prev *store.Registration, cands []store.LinkedHub) (*allocation, *failure, error) {
	if v.custom == nil || v.custom.WebhookURL == "" {
		return nil, &failure{code: model.ErrHubNotSpecified, msg: "allocation policy custom needs customAllocationDefinition.webhookUrl"}, nil
	}
	areq := model.AllocationRequest{
		DeviceRuntimeContext: model.DeviceRuntimeContext{RegistrationID: req.regID, Payload: req.body.Payload},
	}
	for _, h := range cands {
		areq.LinkedHubs = append(areq.LinkedHubs, h.HostName)
	}
	if prev != nil && prev.State.Status == model.RegAssigned {
		areq.DeviceRuntimeContext.CurrentIoTHubHostName = prev.State.AssignedHub
		areq.DeviceRuntimeContext.CurrentDeviceID = prev.State.DeviceID
	}
	switch att.kind {
	case model.AttestationSymmetricKey:
		areq.DeviceRuntimeContext.SymmetricKey = &model.SymmetricKeyRegistrationResult{}
	case model.AttestationX509:
		areq.DeviceRuntimeContext.X509 = x509Info(att)
	case model.AttestationTPM:
		t := &model.TPMAttestation{EndorsementKey: b64(att.ek)}
		if len(att.srk) > 0 {
			t.StorageRootKey = b64(att.srk)
		}
		areq.DeviceRuntimeContext.TPM = t
	}
	switch {
	case att.enrollment != nil:
		e := *att.enrollment
		e.Attestation = cloneAttestation(e.Attestation)
		stripSecrets(e.Attestation)
		e.RegistrationState = nil
		areq.IndividualEnrollment = &e
	case att.group != nil:
		g := *att.group
		g.Attestation = cloneAttestation(g.Attestation)
		stripSecrets(g.Attestation)
		areq.EnrollmentGroup = &g
	}
	ares, err := d.callWebhook(ctx, v.custom.WebhookURL, &areq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, &failure{code: model.ErrHubNotSpecified, msg: "custom allocation webhook: " + err.Error()}, nil
	}
	hub, ok := findHub(cands, ares.IoTHubHostName)
	if !ok {
		return nil, &failure{code: model.ErrHubNotSpecified, msg: fmt.Sprintf("custom allocation webhook chose IoT hub %q, which is not one of %s", ares.IoTHubHostName, strings.Join(areq.LinkedHubs, ", "))}, nil
	}
	a := &allocation{hub: hub.HostName, initialTwin: ares.InitialTwin}
	if p := bytes.TrimSpace(ares.Payload); len(p) > 0 && string(p) != "null" {
		a.payload = p
	}
	return a, nil, nil
}

// callWebhook posts the request and decodes the answer.
func (d *deviceAPI) callWebhook(ctx context.Context, url string, areq *model.AllocationRequest) (*model.AllocationResponse, error) {
	body, err := json.Marshal(areq)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bad webhook URL: %v", err)
	}
	hreq.Header.Set("Content-Type", contentTypeJSON)
	hreq.Header.Set("Accept", "application/json")
	res, err := d.webhook.Do(hreq)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("no answer within %s", WebhookTimeout)
		}
		return nil, fmt.Errorf("call failed: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxWebhookResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %v", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, fmt.Errorf("answered HTTP %d", res.StatusCode)
	}
	if len(b) > maxWebhookResponse {
		return nil, fmt.Errorf("the answer exceeds %d bytes", maxWebhookResponse)
	}
	var ares model.AllocationResponse
	if err := json.Unmarshal(b, &ares); err != nil {
		return nil, fmt.Errorf("the answer is not an AllocationResponse: %v", err)
	}
	if ares.IoTHubHostName == "" {
		return nil, fmt.Errorf("the answer has no iotHubHostName")
	}
	if t := ares.InitialTwin; t != nil {
		if err := objectField("initialTwin.tags", &t.Tags); err != nil {
			return nil, fmt.Errorf("the answer's initialTwin.tags is not an object")
		}
		if t.Properties != nil {
			if err := objectField("initialTwin.properties.desired", &t.Properties.Desired); err != nil {
				return nil, fmt.Errorf("the answer's initialTwin.properties.desired is not an object")
			}
		}
	}
	return &ares, nil
}

// cloneAttestation copies an attestation deeply enough for stripSecrets.
func cloneAttestation(a *model.AttestationMechanism) *model.AttestationMechanism {
	if a == nil {
		return nil
	}
	b, _ := json.Marshal(a)
	c := new(model.AttestationMechanism)
	json.Unmarshal(b, c)
	return c
}
