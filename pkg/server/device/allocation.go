package device

// Assignment: which linked hub a device goes to, what happens on
// re-registration, and the records written.
//
// Candidate hubs are the enrollment's iotHubs that are linked (its legacy
// iotHubHostName when iotHubs is empty), or else every linked hub whose
// applyAllocationPolicy is set. Policies (the enrollment's, else the
// service's, default hashed):
//
//   - hashed: a stable FNV-1a hash of the lower-cased registration ID picks
//     a candidate, weighted by allocationWeight, over the candidates sorted
//     by host name; the same device lands on the same hub while the
//     candidates stay the same.
//   - static: the first candidate (an enrollment names its one hub).
//   - geoLatency: the local service has no regions; the first candidate in
//     the enrollment's (or link) order is the nearest.
//   - custom: the webhook's answer (see webhook.go).
//
// Re-registration follows the enrollment's reprovision policy. With
// updateHubAssignment false a device stays on its hub (the only candidate,
// also for a webhook). When the new hub and device ID are the previous
// ones, the device is kept with its twin (substatus
// reprovisionedToInitialAssignment). When it moves, the old hub's device is
// removed and the new one gets the old twin (migrateDeviceData, substatus
// deviceDataMigrated) or the initial twin (substatus deviceDataReset). A
// first assignment gets the initial twin (initialAssignment): the
// webhook's, else the enrollment's.

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// hubSnapshot is the linked hubs and the service-level allocation policy.
type hubSnapshot struct {
	hubs   []store.LinkedHub
	policy string
}

func loadHubSnapshot(ctx context.Context, st *store.Store) (hubSnapshot, error) {
	hs, err := st.LinkedHubs(ctx)
	if err != nil {
		return hubSnapshot{}, err
	}
	p, err := st.Meta(ctx, store.MetaAllocationPolicy)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return hubSnapshot{}, err
	}
	if !model.ValidAllocationPolicy(p) {
		p = model.AllocationHashed
	}
	return hubSnapshot{hubs: hs, policy: p}, nil
}

// enrollmentView is what allocation needs of an enrollment or a group.
type enrollmentView struct {
	deviceID    string
	policy      string
	iotHubs     []string
	legacyHub   string
	reprovision model.ReprovisionPolicy
	initialTwin *model.InitialTwin
	custom      *model.CustomAllocationDefinition
	iotEdge     bool
}

func viewOf(att *attestation, regID string) enrollmentView {
	v := enrollmentView{deviceID: regID, reprovision: model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}}
	var c *model.EnrollmentCommon
	switch {
	case att.enrollment != nil:
		if id := att.enrollment.DeviceID; id != "" {
			v.deviceID = id
		}
		c = &att.enrollment.EnrollmentCommon
	case att.group != nil:
		c = &att.group.EnrollmentCommon
	default:
		return v
	}
	v.policy, v.iotHubs, v.legacyHub, v.initialTwin, v.custom = c.AllocationPolicy, c.IoTHubs, c.IoTHubHostName, c.InitialTwin, c.CustomAllocationDefinition
	if c.ReprovisionPolicy != nil {
		v.reprovision = *c.ReprovisionPolicy
	}
	if c.Capabilities != nil {
		v.iotEdge = c.Capabilities.IoTEdge
	}
	return v
}

// candidates returns the linked hubs an enrollment may use.
func candidates(linked []store.LinkedHub, v enrollmentView) []store.LinkedHub {
	named := v.iotHubs
	if len(named) == 0 && v.legacyHub != "" {
		named = []string{v.legacyHub}
	}
	var out []store.LinkedHub
	if len(named) > 0 {
		for _, n := range named {
			if h, ok := FindHub(linked, n); ok && !slices.ContainsFunc(out, func(o store.LinkedHub) bool { return o.HostName == h.HostName }) {
				out = append(out, h)
			}
		}
		return out
	}
	for _, h := range linked {
		if h.ApplyAllocationPolicy {
			out = append(out, h)
		}
	}
	return out
}

// FindHub returns the hub of linked named name (without regard to case).
func FindHub(linked []store.LinkedHub, name string) (store.LinkedHub, bool) {
	for _, h := range linked {
		if strings.EqualFold(h.HostName, name) {
			return h, true
		}
	}
	return store.LinkedHub{}, false
}

// pickHashed chooses a candidate by a stable hash of the registration ID,
// weighted by allocation weight.
func pickHashed(regID string, cands []store.LinkedHub) store.LinkedHub {
	sorted := slices.Clone(cands)
	slices.SortFunc(sorted, func(a, b store.LinkedHub) int {
		return cmp.Compare(strings.ToLower(a.HostName), strings.ToLower(b.HostName))
	})
	weight := func(h store.LinkedHub) uint64 { return uint64(max(h.AllocationWeight, 0)) }
	var total uint64
	for _, h := range sorted {
		total += weight(h)
	}
	if total == 0 {
		weight = func(store.LinkedHub) uint64 { return 1 }
		total = uint64(len(sorted))
	}
	f := fnv.New64a()
	f.Write([]byte(strings.ToLower(regID)))
	n := f.Sum64() % total
	for _, h := range sorted {
		if w := weight(h); n < w {
			return h
		} else {
			n -= w
		}
	}
	return sorted[len(sorted)-1]
}

