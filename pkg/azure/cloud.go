// Package azure signs dpsctl in to Microsoft Entra ID and finds a Device
// Provisioning Service through Azure Resource Manager (ARM): credentials
// (Azure CLI, environment, workload identity, managed identity, device
// code), bearer tokens for the DPS service API cached and renewed for the
// whole run, the instance's host name, ID scope and keys, its linked IoT
// hubs and their keys, and the sovereign clouds.
//
// It is the only package that imports azidentity and the ARM modules: the
// service API client (pkg/dps) takes a TokenSource through its Authorizer
// interface.
package azure

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Cloud is an Azure cloud: where its resource manager and its Entra ID
// authority are, and the token audience of the DPS service API in it.
type Cloud struct {
	Name string
	// ARMEndpoint is the resource manager's base URL.
	ARMEndpoint string
	// ARMAudience is the token audience of the resource manager.
	ARMAudience string
	// AuthorityHost is the Entra ID authority (login endpoint).
	AuthorityHost string
	// DPSResource is the token resource of the DPS service API; its scope
	// is DPSResource + "/.default".
	DPSResource string
}

// Names of the clouds, as "az cloud list" spells them.
const (
	AzureCloud        = "AzureCloud"
	AzureChinaCloud   = "AzureChinaCloud"
	AzureUSGovernment = "AzureUSGovernment"
)

// The clouds' endpoints, as azcore's cloud configurations give them.
var clouds = []Cloud{
	{
		Name:          AzureCloud,
		ARMEndpoint:   "https://management.azure.com",
		ARMAudience:   "https://management.core.windows.net/",
		AuthorityHost: "https://login.microsoftonline.com/",
		DPSResource:   "https://azure-devices-provisioning.net",
	},
	{
		Name:          AzureChinaCloud,
		ARMEndpoint:   "https://management.chinacloudapi.cn",
		ARMAudience:   "https://management.core.chinacloudapi.cn/",
		AuthorityHost: "https://login.chinacloudapi.cn/",
		DPSResource:   "https://azure-devices-provisioning.cn",
	},
	{
		Name:          AzureUSGovernment,
		ARMEndpoint:   "https://management.usgovcloudapi.net",
		ARMAudience:   "https://management.core.usgovcloudapi.net/",
		AuthorityHost: "https://login.microsoftonline.us/",
		DPSResource:   "https://azure-devices-provisioning.us",
	},
}

// CloudNames lists the known clouds.
func CloudNames() []string {
	names := make([]string, len(clouds))
	for i, c := range clouds {
		names[i] = c.Name
	}
	return names
}

// LookupCloud returns the named cloud (case-insensitive); "" is AzureCloud.
func LookupCloud(name string) (Cloud, error) {
	if name == "" {
		return clouds[0], nil
	}
	for _, c := range clouds {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Cloud{}, fmt.Errorf("unknown cloud %q: use one of %s", name, strings.Join(CloudNames(), ", "))
}

// WithEndpoints returns c with its resource manager and Entra ID authority
// moved to the given base URLs ("" keeps the cloud's). They must be https
// URLs with a host and no query: tokens are sent to them.
func (c Cloud) WithEndpoints(armEndpoint, authorityHost string) (Cloud, error) {
	if armEndpoint != "" {
		u, err := checkEndpoint(armEndpoint)
		if err != nil {
			return Cloud{}, fmt.Errorf("resource manager endpoint: %w", err)
		}
		c.ARMEndpoint = u
	}
	if authorityHost != "" {
		u, err := checkEndpoint(authorityHost)
		if err != nil {
			return Cloud{}, fmt.Errorf("authority host: %w", err)
		}
		c.AuthorityHost = u + "/"
	}
	return c, nil
}

func checkEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an https URL of a host", s)
	}
	return "https://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/"), nil
}

// DPSScope is the token scope of the DPS service API.
func (c Cloud) DPSScope() string { return c.DPSResource + "/.default" }

// Configuration is c as azcore's cloud configuration.
func (c Cloud) Configuration() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: c.AuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: c.ARMEndpoint, Audience: c.ARMAudience},
		},
	}
}
