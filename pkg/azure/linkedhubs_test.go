package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	dpsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/iothub/armiothub"
	hubfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/iothub/armiothub/fake"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
)

// fakeHubs is an instance with one linked hub on the SDK's fake servers,
// the IoT hub "hub2" in the subscription, and a record of the updates.
func fakeHubs(t *testing.T) (*Hubs, *[]armdeviceprovisioningservices.ProvisioningServiceDescription) {
	t.Helper()
	current := description("mydps", "rg")
	var puts []armdeviceprovisioningservices.ProvisioningServiceDescription
	dps := &dpsfake.ServerFactory{}
	dps.IotDpsResourceServer.Get = func(_ context.Context, name, rg string, _ *armdeviceprovisioningservices.IotDpsResourceClientGetOptions) (resp azfake.Responder[armdeviceprovisioningservices.IotDpsResourceClientGetResponse], errResp azfake.ErrorResponder) {
		resp.SetResponse(http.StatusOK, armdeviceprovisioningservices.IotDpsResourceClientGetResponse{ProvisioningServiceDescription: current}, nil)
		return
	}
	dps.IotDpsResourceServer.BeginCreateOrUpdate = func(_ context.Context, rg, name string, d armdeviceprovisioningservices.ProvisioningServiceDescription, _ *armdeviceprovisioningservices.IotDpsResourceClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armdeviceprovisioningservices.IotDpsResourceClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		puts = append(puts, d)
		// ARM names each hub after its connection string's host
		for _, h := range d.Properties.IotHubs {
			h.Name = to.Ptr(hostOf(*h.ConnectionString))
		}
		current = d
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armdeviceprovisioningservices.IotDpsResourceClientCreateOrUpdateResponse{ProvisioningServiceDescription: d}, nil)
		return
	}
	hubs := &hubfake.ServerFactory{}
	hubs.ResourceServer.NewListBySubscriptionPager = func(*armiothub.ResourceClientListBySubscriptionOptions) (resp azfake.PagerResponder[armiothub.ResourceClientListBySubscriptionResponse]) {
		resp.AddPage(http.StatusOK, armiothub.ResourceClientListBySubscriptionResponse{DescriptionListResult: armiothub.DescriptionListResult{Value: []*armiothub.Description{{
			ID: to.Ptr("/subscriptions/sub-1/resourceGroups/hubs-rg/providers/Microsoft.Devices/IotHubs/hub2"), Name: to.Ptr("hub2"), Location: to.Ptr("northeurope"),
			Properties: &armiothub.Properties{HostName: to.Ptr("hub2.azure-devices.net")},
		}}}}, nil)
		return
	}
	hubs.ResourceServer.GetKeysForKeyName = func(_ context.Context, rg, name, key string, _ *armiothub.ResourceClientGetKeysForKeyNameOptions) (resp azfake.Responder[armiothub.ResourceClientGetKeysForKeyNameResponse], errResp azfake.ErrorResponder) {
		if rg != "hubs-rg" || name != "hub2" || key != HubOwnerPolicy {
			errResp.SetResponseError(http.StatusNotFound, "KeyNameNotFound")
			return
		}
		resp.SetResponse(http.StatusOK, armiothub.ResourceClientGetKeysForKeyNameResponse{SharedAccessSignatureAuthorizationRule: armiothub.SharedAccessSignatureAuthorizationRule{
			KeyName: to.Ptr(HubOwnerPolicy), PrimaryKey: to.Ptr("aHViMg=="),
		}}, nil)
		return
	}
	a, err := NewARM(ARMOptions{Credential: &azfake.TokenCredential{}, Subscription: "sub-1",
		Transport: dpsfake.NewServerFactoryTransport(dps), HubTransport: hubfake.NewServerFactoryTransport(hubs)})
	if err != nil {
		t.Fatal(err)
	}
	in, err := a.Instance(t.Context(), "rg", "mydps")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHubs(&Target{ARM: a, Instance: in})
	h.PollFrequency = 1 // the fake answers at once
	return h, &puts
}

func TestLinkUpdateUnlinkThroughARM(t *testing.T) {
	h, puts := fakeHubs(t)
	ctx := t.Context()

	hub, err := h.LinkHub(ctx, "hub2", 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if hub.HostName != "hub2.azure-devices.net" || hub.AllocationWeight != 3 || hub.ApplyAllocationPolicy {
		t.Fatalf("linked %+v", hub)
	}
	last := (*puts)[len(*puts)-1].Properties.IotHubs
	if len(last) != 2 || *last[1].ConnectionString != "HostName=hub2.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=aHViMg==" || *last[1].Location != "northeurope" {
		t.Fatalf("PUT hubs = %+v", last)
	}

	// linking again by host name updates in place
	if hub, err = h.LinkHub(ctx, "hub2.azure-devices.net", 7, true); err != nil || hub.AllocationWeight != 7 || !hub.ApplyAllocationPolicy {
		t.Fatalf("update: %+v, %v", hub, err)
	}
	linked, err := h.LinkedHubs(ctx)
	if err != nil || len(linked) != 2 {
		t.Fatalf("LinkedHubs = %+v, %v", linked, err)
	}

	// by connection string: a hub of another subscription
	hub, err = h.LinkHubConnectionString(ctx, "", "HostName=hub3.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=aHViMw==", 1, true)
	if err != nil || hub.HostName != "hub3.azure-devices.net" {
		t.Fatalf("by connection string: %+v, %v", hub, err)
	}

	if err := h.UnlinkHub(ctx, "hub2"); err != nil {
		t.Fatal(err)
	}
	if err := h.UnlinkHub(ctx, "hub2"); !errors.Is(err, linkedhub.ErrNotFound) {
		t.Fatalf("unlink twice: %v", err)
	}
	linked, _ = h.LinkedHubs(ctx)
	if len(linked) != 2 || linked[0].HostName != "hub1.azure-devices.net" || linked[1].HostName != "hub3.azure-devices.net" {
		t.Fatalf("after unlink: %+v", linked)
	}

	_, err = h.LinkHub(ctx, "nowhere", 1, true)
	var ae *ARMError
	if !errors.As(err, &ae) || !ae.NotFound() || !strings.Contains(err.Error(), "--connection-string") {
		t.Fatalf("unknown hub: %v", err)
	}
	if _, err := h.CountHubDevices(ctx, "nowhere"); !errors.Is(err, linkedhub.ErrNotFound) {
		t.Fatalf("devices of a hub not linked: %v", err)
	}
}
