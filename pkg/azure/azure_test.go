package azure

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices"
	dpsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/deviceprovisioningservices/armdeviceprovisioningservices/fake"
)

func TestLookupCloud(t *testing.T) {
	tests := []struct {
		name, want, scope, arm string
		wantErr                bool
	}{
		{"", AzureCloud, "https://azure-devices-provisioning.net/.default", "https://management.azure.com", false},
		{"azurecloud", AzureCloud, "https://azure-devices-provisioning.net/.default", "https://management.azure.com", false},
		{"AzureChinaCloud", AzureChinaCloud, "https://azure-devices-provisioning.cn/.default", "https://management.chinacloudapi.cn", false},
		{"AzureUSGovernment", AzureUSGovernment, "https://azure-devices-provisioning.us/.default", "https://management.usgovcloudapi.net", false},
		{"Mars", "", "", "", true},
	}
	for _, tt := range tests {
		c, err := LookupCloud(tt.name)
		if (err != nil) != tt.wantErr {
			t.Fatalf("LookupCloud(%q) error = %v", tt.name, err)
		}
		if err != nil {
			continue
		}
		if c.Name != tt.want || c.DPSScope() != tt.scope || c.ARMEndpoint != tt.arm {
			t.Errorf("LookupCloud(%q) = %+v", tt.name, c)
		}
	}
}

func TestWithEndpoints(t *testing.T) {
	c, _ := LookupCloud("")
	tests := []struct {
		arm, auth       string
		wantARM, wantAD string
		wantErr         bool
	}{
		{"", "", "https://management.azure.com", "https://login.microsoftonline.com/", false},
		{"https://127.0.0.1:8443/", "https://127.0.0.1:9443", "https://127.0.0.1:8443", "https://127.0.0.1:9443/", false},
		{"http://127.0.0.1:8443", "", "", "", true},
		{"https://127.0.0.1?x=1", "", "", "", true},
		{"", "ftp://x", "", "", true},
		{"127.0.0.1:80", "", "", "", true},
	}
	for _, tt := range tests {
		got, err := c.WithEndpoints(tt.arm, tt.auth)
		if (err != nil) != tt.wantErr {
			t.Fatalf("WithEndpoints(%q, %q) error = %v", tt.arm, tt.auth, err)
		}
		if err == nil && (got.ARMEndpoint != tt.wantARM || got.AuthorityHost != tt.wantAD) {
			t.Errorf("WithEndpoints(%q, %q) = %q, %q", tt.arm, tt.auth, got.ARMEndpoint, got.AuthorityHost)
		}
		if err == nil && got.Configuration().Services["resourceManager"].Endpoint != tt.wantARM {
			t.Errorf("Configuration() endpoint = %q", got.Configuration().Services["resourceManager"].Endpoint)
		}
	}
}

// countingCredential gives tokens that expire after life, counting calls.
type countingCredential struct {
	calls  int
	now    *time.Time
	life   time.Duration
	scopes []string
	err    error
}

func (c *countingCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls++
	c.scopes = o.Scopes
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: "t" + string(rune('0'+c.calls)), ExpiresOn: c.now.Add(c.life)}, nil
}

func TestTokenSourceCachesAndRenewsBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cred := &countingCredential{now: &now, life: time.Hour}
	ts := NewTokenSource(cred, "https://azure-devices-provisioning.net/.default", "hint")
	ts.now = func() time.Time { return now }
	steps := []struct {
		advance   time.Duration
		want      string
		wantCalls int
	}{
		{0, "Bearer t1", 1},
		{30 * time.Minute, "Bearer t1", 1},
		{24 * time.Minute, "Bearer t1", 1}, // 6 minutes left
		{2 * time.Minute, "Bearer t2", 2},  // 4 minutes left: renewed
		{time.Minute, "Bearer t2", 2},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		got, err := ts.Authorization(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want || cred.calls != s.wantCalls {
			t.Fatalf("step %d: %q after %d calls, want %q after %d", i, got, cred.calls, s.want, s.wantCalls)
		}
	}
	if len(cred.scopes) != 1 || cred.scopes[0] != "https://azure-devices-provisioning.net/.default" {
		t.Fatalf("scopes = %q", cred.scopes)
	}
	if ts.UnauthorizedHint() != "hint" {
		t.Fatalf("hint = %q", ts.UnauthorizedHint())
	}
}