// failure is an assignment that failed; it becomes status failed.
type failure struct {
	code int
	msg  string
}

// allocation is the decided hub.
type allocation struct {
	hub         string
	initialTwin *model.InitialTwin // the webhook's, else nil
	payload     json.RawMessage
}

// allocate picks the hub for a device.
func (d *API) allocate(ctx context.Context, req *deviceRequest, att *attestation, v enrollmentView, prev *store.Registration) (*allocation, *failure, error) {
	snap, err := d.hubs.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	cands := candidates(snap.hubs, v)
	prevAssigned := prev != nil && prev.State.Status == model.RegAssigned && prev.State.AssignedHub != ""
	if prevAssigned && !v.reprovision.UpdateHubAssignment {
		if h, ok := FindHub(snap.hubs, prev.State.AssignedHub); ok {
			cands = []store.LinkedHub{h}
		}
	}
	if len(cands) == 0 {
		msg := "no linked IoT hub is available for this enrollment"
		if len(v.iotHubs) > 0 {
			msg = "none of the enrollment's IoT hubs (" + strings.Join(v.iotHubs, ", ") + ") is linked to the provisioning service"
		}
		return nil, &failure{code: model.ErrHubNotSpecified, msg: msg}, nil
	}
	policy := v.policy
	if policy == "" {
		policy = snap.policy
	}
	switch policy {
	case model.AllocationCustom:
		return d.allocateCustom(ctx, req, att, v, prev, cands)
	case model.AllocationStatic, model.AllocationGeoLatency:
		return &allocation{hub: cands[0].HostName}, nil, nil
	}
	return &allocation{hub: pickHashed(req.regID, cands).HostName}, nil, nil
}

