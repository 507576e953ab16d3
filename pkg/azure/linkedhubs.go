package azure

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
)

// HubOwnerPolicy is the IoT hub policy whose key links a hub (it holds
// RegistryWrite and ServiceConnect).
const HubOwnerPolicy = "iothubowner"

// Hubs is the linkedhub.Service of an Azure instance: linked hubs through
// the resource manager (a read-modify-write of the instance with If-Match),
// hub keys through the IoT Hub resource provider, devices through each
// hub's registry API.
type Hubs struct {
	t        *Target
	registry *Registry
	// PollFrequency is how often a long-running update is polled.
	PollFrequency time.Duration
}

// NewHubs manages the hubs of t.
func NewHubs(t *Target) *Hubs {
	return &Hubs{t: t, registry: NewRegistry(t.HTTPClient), PollFrequency: 2 * time.Second}
}

var _ linkedhub.Service = (*Hubs)(nil)

func (h *Hubs) get(ctx context.Context) (armdeviceprovisioningservices.ProvisioningServiceDescription, error) {
	in := h.t.Instance
	resp, err := h.t.ARM.dps.Get(ctx, in.Name, in.ResourceGroup, nil)
	if err != nil {
		return resp.ProvisioningServiceDescription, armError("get provisioning service "+in.Name, err)
	}
	return resp.ProvisioningServiceDescription, nil
}

// LinkedHubs returns the linked hubs, their keys hidden as ARM hides them.
func (h *Hubs) LinkedHubs(ctx context.Context) ([]linkedhub.Hub, error) {
	d, err := h.get(ctx)
	if err != nil {
		return nil, err
	}
	in := newInstance(d, h.t.ARM.sub, h.t.Instance.ResourceGroup)
	out := make([]linkedhub.Hub, 0, len(in.LinkedHubs))
	for _, l := range in.LinkedHubs {
		out = append(out, linkedhub.Hub{HostName: l.Name, ConnectionString: l.ConnectionString, AllocationWeight: l.AllocationWeight, ApplyAllocationPolicy: l.ApplyAllocationPolicy})
	}
	return out, nil
}

// LinkHub links the hub named hostName (its host name, or its resource
// name), whose owner key is read through the resource manager, or updates
// the weight and flag of a linked one.
func (h *Hubs) LinkHub(ctx context.Context, hostName string, weight int, apply bool) (linkedhub.Hub, error) {
	return h.LinkHubConnectionString(ctx, hostName, "", weight, apply)
}

// LinkHubConnectionString is LinkHub with the hub's connection string
// given (a hub of another subscription, say); cs "" reads it through the
// resource manager.
func (h *Hubs) LinkHubConnectionString(ctx context.Context, hostName, cs string, weight int, apply bool) (linkedhub.Hub, error) {
	d, err := h.get(ctx)
	if err != nil {
		return linkedhub.Hub{}, err
	}
	if d.Properties == nil {
		d.Properties = &armdeviceprovisioningservices.IotDpsPropertiesDescription{}
	}
	if cs != "" {
		if hostName = hostOf(cs); hostName == "" {
			return linkedhub.Hub{}, errors.New("the IoT hub connection string has no HostName")
		}
	}
	var target *armdeviceprovisioningservices.IotHubDefinitionDescription
	for _, l := range d.Properties.IotHubs {
		if l != nil && hubMatches(l, hostName) {
			target = l
		}
	}
	if target == nil {
		location := deref(d.Location)
		if cs == "" {
			var loc string
			if cs, loc, err = h.t.ARM.HubConnectionString(ctx, hostName); err != nil {
				return linkedhub.Hub{}, err
			}
			if loc != "" {
				location = loc
			}
		}
		target = &armdeviceprovisioningservices.IotHubDefinitionDescription{ConnectionString: to.Ptr(cs), Location: to.Ptr(location)}
		d.Properties.IotHubs = append(d.Properties.IotHubs, target)
		hostName = hostOf(cs)
	} else if cs != "" {
		target.ConnectionString = to.Ptr(cs)
	}
	target.AllocationWeight = to.Ptr(int32(weight))
	target.ApplyAllocationPolicy = to.Ptr(apply)
	in, err := h.put(ctx, d)
	if err != nil {
		return linkedhub.Hub{}, err
	}
	for _, l := range in.LinkedHubs {
		if strings.EqualFold(l.Name, hostName) {
			return linkedhub.Hub{HostName: l.Name, ConnectionString: l.ConnectionString, AllocationWeight: l.AllocationWeight, ApplyAllocationPolicy: l.ApplyAllocationPolicy}, nil
		}
	}
	return linkedhub.Hub{}, fmt.Errorf("IoT hub %s is not linked after the update of %s", hostName, h.t.Instance.Name)
}

