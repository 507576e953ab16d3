package mqttbroker

import (
	"encoding/json"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
)

// Twin is a device twin's properties with their versions.
type Twin struct {
	DeviceID   string         `json:"deviceId"`
	Properties TwinProperties `json:"properties"`
}

// TwinProperties are the desired and reported sections; each carries
// "$version" as IoT Hub sends it.
type TwinProperties struct {
	Desired  map[string]any `json:"desired"`
	Reported map[string]any `json:"reported"`
}

func withVersion(m map[string]any, v int64) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	out["$version"] = v
	return out
}

// Twin returns the device's twin.
func (h *Hub) Twin(deviceID string) (Twin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.dev(deviceID)
	if err != nil {
		return Twin{}, err
	}
	return Twin{DeviceID: deviceID, Properties: TwinProperties{
		Desired: withVersion(d.desired, d.desiredVer), Reported: withVersion(d.reported, d.reportedVer),
	}}, nil
}

// twinDoc is what a device's twin GET answers.
func (h *Hub) twinDoc(deviceID string) ([]byte, error) {
	t, err := h.Twin(deviceID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(t.Properties)
}

// mergePatch applies a JSON merge patch (null deletes) to m.
func mergePatch(m map[string]any, patch map[string]any) {
	for k, v := range patch {
		if len(k) > 0 && k[0] == '$' {
			continue // $version, $metadata: the hub's own
		}
		switch pv := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			sub, ok := m[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
			}
			mergePatch(sub, pv)
			m[k] = sub
		default:
			m[k] = v
		}
	}
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// applyPatch merges patch into *section with the size limit; it returns
// the patch as parsed.
func applyPatch(section *map[string]any, patch []byte) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal(patch, &p); err != nil || p == nil {
		return nil, ErrBadPatch
	}
	next := deepCopy(*section)
	mergePatch(next, p)
	b, err := json.Marshal(next)
	if err != nil {
		return nil, ErrBadPatch
	}
	if len(b) > MaxTwinSectionSize {
		return nil, fmt.Errorf("%w: twin section of %d bytes, more than %d", ErrTooLarge, len(b), MaxTwinSectionSize)
	}
	*section = next
	return p, nil
}

// patchReported applies a device's reported-properties patch and returns
// the new reported version.
func (h *Hub) patchReported(deviceID string, patch []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, err := h.dev(deviceID)
	if err != nil {
		return 0, err
	}
	if _, err := applyPatch(&d.reported, patch); err != nil {
		return 0, err
	}
	d.reportedVer++
	return d.reportedVer, nil
}

// UpdateDesired applies a desired-properties patch (a JSON merge patch;
// null deletes) and notifies the device if it is connected and subscribed.
// It returns the new desired version.
func (h *Hub) UpdateDesired(deviceID string, patch []byte) (int64, error) {
	h.mu.Lock()
	d, err := h.dev(deviceID)
	if err != nil {
		h.mu.Unlock()
		return 0, err
	}
	p, err := applyPatch(&d.desired, patch)
	if err != nil {
		h.mu.Unlock()
		return 0, err
	}
	d.desiredVer++
	v, link := d.desiredVer, d.link
	h.mu.Unlock()
	if link != nil && link.subscribed(subDesired) {
		body, _ := json.Marshal(withVersion(p, v))
		t := topics.Topic{Kind: topics.TwinDesired, Version: v, HasVersion: true}
		_ = link.send(subDesired, t.String(), body) // the device reads the twin again when it reconnects
	}
	return v, nil
}