func TestTokenSourceError(t *testing.T) {
	now := time.Now()
	cred := &Credential{kind: CredentialEnvironment, inner: &countingCredential{now: &now, err: errors.New("EnvironmentCredential: missing environment variable AZURE_TENANT_ID\nmore")}}
	_, err := NewTokenSource(cred, "s/.default", "").Authorization(t.Context())
	var se *SignInError
	if !errors.As(err, &se) || !IsAuthFailure(err) {
		t.Fatalf("error = %v, want a SignInError", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "missing environment variable AZURE_TENANT_ID") {
		t.Fatalf("message = %q", err.Error())
	}
}

// fakeAz writes an az script on a new PATH that answers "account show" and
// "account get-access-token" as the Azure CLI does, and logs its arguments.
func fakeAz(t *testing.T, script string) (log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "az.log")
	body := "#!/bin/sh\necho \"$@\" >> " + log + "\n" + script
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+"/usr/bin:/bin")
	return log
}

func TestAzureCLICredentialWithFakeAz(t *testing.T) {
	log := fakeAz(t, `case "$2" in
get-access-token) echo '{"accessToken":"cli-token","expires_on":4102444800,"tokenType":"Bearer"}';;
show) echo '{"id":"00000000-0000-0000-0000-000000000001","name":"dev"}';;
esac
`)
	cred, err := NewCredential(CredentialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cred.Kind() != CredentialAzureCLI || !strings.Contains(cred.Description(), "Azure CLI") {
		t.Fatalf("kind %q, description %q", cred.Kind(), cred.Description())
	}
	c, _ := LookupCloud("")
	ts := NewTokenSource(cred, c.DPSScope(), "")
	for range 3 {
		got, err := ts.Authorization(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != "Bearer cli-token" {
			t.Fatalf("Authorization = %q", got)
		}
	}
	sub, err := CurrentSubscription(t.Context())
	if err != nil || sub != "00000000-0000-0000-0000-000000000001" {
		t.Fatalf("CurrentSubscription = %q, %v", sub, err)
	}
	data, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "get-access-token") || !strings.Contains(lines[0], "--resource https://azure-devices-provisioning.net") || lines[1] != "account show --output json" {
		t.Fatalf("az was run as:\n%s", data)
	}
}

func TestAzureCLIFailures(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"not logged in", "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1", `run "az login"`},
		{"expired", "echo 'ERROR: AADSTS700082: The refresh token has expired due to inactivity.' >&2; exit 1", "AADSTS700082"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeAz(t, tt.script)
			cred, err := NewCredential(CredentialOptions{Kind: CredentialAzureCLI})
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewTokenSource(cred, "https://azure-devices-provisioning.net/.default", "").Token(t.Context())
			if !IsAuthFailure(err) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("token error = %q, want one line with %q", err, tt.want)
			}
			_, err = CurrentSubscription(t.Context())
			if !IsAuthFailure(err) || !strings.Contains(err.Error(), `az login`) {
				t.Fatalf("subscription error = %q", err)
			}
		})
	}
}

func TestNoAzOnPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := CurrentSubscription(t.Context())
	if !IsAuthFailure(err) || !strings.Contains(err.Error(), "not on PATH") {
		t.Fatalf("error = %v", err)
	}
	cred, err := NewCredential(CredentialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://azure-devices-provisioning.net/.default"}})
	if !IsAuthFailure(err) || !strings.Contains(err.Error(), "not on PATH") {
		t.Fatalf("error = %v", err)
	}
}

func TestNewCredentialKinds(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa")
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000bb")
	t.Setenv("AZURE_CLIENT_SECRET", "secret")
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", filepath.Join(t.TempDir(), "token"))
	c, _ := LookupCloud("")
	c, _ = c.WithEndpoints("", "https://127.0.0.1:1")
	for _, kind := range CredentialKinds() {
		// Construction only: none of these talks to anything until asked
		// for a token, and no token is asked for here.
		cred, err := NewCredential(CredentialOptions{Kind: kind, Cloud: c, ClientID: "00000000-0000-0000-0000-0000000000bb"})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if cred.Kind() != kind || cred.Description() == "" {
			t.Fatalf("%s: kind %q description %q", kind, cred.Kind(), cred.Description())
		}
	}
	if _, err := NewCredential(CredentialOptions{Kind: "browser"}); err == nil || !strings.Contains(err.Error(), "azcli") {
		t.Fatalf("unknown kind: %v", err)
	}
}

