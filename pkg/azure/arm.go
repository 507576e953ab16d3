package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/iothub/armiothub"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// ARMOptions configure an ARM client.
type ARMOptions struct {
	Credential   azcore.TokenCredential
	Subscription string
	Cloud        Cloud
	// Transport carries the requests (an *http.Client, or a fake server's
	// transport in tests); nil is the default.
	Transport policy.Transporter
	// HubTransport, when set, carries the IoT Hub requests instead of
	// Transport (tests with two fake servers).
	HubTransport policy.Transporter
}

// ARM finds provisioning services and IoT hubs of one subscription.
type ARM struct {
	sub   string
	dps   *armdeviceprovisioningservices.IotDpsResourceClient
	certs *armdeviceprovisioningservices.DpsCertificateClient
	hubs  *armiothub.ResourceClient
}

// NewARM builds the clients; it talks to nothing yet.
func NewARM(o ARMOptions) (*ARM, error) {
	if o.Subscription == "" {
		return nil, errors.New("no subscription: give --subscription, or sign in with az login")
	}
	if o.Cloud.ARMEndpoint == "" {
		o.Cloud, _ = LookupCloud("")
	}
	opts := func(tr policy.Transporter) *arm.ClientOptions {
		co := &arm.ClientOptions{}
		co.Cloud = o.Cloud.Configuration()
		if tr == nil {
			tr = http.DefaultClient
		}
		co.Transport = certainTransport{tr}
		co.Retry.MaxRetries = 3
		return co
	}
	a := &ARM{sub: o.Subscription}
	var err error
	if a.dps, err = armdeviceprovisioningservices.NewIotDpsResourceClient(o.Subscription, o.Credential, opts(o.Transport)); err != nil {
		return nil, err
	}
	if a.certs, err = armdeviceprovisioningservices.NewDpsCertificateClient(o.Subscription, o.Credential, opts(o.Transport)); err != nil {
		return nil, err
	}
	hubTr := o.HubTransport
	if hubTr == nil {
		hubTr = o.Transport
	}
	if a.hubs, err = armiothub.NewResourceClient(o.Subscription, o.Credential, opts(hubTr)); err != nil {
		return nil, err
	}
	return a, nil
}

// Subscription is the subscription searched.
func (a *ARM) Subscription() string { return a.sub }

// Instance is a provisioning service as the resource manager describes it.
type Instance struct {
	Name          string `json:"name"`
	ResourceGroup string `json:"resourceGroup"`
	Subscription  string `json:"subscription"`
	Location      string `json:"location,omitempty"`
	// HostName is the host of the service API.
	HostName string `json:"hostName"`
	IDScope  string `json:"idScope"`
	// DeviceEndpoint is the global device endpoint devices register with.
	DeviceEndpoint   string      `json:"deviceEndpoint"`
	AllocationPolicy string      `json:"allocationPolicy"`
	LinkedHubs       []LinkedHub `json:"linkedHubs"`
	ETag             string      `json:"etag,omitempty"`

	raw armdeviceprovisioningservices.ProvisioningServiceDescription
}

// LinkedHub is an IoT hub linked to a provisioning service.
type LinkedHub struct {
	// Name is the hub's host name, as ARM derives it from the connection
	// string.
	Name                  string `json:"name"`
	ConnectionString      string `json:"connectionString"`
	Location              string `json:"location"`
	AllocationWeight      int    `json:"allocationWeight"`
	ApplyAllocationPolicy bool   `json:"applyAllocationPolicy"`
}

// Instance returns the provisioning service name of resource group rg; an
// empty rg searches the subscription, where the name must be unique.
func (a *ARM) Instance(ctx context.Context, rg, name string) (*Instance, error) {
	if name == "" {
		return nil, errors.New("no provisioning service name: give --dps-name")
	}
	if rg == "" {
		found, err := a.findInstance(ctx, name)
		if err != nil {
			return nil, err
		}
		rg = found
	}
	resp, err := a.dps.Get(ctx, name, rg, nil)
	if err != nil {
		return nil, armError(fmt.Sprintf("get provisioning service %s in resource group %s", name, rg), err)
	}
	return newInstance(resp.ProvisioningServiceDescription, a.sub, rg), nil
}

// findInstance returns the resource group of the service name.
func (a *ARM) findInstance(ctx context.Context, name string) (string, error) {
	var groups []string
	pager := a.dps.NewListBySubscriptionPager(nil)
	for pages := 0; pager.More() && pages < 100; pages++ {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return "", armError("list the provisioning services of subscription "+a.sub, err)
		}
		for _, d := range page.Value {
			if d != nil && strings.EqualFold(deref(d.Name), name) {
				groups = append(groups, ResourceGroupOf(deref(d.ID)))
			}
		}
	}
	switch len(groups) {
	case 0:
		return "", &ARMError{Op: "find provisioning service " + name, StatusCode: http.StatusNotFound, Code: "ResourceNotFound",
			Message: fmt.Sprintf("no provisioning service %q in subscription %s", name, a.sub)}
	case 1:
		return groups[0], nil
	}
	return "", fmt.Errorf("provisioning service %q is in several resource groups of subscription %s (%s): give --resource-group", name, a.sub, strings.Join(groups, ", "))
}