func hubMatches(l *armdeviceprovisioningservices.IotHubDefinitionDescription, hostName string) bool {
	host := hostOf(deref(l.ConnectionString))
	name := deref(l.Name)
	short, _, _ := strings.Cut(host, ".")
	return strings.EqualFold(host, hostName) || strings.EqualFold(name, hostName) || strings.EqualFold(short, hostName)
}

// UnlinkHub unlinks a hub; linkedhub.ErrNotFound if it is not linked.
func (h *Hubs) UnlinkHub(ctx context.Context, hostName string) error {
	d, err := h.get(ctx)
	if err != nil {
		return err
	}
	if d.Properties == nil {
		return fmt.Errorf("IoT hub %s: %w", hostName, linkedhub.ErrNotFound)
	}
	kept := d.Properties.IotHubs[:0]
	found := false
	for _, l := range d.Properties.IotHubs {
		if l != nil && hubMatches(l, hostName) {
			found = true
			continue
		}
		kept = append(kept, l)
	}
	if !found {
		return fmt.Errorf("IoT hub %s is not linked to %s: %w", hostName, h.t.Instance.Name, linkedhub.ErrNotFound)
	}
	d.Properties.IotHubs = kept
	_, err = h.put(ctx, d)
	return err
}

// put writes the instance back with If-Match and waits for the update.
func (h *Hubs) put(ctx context.Context, d armdeviceprovisioningservices.ProvisioningServiceDescription) (*Instance, error) {
	in := h.t.Instance
	op := "update provisioning service " + in.Name
	if d.Etag != nil {
		// read-modify-write: a concurrent change makes ARM answer 412
		ctx = policy.WithHTTPHeader(ctx, http.Header{"If-Match": {*d.Etag}})
	}
	poller, err := h.t.ARM.dps.BeginCreateOrUpdate(ctx, in.ResourceGroup, in.Name, d, nil)
	if err != nil {
		return nil, armError(op, err)
	}
	resp, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: h.PollFrequency})
	if err != nil {
		return nil, armError(op, err)
	}
	return newInstance(resp.ProvisioningServiceDescription, h.t.ARM.sub, in.ResourceGroup), nil
}

// connectionString returns the owner connection string of a linked hub,
// read through the resource manager (ARM hides the keys of linked hubs).
func (h *Hubs) connectionString(ctx context.Context, host string) (string, error) {
	cs, _, err := h.t.ARM.HubConnectionString(ctx, host)
	return cs, err
}

// hubHosts returns the host names of the linked hubs, or [hub] when hub
// is given and linked.
func (h *Hubs) hubHosts(ctx context.Context, hub string) ([]string, error) {
	linked, err := h.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, l := range linked {
		short, _, _ := strings.Cut(l.HostName, ".")
		if hub == "" || strings.EqualFold(l.HostName, hub) || strings.EqualFold(short, hub) {
			hosts = append(hosts, l.HostName)
		}
	}
	if hub != "" && len(hosts) == 0 {
		return nil, fmt.Errorf("IoT hub %s is not linked to %s: %w", hub, h.t.Instance.Name, linkedhub.ErrNotFound)
	}
	return hosts, nil
}