// fakeARM returns an ARM client on the fake servers of the SDK.
func fakeARM(t *testing.T, srv *dpsfake.ServerFactory) *ARM {
	t.Helper()
	a, err := NewARM(ARMOptions{
		Credential:   &azfake.TokenCredential{},
		Subscription: "sub-1",
		Transport:    dpsfake.NewServerFactoryTransport(srv),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func description(name, rg string) armdeviceprovisioningservices.ProvisioningServiceDescription {
	return armdeviceprovisioningservices.ProvisioningServiceDescription{
		ID:       to.Ptr("/subscriptions/sub-1/resourceGroups/" + rg + "/providers/Microsoft.Devices/provisioningServices/" + name),
		Name:     to.Ptr(name),
		Location: to.Ptr("westeurope"),
		Etag:     to.Ptr("AAAA"),
		Properties: &armdeviceprovisioningservices.IotDpsPropertiesDescription{
			ServiceOperationsHostName:  to.Ptr(name + ".azure-devices-provisioning.net"),
			DeviceProvisioningHostName: to.Ptr("global.azure-devices-provisioning.net"),
			IDScope:                    to.Ptr("0ne00000001"),
			AllocationPolicy:           to.Ptr(armdeviceprovisioningservices.AllocationPolicyHashed),
			IotHubs: []*armdeviceprovisioningservices.IotHubDefinitionDescription{{
				ConnectionString:      to.Ptr("HostName=hub1.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=****"),
				Location:              to.Ptr("westeurope"),
				AllocationWeight:      to.Ptr[int32](2),
				ApplyAllocationPolicy: to.Ptr(true),
			}},
		},
	}
}

func TestInstanceAndKeysThroughTheFakeServer(t *testing.T) {
	srv := &dpsfake.ServerFactory{}
	srv.IotDpsResourceServer.Get = func(_ context.Context, name, rg string, _ *armdeviceprovisioningservices.IotDpsResourceClientGetOptions) (resp azfake.Responder[armdeviceprovisioningservices.IotDpsResourceClientGetResponse], errResp azfake.ErrorResponder) {
		if name != "mydps" || rg != "rg" {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		}
		resp.SetResponse(http.StatusOK, armdeviceprovisioningservices.IotDpsResourceClientGetResponse{ProvisioningServiceDescription: description(name, rg)}, nil)
		return
	}
	srv.IotDpsResourceServer.NewListBySubscriptionPager = func(*armdeviceprovisioningservices.IotDpsResourceClientListBySubscriptionOptions) (resp azfake.PagerResponder[armdeviceprovisioningservices.IotDpsResourceClientListBySubscriptionResponse]) {
		resp.AddPage(http.StatusOK, armdeviceprovisioningservices.IotDpsResourceClientListBySubscriptionResponse{ProvisioningServiceDescriptionListResult: armdeviceprovisioningservices.ProvisioningServiceDescriptionListResult{
			Value: []*armdeviceprovisioningservices.ProvisioningServiceDescription{to.Ptr(description("other", "rg2")), to.Ptr(description("mydps", "rg"))},
		}}, nil)
		return
	}
	srv.IotDpsResourceServer.NewListKeysPager = func(name, rg string, _ *armdeviceprovisioningservices.IotDpsResourceClientListKeysOptions) (resp azfake.PagerResponder[armdeviceprovisioningservices.IotDpsResourceClientListKeysResponse]) {
		resp.AddPage(http.StatusOK, armdeviceprovisioningservices.IotDpsResourceClientListKeysResponse{SharedAccessSignatureAuthorizationRuleListResult: armdeviceprovisioningservices.SharedAccessSignatureAuthorizationRuleListResult{
			Value: []*armdeviceprovisioningservices.SharedAccessSignatureAuthorizationRuleAccessRightsDescription{
				{KeyName: to.Ptr("reader"), PrimaryKey: to.Ptr("cmVhZA=="), Rights: to.Ptr(armdeviceprovisioningservices.AccessRightsDescriptionEnrollmentRead)},
				{KeyName: to.Ptr(OwnerPolicy), PrimaryKey: to.Ptr("b3duZXI="), SecondaryKey: to.Ptr("c2Vj"), Rights: to.Ptr(armdeviceprovisioningservices.AccessRightsDescription("ServiceConfig, EnrollmentWrite"))},
			},
		}}, nil)
		return
	}
	a := fakeARM(t, srv)
	for _, rg := range []string{"rg", ""} {
		in, err := a.Instance(t.Context(), rg, "mydps")
		if err != nil {
			t.Fatalf("rg %q: %v", rg, err)
		}
		if in.HostName != "mydps.azure-devices-provisioning.net" || in.IDScope != "0ne00000001" || in.DeviceEndpoint != "global.azure-devices-provisioning.net" ||
			in.AllocationPolicy != "Hashed" || in.ResourceGroup != "rg" || len(in.LinkedHubs) != 1 || in.LinkedHubs[0].Name != "hub1.azure-devices.net" || in.LinkedHubs[0].AllocationWeight != 2 {
			t.Fatalf("rg %q: instance = %+v", rg, in)
		}
	}
	in, _ := a.Instance(t.Context(), "rg", "mydps")
	keys, err := a.Keys(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PickPolicy(keys, "")
	if err != nil || p.KeyName != OwnerPolicy || len(p.Rights) != 2 || p.Rights[1] != "EnrollmentWrite" {
		t.Fatalf("PickPolicy = %+v, %v", p, err)
	}
	if cs := ConnectionString(in.HostName, p); cs != "HostName=mydps.azure-devices-provisioning.net;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=b3duZXI=" {
		t.Fatalf("ConnectionString = %q", cs)
	}
	if _, err := PickPolicy(keys, "nope"); err == nil || !strings.Contains(err.Error(), "reader, provisioningserviceowner") {
		t.Fatalf("PickPolicy(nope) = %v", err)
	}

	_, err = a.Instance(t.Context(), "rg", "missing")
	var ae *ARMError
	if !errors.As(err, &ae) || !ae.NotFound() || ae.Code != "ResourceNotFound" || IsAuthFailure(err) {
		t.Fatalf("missing instance: %v", err)
	}
	if _, err := a.Instance(t.Context(), "", "absent"); !errors.As(err, &ae) || !ae.NotFound() {
		t.Fatalf("absent instance: %v", err)
	}
}

func TestARMErrorsFromAnswers(t *testing.T) {
	tests := []struct {
		status             int
		body               string
		wantCode, wantLine string
		auth               bool
	}{
		{403, `{"error":{"code":"AuthorizationFailed","message":"The client 'x' does not have authorization to perform action 'Microsoft.Devices/provisioningServices/read'."}}`, "AuthorizationFailed", "needs a role", true},
		{401, `{"error":{"code":"ExpiredAuthenticationToken","message":"The access token expiry UTC time is earlier than current UTC time."}}`, "ExpiredAuthenticationToken", "az login", true},
		{404, `{"error":{"code":"ResourceGroupNotFound","message":"Resource group 'rg' could not be found."}}`, "ResourceGroupNotFound", "--resource-group", false},
		{500, `not json`, "", "HTTP 500", false},
	}
	for _, tt := range tests {
		res := &http.Response{StatusCode: tt.status, Header: http.Header{"X-Ms-Request-Id": {"req-1"}, "X-Ms-Correlation-Request-Id": {"corr-1"}}, Body: http.NoBody, Request: httptest.NewRequest("GET", "https://127.0.0.1/x", nil)}
		res.Body = readCloser(tt.body)
		err := armError("get provisioning service mydps", runtime.NewResponseError(res))
		var ae *ARMError
		if !errors.As(err, &ae) {
			t.Fatalf("%d: %v is no ARMError", tt.status, err)
		}
		if tt.wantCode != "" && ae.Code != tt.wantCode {
			t.Errorf("%d: code %q, want %q", tt.status, ae.Code, tt.wantCode)
		}
		if !strings.Contains(err.Error(), tt.wantLine) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%d: message %q, want one line with %q", tt.status, err, tt.wantLine)
		}
		if IsAuthFailure(err) != tt.auth {
			t.Errorf("%d: IsAuthFailure = %v", tt.status, !tt.auth)
		}
		if ids := ae.RequestIDs(); ids["x-ms-request-id"] != "req-1" || ids["x-ms-correlation-request-id"] != "corr-1" {
			t.Errorf("%d: request IDs %v", tt.status, ids)
		}
	}
}

func readCloser(s string) *nopCloser { return &nopCloser{strings.NewReader(s)} }

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func TestResourceGroupOf(t *testing.T) {
	for id, want := range map[string]string{
		"/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.Devices/provisioningServices/x": "rg-1",
		"/subscriptions/s/resourcegroups/RG/providers/x":                                          "RG",
		"/subscriptions/s": "",
		"":                 "",
	} {
		if got := ResourceGroupOf(id); got != want {
			t.Errorf("ResourceGroupOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func FuzzParseARMErrorBody(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"AuthorizationFailed","message":"no"}}`))
	f.Add([]byte(`{"code":"x","message":"y"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := ParseARMErrorBody(body)
		e := &ARMError{Op: "op", StatusCode: 400, Code: code, Message: msg}
		if strings.Contains(e.Error(), "\n") {
			t.Fatalf("multi-line error %q", e.Error())
		}
	})
}

func FuzzParseAccount(f *testing.F) {
	f.Add([]byte(`{"id":"00000000-0000-0000-0000-000000000001"}`))
	f.Add([]byte(`{"id":""}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		id, err := ParseAccount(out)
		if err == nil && strings.TrimSpace(id) == "" {
			t.Fatal("empty subscription without an error")
		}
	})
}
