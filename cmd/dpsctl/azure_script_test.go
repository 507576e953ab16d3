package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dpsctl/dpsctl/pkg/azure/armtest"
)

// scriptSubscription is the subscription the fake az is signed in to.
const scriptSubscription = "00000000-0000-0000-0000-0000000000a1"

// fakeAz answers as the Azure CLI does what dpsctl asks of it: a token
// ($FAKE_AZ_TOKEN, default "good"; "az login" needed when $FAKE_AZ_FAIL is
// set) and the current subscription; logs its arguments to $AZ_LOG.
const fakeAz = `#!/bin/sh
[ -n "$AZ_LOG" ] && echo "$@" >> "$AZ_LOG"
if [ -n "$FAKE_AZ_FAIL" ]; then
  echo "ERROR: Please run 'az login' to setup account." >&2
  exit 1
fi
case "$2" in
get-access-token) echo "{\"accessToken\":\"${FAKE_AZ_TOKEN:-good}\",\"expires_on\":4102444800,\"tokenType\":\"Bearer\"}";;
show) echo '{"id":"` + scriptSubscription + `","name":"dev","isDefault":true}';;
*) echo "fake az: unexpected $*" >&2; exit 2;;
esac
`

// azure start: serves the ARM look-alike (pkg/azure/armtest) on 127.0.0.1
// with the provisioning service "mydps" in resource group "rg" (whose
// service API it also answers, with bearer tokens only) and the IoT hub
// "hub1"; with a "serve start" before it, also "localdps", the served
// instance with its owner key. Puts a fake az on PATH, points
// DPSCTL_ARM_ENDPOINT at the server and DPSCTL_CA_FILE at a bundle of its
// CA and the served one, and clears DPSCTL_CONNECTION_STRING (kept in
// LOCAL_CONNECTION_STRING) so that commands name instances.
func cmdAzure(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || args[0] != "start" {
		ts.Fatalf("usage: azure start")
	}
	srv, err := armtest.Start(ts.MkAbs("."), scriptSubscription)
	ts.Check(err)
	ts.Defer(srv.Close)
	srv.AddDPS(armtest.DPS{
		Name: "mydps", ResourceGroup: "rg", Location: "westeurope", HostName: srv.Host, IDScope: "0ne000000A1",
		Policies: []armtest.Policy{
			{KeyName: "provisioningserviceowner", PrimaryKey: "b3duZXIta2V5LW9mLW15ZHBzLTMyLWJ5dGVzISEhIQ==", SecondaryKey: "c2Vjb25kYXJ5LWtleS1vZi1teWRwcy0zMi1ieXRlcyE=", Rights: "ServiceConfig, DeviceConnect, EnrollmentRead, EnrollmentWrite, RegistrationStatusRead, RegistrationStatusWrite"},
			{KeyName: "enrollmentread", PrimaryKey: "cmVhZGVyLWtleS1vZi1teWRwcy0zMi1ieXRlcyEhISE=", SecondaryKey: "cmVhZGVyLXNlY29uZGFyeS1rZXktMzItYnl0ZXMhISE=", Rights: "EnrollmentRead"},
		},
		LinkedHubs:   []armtest.LinkedHub{{ConnectionString: "HostName=hub1.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=aHViMS1vd25lci1rZXktMzItYnl0ZXMtbG9uZyEhISE=", Location: "westeurope", AllocationWeight: 1, ApplyAllocationPolicy: true}},
		Certificates: []armtest.Certificate{{Name: "root", Subject: "CN=dpsctl test root", Thumbprint: "0123456789ABCDEF0123456789ABCDEF01234567", Expiry: "Wed, 01 Jan 2031 00:00:00 GMT", Verified: true}},
	})
	// "hubdps" links no hub yet; the hub "hub1" is served by the look-alike
	// itself (its registry too), so that linking it and reading its devices
	// stays on 127.0.0.1.
	srv.AddDPS(armtest.DPS{Name: "hubdps", ResourceGroup: "rg", Location: "westeurope", HostName: srv.Host, IDScope: "0ne000000A2"})
	srv.AddHub(armtest.Hub{Name: "hub1", ResourceGroup: "rg", Location: "westeurope", HostName: srv.Host,
		Policies: []armtest.Policy{{KeyName: "iothubowner", PrimaryKey: "aHViMS1vd25lci1rZXktMzItYnl0ZXMtbG9uZyEhISE=", SecondaryKey: "aHViMS1zZWNvbmRhcnkta2V5LTMyLWJ5dGVzLWxvbmc=", Rights: "RegistryWrite, ServiceConnect, DeviceConnect"}},
		Devices: []armtest.HubDevice{
			{DeviceID: "dev-1", Status: "enabled", AuthType: "sas", PrimaryKey: "ZGV2LTEta2V5LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo", ConnectionState: "Connected", Tags: map[string]any{"site": "lab"}},
			{DeviceID: "dev-2", Status: "disabled", AuthType: "selfSigned", ConnectionState: "Disconnected"},
		}})
	srv.AddHub(armtest.Hub{Name: "hub2", ResourceGroup: "rg2", Location: "northeurope", HostName: "hub2.azure-devices.net",
		Policies: []armtest.Policy{{KeyName: "iothubowner", PrimaryKey: "aHViMi1vd25lci1rZXktMzItYnl0ZXMtbG9uZyEhISE=", SecondaryKey: "aHViMi1zZWNvbmRhcnkta2V5LTMyLWJ5dGVzLWxvbmc=", Rights: "RegistryWrite, ServiceConnect, DeviceConnect"}}})

	bundle := ts.ReadFile(srv.CAFile)
	if cs := ts.Getenv("DPSCTL_CONNECTION_STRING"); cs != "" {
		var host, key string
		for _, part := range strings.Split(cs, ";") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "HostName":
				host = v
			case "SharedAccessKey":
				key = v
			}
		}
		srv.AddDPS(armtest.DPS{Name: "localdps", ResourceGroup: "rg", Location: "westeurope", HostName: host, IDScope: ts.Getenv("SERVE_ID_SCOPE"),
			Policies: []armtest.Policy{{KeyName: "provisioningserviceowner", PrimaryKey: key, SecondaryKey: key, Rights: "ServiceConfig, EnrollmentRead, EnrollmentWrite, RegistrationStatusRead, RegistrationStatusWrite"}}})
		if ca := ts.Getenv("DPSCTL_CA_FILE"); ca != "" {
			bundle += ts.ReadFile(ca)
		}
	}
	caFile := ts.MkAbs("azure-ca.pem")
	ts.Check(os.WriteFile(caFile, []byte(bundle), 0o644))
	bin := ts.MkAbs("azbin")
	ts.Check(os.MkdirAll(bin, 0o755))
	ts.Check(os.WriteFile(filepath.Join(bin, "az"), []byte(fakeAz), 0o755))

	ts.Setenv("LOCAL_CONNECTION_STRING", ts.Getenv("DPSCTL_CONNECTION_STRING"))
	ts.Setenv("DPSCTL_CONNECTION_STRING", "")
	ts.Setenv("PATH", bin+string(os.PathListSeparator)+ts.Getenv("PATH"))
	ts.Setenv("DPSCTL_ARM_ENDPOINT", srv.URL)
	ts.Setenv("DPSCTL_CA_FILE", caFile)
	ts.Setenv("ARM_HOST", srv.Host)
	ts.Setenv("AZ_SUBSCRIPTION", scriptSubscription)
	ts.Setenv("AZ_LOG", ts.MkAbs("az.log"))
	ts.Setenv("ARM_CA_FILE", srv.CAFile)
	fmt.Fprintf(ts.Stdout(), "ARM look-alike on %s\n", srv.URL)
}

// azureEnv are the variables of the Azure settings and of the fake az,
// cleared for every script and passed on by exitcode.
var azureEnv = []string{
	"DPSCTL_AUTH_TYPE", "DPSCTL_CREDENTIAL", "DPSCTL_DPS_NAME", "DPSCTL_RESOURCE_GROUP", "DPSCTL_SUBSCRIPTION",
	"DPSCTL_HOST", "DPSCTL_CLOUD", "DPSCTL_ARM_ENDPOINT", "DPSCTL_AUTHORITY_HOST", "FAKE_AZ_TOKEN", "FAKE_AZ_FAIL", "AZ_LOG",
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "SSL_CERT_FILE",
}