// CountHubDevices counts the devices of a hub's registry, or of every
// linked hub's.
func (h *Hubs) CountHubDevices(ctx context.Context, hub string) (int, error) {
	hosts, err := h.hubHosts(ctx, hub)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, host := range hosts {
		cs, err := h.connectionString(ctx, host)
		if err != nil {
			return 0, err
		}
		n, err := h.registry.Count(ctx, cs)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// HubDevices walks the devices of a hub's registry, or of every linked
// hub's.
func (h *Hubs) HubDevices(ctx context.Context, hub string) iter.Seq2[linkedhub.Device, error] {
	return func(yield func(linkedhub.Device, error) bool) {
		hosts, err := h.hubHosts(ctx, hub)
		if err != nil {
			yield(linkedhub.Device{}, err)
			return
		}
		for _, host := range hosts {
			cs, err := h.connectionString(ctx, host)
			if err != nil {
				yield(linkedhub.Device{}, err)
				return
			}
			for d, err := range h.registry.Devices(ctx, cs) {
				if !yield(d, err) || err != nil {
					return
				}
			}
		}
	}
}

// HubDevice returns a device of a hub's registry; with hub "" it must be
// in exactly one linked hub.
func (h *Hubs) HubDevice(ctx context.Context, hub, id string) (linkedhub.Device, error) {
	hosts, err := h.hubHosts(ctx, hub)
	if err != nil {
		return linkedhub.Device{}, err
	}
	var found []linkedhub.Device
	for _, host := range hosts {
		cs, err := h.connectionString(ctx, host)
		if err != nil {
			return linkedhub.Device{}, err
		}
		d, err := h.registry.Device(ctx, cs, id)
		if errors.Is(err, linkedhub.ErrNotFound) {
			continue
		}
		if err != nil {
			return linkedhub.Device{}, err
		}
		found = append(found, d)
	}
	switch len(found) {
	case 0:
		return linkedhub.Device{}, fmt.Errorf("device %s: %w", id, linkedhub.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return linkedhub.Device{}, fmt.Errorf("device %s is in %d hubs: name one with --hub", id, len(found))
}

// HubConnectionString finds the IoT hub nameOrHost (its resource name or
// host name) in the subscription and returns the connection string of its
// owner policy and its location.
func (a *ARM) HubConnectionString(ctx context.Context, nameOrHost string) (cs, location string, err error) {
	short, _, _ := strings.Cut(nameOrHost, ".")
	pager := a.hubs.NewListBySubscriptionPager(nil)
	for pages := 0; pager.More() && pages < 100; pages++ {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return "", "", armError("list the IoT hubs of subscription "+a.sub, err)
		}
		for _, hub := range page.Value {
			if hub == nil {
				continue
			}
			name := deref(hub.Name)
			host := ""
			if hub.Properties != nil {
				host = deref(hub.Properties.HostName)
			}
			if !strings.EqualFold(host, nameOrHost) && !strings.EqualFold(name, nameOrHost) && !(strings.EqualFold(name, short) && strings.Contains(nameOrHost, ".") && host == "") {
				continue
			}
			rg := ResourceGroupOf(deref(hub.ID))
			keys, err := a.hubs.GetKeysForKeyName(ctx, rg, name, HubOwnerPolicy, nil)
			if err != nil {
				return "", "", armError(fmt.Sprintf("read the %s key of IoT hub %s", HubOwnerPolicy, name), err)
			}
			if host == "" {
				host = nameOrHost
			}
			return "HostName=" + host + ";SharedAccessKeyName=" + deref(keys.KeyName) + ";SharedAccessKey=" + deref(keys.PrimaryKey), deref(hub.Location), nil
		}
	}
	return "", "", &ARMError{Op: "find IoT hub " + nameOrHost, StatusCode: 404, Code: "ResourceNotFound",
		Message: fmt.Sprintf("no IoT hub %q in subscription %s; give its connection string with --connection-string", nameOrHost, a.sub)}
}
