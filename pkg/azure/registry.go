package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// RegistryAPIVersion is the IoT Hub service API version of the registry
// calls.
const RegistryAPIVersion = "2021-04-12"

// Registry reads the device registry of IoT hubs through their service API
// with the SAS tokens of a hub policy (RegistryRead).
type Registry struct {
	hc  *http.Client
	now func() time.Time
}

// NewRegistry reads registries over hc (nil: the default client).
func NewRegistry(hc *http.Client) *Registry {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Registry{hc: hc, now: time.Now}
}

// HubError is an error answer of an IoT hub's service API.
type HubError struct {
	Op         string
	StatusCode int
	Message    string
}

func (e *HubError) Error() string {
	return fmt.Sprintf("%s: IoT hub answered %d %s: %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode), firstLine(e.Message))
}

// Is makes a 404 match linkedhub.ErrNotFound.
func (e *HubError) Is(target error) bool {
	return target == linkedhub.ErrNotFound && e.StatusCode == http.StatusNotFound
}

func (r *Registry) do(ctx context.Context, cs, method, path string, body any, header http.Header, out any) (http.Header, error) {
	c, err := sas.ParseConnectionString(cs)
	if err != nil {
		return nil, fmt.Errorf("IoT hub connection string: %w", err)
	}
	tok, err := sas.NewToken(c.Key, url.QueryEscape(c.HostName), c.KeyName, r.now().Add(time.Hour))
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	op := method + " " + c.HostName + path
	req, err := http.NewRequestWithContext(ctx, method, "https://"+c.HostName+path+"?api-version="+RegistryAPIVersion, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var e struct {
			Message string `json:"Message"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return nil, &HubError{Op: op, StatusCode: res.StatusCode, Message: e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s: unreadable answer: %w", op, err)
		}
	}
	return res.Header, nil
}

// Count counts the devices of the hub of cs.
func (r *Registry) Count(ctx context.Context, cs string) (int, error) {
	var out []struct {
		N int `json:"numberOfDevices"`
	}
	if _, err := r.do(ctx, cs, http.MethodPost, "/devices/query", map[string]string{"query": "SELECT COUNT() AS numberOfDevices FROM devices"}, nil, &out); err != nil {
		return 0, err
	}
	if len(out) == 0 {
		return 0, nil
	}
	return out[0].N, nil
}

// twin is a device twin as the registry's query returns it.
type twin struct {
	DeviceID                  string `json:"deviceId"`
	ETag                      string `json:"etag"`
	DeviceETag                string `json:"deviceEtag"`
	Status                    string `json:"status"`
	StatusUpdateTime          string `json:"statusUpdateTime"`
	ConnectionState           string `json:"connectionState"`
	LastActivityTime          string `json:"lastActivityTime"`
	CloudToDeviceMessageCount int    `json:"cloudToDeviceMessageCount"`
	AuthenticationType        string `json:"authenticationType"`
	X509Thumbprint            struct {
		PrimaryThumbprint   string `json:"primaryThumbprint"`
		SecondaryThumbprint string `json:"secondaryThumbprint"`
	} `json:"x509Thumbprint"`
	Version      int64           `json:"version"`
	Tags         json.RawMessage `json:"tags"`
	Capabilities struct {
		IoTEdge bool `json:"iotEdge"`
	} `json:"capabilities"`
	Properties struct {
		Desired  json.RawMessage `json:"desired"`
		Reported json.RawMessage `json:"reported"`
	} `json:"properties"`
}

func (t twin) device(host string) linkedhub.Device {
	return linkedhub.Device{
		HubHostName: host, DeviceID: t.DeviceID, ETag: t.DeviceETag, Status: t.Status,
		AuthenticationType: t.AuthenticationType, PrimaryThumbprint: t.X509Thumbprint.PrimaryThumbprint, SecondaryThumbprint: t.X509Thumbprint.SecondaryThumbprint,
		IoTEdge: t.Capabilities.IoTEdge, ConnectionState: t.ConnectionState, LastActivityTime: t.LastActivityTime,
		StatusUpdatedTime: t.StatusUpdateTime, CloudToDeviceMessageCount: t.CloudToDeviceMessageCount,
		Tags: nonEmpty(t.Tags), Desired: nonEmpty(t.Properties.Desired), Reported: nonEmpty(t.Properties.Reported), TwinVersion: t.Version,
	}
}

func nonEmpty(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// MaxQueryPages bounds the pages of one registry walk.
const MaxQueryPages = 10000

// Devices walks the devices of the hub of cs (from their twins: no keys).
func (r *Registry) Devices(ctx context.Context, cs string) iter.Seq2[linkedhub.Device, error] {
	return func(yield func(linkedhub.Device, error) bool) {
		c, err := sas.ParseConnectionString(cs)
		if err != nil {
			yield(linkedhub.Device{}, err)
			return
		}
		cont := ""
		for range MaxQueryPages {
			h := http.Header{"X-Ms-Max-Item-Count": {"100"}}
			if cont != "" {
				h.Set("X-Ms-Continuation", cont)
			}
			var page []twin
			hdr, err := r.do(ctx, cs, http.MethodPost, "/devices/query", map[string]string{"query": "SELECT * FROM devices"}, h, &page)
			if err != nil {
				yield(linkedhub.Device{}, err)
				return
			}
			for _, t := range page {
				if !yield(t.device(c.HostName), nil) {
					return
				}
			}
			if cont = hdr.Get("X-Ms-Continuation"); cont == "" {
				return
			}
		}
	}
}

// device is a device identity as GET /devices/{id} returns it.
type device struct {
	DeviceID                   string `json:"deviceId"`
	GenerationID               string `json:"generationId"`
	ETag                       string `json:"etag"`
	Status                     string `json:"status"`
	StatusUpdatedTime          string `json:"statusUpdatedTime"`
	ConnectionState            string `json:"connectionState"`
	ConnectionStateUpdatedTime string `json:"connectionStateUpdatedTime"`
	LastActivityTime           string `json:"lastActivityTime"`
	CloudToDeviceMessageCount  int    `json:"cloudToDeviceMessageCount"`
	Authentication             struct {
		Type         string `json:"type"`
		SymmetricKey struct {
			PrimaryKey   string `json:"primaryKey"`
			SecondaryKey string `json:"secondaryKey"`
		} `json:"symmetricKey"`
		X509Thumbprint struct {
			PrimaryThumbprint   string `json:"primaryThumbprint"`
			SecondaryThumbprint string `json:"secondaryThumbprint"`
		} `json:"x509Thumbprint"`
	} `json:"authentication"`
	Capabilities struct {
		IoTEdge bool `json:"iotEdge"`
	} `json:"capabilities"`
}

// Device returns a device of the hub of cs with its twin;
// linkedhub.ErrNotFound (errors.Is) when the registry has no such device.
func (r *Registry) Device(ctx context.Context, cs, id string) (linkedhub.Device, error) {
	c, err := sas.ParseConnectionString(cs)
	if err != nil {
		return linkedhub.Device{}, err
	}
	var d device
	if _, err := r.do(ctx, cs, http.MethodGet, "/devices/"+url.PathEscape(id), nil, nil, &d); err != nil {
		return linkedhub.Device{}, err
	}
	var t twin
	if _, err := r.do(ctx, cs, http.MethodGet, "/twins/"+url.PathEscape(id), nil, nil, &t); err != nil {
		return linkedhub.Device{}, err
	}
	out := t.device(c.HostName)
	out.GenerationID, out.ETag, out.Status = d.GenerationID, d.ETag, d.Status
	out.AuthenticationType = d.Authentication.Type
	out.PrimaryKey, out.SecondaryKey = d.Authentication.SymmetricKey.PrimaryKey, d.Authentication.SymmetricKey.SecondaryKey
	out.PrimaryThumbprint, out.SecondaryThumbprint = d.Authentication.X509Thumbprint.PrimaryThumbprint, d.Authentication.X509Thumbprint.SecondaryThumbprint
	out.ConnectionState, out.ConnectionStateUpdatedTime = d.ConnectionState, d.ConnectionStateUpdatedTime
	out.StatusUpdatedTime, out.LastActivityTime = d.StatusUpdatedTime, d.LastActivityTime
	out.CloudToDeviceMessageCount, out.IoTEdge = d.CloudToDeviceMessageCount, d.Capabilities.IoTEdge
	return out, nil
}
