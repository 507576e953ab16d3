// Package linkedhub describes the IoT hubs linked to a provisioning service
// and the device identities in their registries, and declares Service: what
// the hub commands manage them through. The local provisioning service
// (server.Instance) implements it on its store; a client of the management
// plane can implement it for a service in Azure.
package linkedhub

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
)

// ErrNotFound is matched (errors.Is) by the errors of a Service for a hub
// that is not linked or a device that is in no registry.
var ErrNotFound = errors.New("not found")

// Service manages the hubs linked to one provisioning service and reads
// their device registries.
type Service interface {
	// LinkedHubs returns the linked hubs in link order.
	LinkedHubs(ctx context.Context) ([]Hub, error)
	// LinkHub links a hub by host name, or changes the allocation weight
	// and the apply-allocation-policy flag of a linked one, and returns
	// the hub as it is then linked.
	LinkHub(ctx context.Context, hostName string, weight int, applyAllocationPolicy bool) (Hub, error)
	// UnlinkHub unlinks a hub (ErrNotFound if it is not linked). The
	// devices of its registry stay there.
	UnlinkHub(ctx context.Context, hostName string) error
	// CountHubDevices counts the devices of a hub's registry, or of every
	// hub's when hub is empty.
	CountHubDevices(ctx context.Context, hub string) (int, error)
	// HubDevices walks the devices of a hub's registry, or of every hub's
	// when hub is empty, in the order they were created. An error ends the
	// sequence.
	HubDevices(ctx context.Context, hub string) iter.Seq2[Device, error]
	// HubDevice returns a device of a hub's registry. An empty hub
	// searches every hub; the device must then be in exactly one.
	// ErrNotFound means no registry searched has it.
	HubDevice(ctx context.Context, hub, id string) (Device, error)
}

// ConnectionStringLinker is implemented by a Service that can link a hub
// by its connection string (a provisioning service in Azure, whose hubs may
// be in another subscription): hostName is the hub's, or "" to take the
// connection string's.
type ConnectionStringLinker interface {
	LinkHubConnectionString(ctx context.Context, hostName, connectionString string, weight int, applyAllocationPolicy bool) (Hub, error)
}

// Hub is a linked IoT hub.
type Hub struct {
	HostName         string
	ConnectionString string
	// AllocationWeight weighs the hub in the hashed allocation policy.
	AllocationWeight int
	// ApplyAllocationPolicy lets the service's allocation policy pick the
	// hub for enrollments that name no hubs.
	ApplyAllocationPolicy bool
}

// Authentication types of devices, spelled as IoT Hub does.
const (
	AuthSAS        = "sas"
	AuthSelfSigned = "selfSigned"
)

// Connection states of devices, spelled as IoT Hub does.
const (
	ConnectionDisconnected = "Disconnected"
	ConnectionConnected    = "Connected"
)

// Device is a device identity in a hub's registry: what the provisioning
// service created when it assigned the device, and what the hub recorded
// when the device connected. Its JSON is what the hub commands print.
type Device struct {
	HubHostName    string `json:"hubHostName"`
	DeviceID       string `json:"deviceId"`
	RegistrationID string `json:"registrationId,omitempty"`
	GenerationID   string `json:"generationId,omitempty"`
	ETag           string `json:"etag,omitempty"`
	Status         string `json:"status"` // enabled or disabled

	// AuthenticationType is AuthSAS (keys) or AuthSelfSigned (thumbprints).
	AuthenticationType  string `json:"authenticationType"`
	PrimaryKey          string `json:"primaryKey,omitempty"`
	SecondaryKey        string `json:"secondaryKey,omitempty"`
	PrimaryThumbprint   string `json:"primaryThumbprint,omitempty"`
	SecondaryThumbprint string `json:"secondaryThumbprint,omitempty"`
	IoTEdge             bool   `json:"iotEdge"`

	ConnectionState            string `json:"connectionState"`
	ConnectionStateUpdatedTime string `json:"connectionStateUpdatedTime,omitempty"`
	LastActivityTime           string `json:"lastActivityTime,omitempty"`
	StatusUpdatedTime          string `json:"statusUpdatedTime,omitempty"`
	CreatedTime                string `json:"createdTime,omitempty"`
	LastUpdatedTime            string `json:"lastUpdatedTime,omitempty"`
	CloudToDeviceMessageCount  int    `json:"cloudToDeviceMessageCount"`
	DeviceToCloudMessageCount  int64  `json:"deviceToCloudMessageCount"`

	// The twin: tags and desired properties start from the initial twin.
	Tags         json.RawMessage `json:"tags,omitempty"`
	Desired      json.RawMessage `json:"desired,omitempty"`
	Reported     json.RawMessage `json:"reported,omitempty"`
	TwinVersion  int64           `json:"twinVersion,omitempty"`
	TwinModified string          `json:"twinModified,omitempty"`
}