func newInstance(d armdeviceprovisioningservices.ProvisioningServiceDescription, sub, rg string) *Instance {
	in := &Instance{Name: deref(d.Name), ResourceGroup: rg, Subscription: sub, Location: deref(d.Location), ETag: deref(d.Etag), raw: d, LinkedHubs: []LinkedHub{}}
	if id := deref(d.ID); id != "" {
		if g := ResourceGroupOf(id); g != "" {
			in.ResourceGroup = g
		}
	}
	if p := d.Properties; p != nil {
		in.HostName = deref(p.ServiceOperationsHostName)
		in.IDScope = deref(p.IDScope)
		in.DeviceEndpoint = deref(p.DeviceProvisioningHostName)
		if p.AllocationPolicy != nil {
			in.AllocationPolicy = string(*p.AllocationPolicy)
		}
		for _, h := range p.IotHubs {
			if h == nil {
				continue
			}
			lh := LinkedHub{Name: deref(h.Name), ConnectionString: deref(h.ConnectionString), Location: deref(h.Location)}
			if h.AllocationWeight != nil {
				lh.AllocationWeight = int(*h.AllocationWeight)
			}
			if h.ApplyAllocationPolicy != nil {
				lh.ApplyAllocationPolicy = *h.ApplyAllocationPolicy
			}
			if lh.Name == "" {
				lh.Name = hostOf(lh.ConnectionString)
			}
			in.LinkedHubs = append(in.LinkedHubs, lh)
		}
	}
	return in
}

// ResourceGroupOf returns the resource group of an ARM resource ID, "" if
// it names none.
func ResourceGroupOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// hostOf returns the HostName of a connection string.
func hostOf(cs string) string {
	for part := range strings.SplitSeq(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), "HostName") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Policy is a shared access policy of a provisioning service.
type Policy = sas.Policy

// OwnerPolicy is the policy every provisioning service is created with.
const OwnerPolicy = "provisioningserviceowner"

// Keys lists the shared access policies of in with their keys (listKeys).
func (a *ARM) Keys(ctx context.Context, in *Instance) ([]Policy, error) {
	var out []Policy
	pager := a.dps.NewListKeysPager(in.Name, in.ResourceGroup, nil)
	for pages := 0; pager.More() && pages < 100; pages++ {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, armError("list the keys of provisioning service "+in.Name, err)
		}
		for _, r := range page.Value {
			if r == nil {
				continue
			}
			p := Policy{KeyName: deref(r.KeyName), PrimaryKey: deref(r.PrimaryKey), SecondaryKey: deref(r.SecondaryKey)}
			if r.Rights != nil {
				for right := range strings.SplitSeq(string(*r.Rights), ",") {
					if right = strings.TrimSpace(right); right != "" {
						p.Rights = append(p.Rights, right)
					}
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// PickPolicy returns the named policy, or with name "" the owner policy
// if there is one, else the first policy that may write enrollments.
func PickPolicy(policies []Policy, name string) (Policy, error) {
	if name != "" {
		for _, p := range policies {
			if strings.EqualFold(p.KeyName, name) {
				return p, nil
			}
		}
		return Policy{}, fmt.Errorf("no shared access policy %q (the instance has %s)", name, policyNames(policies))
	}
	for _, p := range policies {
		if strings.EqualFold(p.KeyName, OwnerPolicy) {
			return p, nil
		}
	}
	for _, p := range policies {
		if slices.Contains(p.Rights, "EnrollmentWrite") {
			return p, nil
		}
	}
	return Policy{}, fmt.Errorf("no shared access policy may write enrollments (the instance has %s): give --policy or use --auth-type login", policyNames(policies))
}

func policyNames(policies []Policy) string {
	if len(policies) == 0 {
		return "none"
	}
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = p.KeyName
	}
	return strings.Join(names, ", ")
}

// ConnectionString is the service connection string of policy p on host.
func ConnectionString(host string, p Policy) string { return p.ConnectionString(host) }

// Target is a provisioning service in Azure with what manages it: the ARM
// client that found it, the identity signed in and the cloud, and the HTTP
// client for the data-plane calls that go with it (IoT hub registries).
type Target struct {
	ARM        *ARM
	Instance   *Instance
	Credential *Credential
	Cloud      Cloud
	HTTPClient *http.Client
}

// certainTransport stops the resource manager's retries of failures that a
// retry cannot mend: a server whose certificate is not trusted.
type certainTransport struct{ next policy.Transporter }

func (t certainTransport) Do(req *http.Request) (*http.Response, error) {
	res, err := t.next.Do(req)
	if err != nil && untrusted(err) {
		return nil, nonRetriable{err}
	}
	return res, err
}

func untrusted(err error) bool {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie)
}

// nonRetriable is an error azcore's retry policy does not retry.
type nonRetriable struct{ err error }

func (e nonRetriable) Error() string { return e.err.Error() }
func (e nonRetriable) Unwrap() error { return e.err }
func (nonRetriable) NonRetriable()   {}

// Certificates returns the client of the certificates API of provisioning
// services (the CA certificates and their proof of possession), for
// cacert/armca.
func (a *ARM) Certificates() *armdeviceprovisioningservices.DpsCertificateClient { return a.certs }