// assign decides the device's hub, creates or updates its identity there
// and records the registration (which is also the operation record).
func (d *API) assign(ctx context.Context, req *deviceRequest, att *attestation, opID string) error {
	now := d.now()
	ts := deviceTime(now)
	prev, err := d.st.Registration(ctx, req.regID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		prev = nil
	case err != nil:
		return err
	}
	created := ts
	if prev != nil && prev.State.CreatedDateTimeUTC != "" {
		created = prev.State.CreatedDateTimeUTC
	}
	res := &model.DeviceRegistrationResult{
		RegistrationID:         req.regID,
		CreatedDateTimeUTC:     created,
		LastUpdatedDateTimeUTC: ts,
		ETag:                   httpapi.NewETag(),
	}
	switch att.kind {
	case model.AttestationSymmetricKey:
		res.SymmetricKey = &model.SymmetricKeyRegistrationResult{EnrollmentGroupID: att.groupID()}
	case model.AttestationX509:
		res.X509 = &model.X509RegistrationResult{EnrollmentGroupID: att.groupID()}
	}
	reg := &store.Registration{
		EnrollmentGroupID: att.groupID(),
		OperationID:       opID,
		Result:            res,
		AuthThumbprint:    att.thumbprint,
	}
	if att.authKey != "" {
		reg.AuthKeys = []string{att.authKey}
	}
	finish := func(write func(tx *store.Tx) error) error {
		reg.State = stateOf(res)
		return d.write(ctx, func(tx *store.Tx) error {
			if write != nil {
				if err := write(tx); err != nil {
					return err
				}
			}
			return tx.PutRegistration(reg, store.MatchAny)
		})
	}
	if att.disabled {
		res.Status = model.RegDisabled
		res.ErrorMessage = "The enrollment is disabled."
		return finish(nil)
	}
	v := viewOf(att, req.regID)
	alloc, fail, err := d.allocate(ctx, req, att, v, prev)
	if err != nil {
		return err
	}
	if fail != nil {
		res.Status = model.RegFailed
		res.ErrorCode, res.ErrorMessage = fail.code, fail.msg
		return finish(nil)
	}

	// The identity in the hub, with credentials matching the attestation.
	dev := &store.HubDevice{
		HubHostName: alloc.hub, DeviceID: v.deviceID, RegistrationID: req.regID,
		Status: model.StatusEnabled, IoTEdge: v.iotEdge,
	}
	switch att.kind {
	case model.AttestationSymmetricKey:
		dev.AuthenticationType = store.AuthSAS
		dev.PrimaryKey, dev.SecondaryKey = att.hubKeys[0], att.hubKeys[1]
	case model.AttestationX509:
		dev.AuthenticationType = store.AuthSelfSigned
		dev.PrimaryThumbprint = att.thumbprint
	case model.AttestationTPM:
		key := make([]byte, hubKeyBytes)
		rand.Read(key)
		blob, err := tpm.NewActivationBlob(att.ek, att.srk, key, nil, nil)
		if err != nil {
			return httpapi.BadRequest("cannot wrap the hub key for this TPM: %v", err)
		}
		dev.AuthenticationType = store.AuthSAS
		dev.PrimaryKey = b64(key)
		res.TPM = &model.TPMRegistrationResult{AuthenticationKey: b64(blob)}
		reg.AuthKeys = append(reg.AuthKeys, dev.PrimaryKey)
	}
	twin := v.initialTwin
	if alloc.initialTwin != nil {
		twin = alloc.initialTwin
	}
	prevAssigned := prev != nil && prev.State.Status == model.RegAssigned && prev.State.AssignedHub != ""
	same := prevAssigned && strings.EqualFold(prev.State.AssignedHub, alloc.hub) && strings.EqualFold(prev.State.DeviceID, v.deviceID)
	switch {
	case !prevAssigned:
		res.Substatus = model.SubstatusInitialAssignment
	case same:
		res.Substatus = model.SubstatusReprovisionedToInitialAssignment
	case v.reprovision.MigrateDeviceData:
		res.Substatus = model.SubstatusDeviceDataMigrated
	default:
		res.Substatus = model.SubstatusDeviceDataReset
	}
	res.Status = model.RegAssigned
	res.AssignedHub, res.DeviceID = alloc.hub, v.deviceID
	res.Payload = alloc.payload
	return finish(func(tx *store.Tx) error {
		existing, err := tx.HubDevice(dev.HubHostName, dev.DeviceID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var old *store.HubDevice
		if prevAssigned && !same {
			old, err = tx.HubDevice(prev.State.AssignedHub, prev.State.DeviceID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				old = nil
			case err != nil:
				return err
			default:
				if err := tx.DeleteHubDevice(old.HubHostName, old.DeviceID); err != nil {
					return err
				}
			}
		}
		base := existing
		if base == nil {
			base = old
		}
		if base != nil {
			dev.HubHostName, dev.DeviceID = hubName(dev.HubHostName, existing), deviceName(dev.DeviceID, existing)
			dev.ConnectionState, dev.ConnectionStateUpdatedTime = base.ConnectionState, base.ConnectionStateUpdatedTime
			dev.LastActivityTime, dev.CreatedTime = base.LastActivityTime, base.CreatedTime
			dev.CloudToDeviceMessageCount, dev.DeviceToCloudMessageCount = base.CloudToDeviceMessageCount, base.DeviceToCloudMessageCount
			dev.GenerationID = base.GenerationID
			dev.Tags, dev.Desired, dev.Reported = base.Tags, base.Desired, base.Reported
			dev.TwinVersion, dev.TwinModified = base.TwinVersion, base.TwinModified
		}
		if existing == nil {
			// A new identity in this hub.
			dev.GenerationID = newGenerationID()
			dev.CreatedTime = ts
			dev.ConnectionState = store.ConnectionDisconnected
			dev.ConnectionStateUpdatedTime = ts
			dev.CloudToDeviceMessageCount, dev.DeviceToCloudMessageCount = 0, 0
			dev.LastActivityTime = ""
		}
		keepTwin := same && existing != nil || !same && prevAssigned && v.reprovision.MigrateDeviceData && old != nil
		if !keepTwin {
			dev.Tags, dev.Desired, dev.Reported = nil, nil, nil
			if twin != nil {
				dev.Tags = twin.Tags
				if twin.Properties != nil {
					dev.Desired = twin.Properties.Desired
				}
			}
			dev.TwinVersion++
			dev.TwinModified = ts
		}
		dev.ETag = httpapi.NewETag()
		dev.StatusUpdatedTime = ts
		dev.LastUpdatedTime = ts
		return tx.PutHubDevice(dev)
	})
}

func hubName(name string, existing *store.HubDevice) string {
	if existing != nil {
		return existing.HubHostName
	}
	return name
}

func deviceName(id string, existing *store.HubDevice) string {
	if existing != nil {
		return existing.DeviceID
	}
	return id
}

// stateOf is the service API's view of a device result.
func stateOf(res *model.DeviceRegistrationResult) model.DeviceRegistrationState {
	return model.DeviceRegistrationState{
		RegistrationID:         res.RegistrationID,
		CreatedDateTimeUTC:     res.CreatedDateTimeUTC,
		AssignedHub:            res.AssignedHub,
		DeviceID:               res.DeviceID,
		Status:                 res.Status,
		Substatus:              res.Substatus,
		ErrorCode:              res.ErrorCode,
		ErrorMessage:           res.ErrorMessage,
		LastUpdatedDateTimeUTC: res.LastUpdatedDateTimeUTC,
		ETag:                   res.ETag,
		Payload:                res.Payload,
	}
}

// newGenerationID returns an IoT Hub-style generation id (18 digits).
func newGenerationID() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])%900_000_000_000_000_000+100_000_000_000_000_000, 10)
}

// write runs fn in a store transaction, batched with the writes of
// registrations running at the same time.
func (d *API) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	return d.writes.Do(ctx, fn)
}

// x509Info is the certificate info for the webhook's device context.
func x509Info(att *attestation) *model.X509RegistrationResult {
	r := &model.X509RegistrationResult{EnrollmentGroupID: att.groupID()}
	if att.leaf != nil {
		info := certs.Info(att.leaf)
		r.CertificateInfo = &info
	}
	if att.signing != nil {
		info := certs.Info(att.signing)
		r.SigningCertificateInfo = &info
	}
	return r
}
