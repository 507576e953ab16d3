package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Kinds of credential, the values of --credential.
const (
	CredentialAzureCLI         = "azcli"
	CredentialEnvironment      = "env"
	CredentialWorkloadIdentity = "workload-identity"
	CredentialManagedIdentity  = "managed-identity"
	CredentialDeviceCode       = "device-code"
)

// CredentialKinds lists the kinds of credential, the default first.
func CredentialKinds() []string {
	return []string{CredentialAzureCLI, CredentialEnvironment, CredentialWorkloadIdentity, CredentialManagedIdentity, CredentialDeviceCode}
}

// CredentialOptions say how to sign in.
type CredentialOptions struct {
	// Kind is one of CredentialKinds; "" is CredentialAzureCLI.
	Kind string
	// Cloud gives the Entra ID authority.
	Cloud Cloud
	// TenantID, when set, is the tenant to sign in to.
	TenantID string
	// ClientID is the user-assigned managed identity's client ID
	// (managed-identity only; "" is the system-assigned identity).
	ClientID string
	// HTTPClient carries the requests of the credentials that talk to
	// Entra ID themselves (all but azcli); nil is the default transport.
	HTTPClient *http.Client
	// Prompt receives the device code message (device-code only).
	Prompt io.Writer
}

// Credential is a signed-in identity: a token credential whose failures are
// SignInErrors, with a description for status lines.
type Credential struct {
	kind  string
	inner azcore.TokenCredential
}

// Description says which identity is used, e.g. "the Azure CLI's signed-in
// account".
func (c *Credential) Description() string {
	switch c.kind {
	case CredentialAzureCLI:
		return "the Azure CLI's signed-in account"
	case CredentialEnvironment:
		return "the service principal of AZURE_CLIENT_ID"
	case CredentialWorkloadIdentity:
		return "the workload identity of AZURE_FEDERATED_TOKEN_FILE"
	case CredentialManagedIdentity:
		return "the managed identity"
	case CredentialDeviceCode:
		return "a device code sign-in"
	}
	return c.kind
}

// Kind is the kind of credential.
func (c *Credential) Kind() string { return c.kind }

// GetToken gets a token from the identity; a failure is a *SignInError.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.inner.GetToken(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return tok, ctx.Err()
		}
		return tok, &SignInError{Kind: c.kind, Err: err}
	}
	return tok, nil
}

// NewCredential builds the credential of opts. It talks to nothing: the
// first token is asked for on first use.
func NewCredential(opts CredentialOptions) (*Credential, error) {
	kind := opts.Kind
	if kind == "" {
		kind = CredentialAzureCLI
	}
	co := azcore.ClientOptions{Cloud: opts.Cloud.Configuration()}
	if opts.HTTPClient != nil {
		co.Transport = opts.HTTPClient
	}
	var (
		inner azcore.TokenCredential
		err   error
	)
	switch kind {
	case CredentialAzureCLI:
		inner, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: opts.TenantID})
	case CredentialEnvironment:
		inner, err = azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: co})
	case CredentialWorkloadIdentity:
		inner, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, TenantID: opts.TenantID})
	case CredentialManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if opts.ClientID != "" {
			mo.ID = azidentity.ClientID(opts.ClientID)
		}
		inner, err = azidentity.NewManagedIdentityCredential(mo)
	case CredentialDeviceCode:
		prompt := opts.Prompt
		if prompt == nil {
			prompt = io.Discard
		}
		inner, err = azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: co,
			TenantID:      opts.TenantID,
			UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
				_, err := fmt.Fprintln(prompt, m.Message)
				return err
			},
		})
	default:
		return nil, fmt.Errorf("unknown credential %q: use one of %s", kind, strings.Join(CredentialKinds(), ", "))
	}
	if err != nil {
		return nil, &SignInError{Kind: kind, Err: err}
	}
	return &Credential{kind: kind, inner: inner}, nil
}

// RenewBefore is how long before its expiry a token is replaced.
const RenewBefore = 5 * time.Minute

// TokenSource hands out bearer tokens of one scope, asking the credential
// again only when the cached token is about to expire: a long import
// outlives one token. It is a dps.Authorizer.
type TokenSource struct {
	cred  azcore.TokenCredential
	scope string
	hint  string
	now   func() time.Time

	mu  sync.Mutex
	tok azcore.AccessToken
}

// NewTokenSource returns the tokens of cred for scope. hint is what a
// refusal of the token by the service means the user should do.
func NewTokenSource(cred azcore.TokenCredential, scope, hint string) *TokenSource {
	return &TokenSource{cred: cred, scope: scope, hint: hint, now: time.Now}
}

// Token returns a token valid for at least RenewBefore (if the credential
// gives one that long).
func (s *TokenSource) Token(ctx context.Context) (azcore.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.tok.Token != "" && now.Add(RenewBefore).Before(s.tok.ExpiresOn) && (s.tok.RefreshOn.IsZero() || now.Before(s.tok.RefreshOn)) {
		return s.tok, nil
	}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		return azcore.AccessToken{}, err
	}
	if tok.Token == "" {
		return azcore.AccessToken{}, errors.New("the credential gave an empty token")
	}
	s.tok = tok
	return tok, nil
}

// Authorization is the Authorization header: "Bearer <token>".
func (s *TokenSource) Authorization(ctx context.Context) (string, error) {
	tok, err := s.Token(ctx)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok.Token, nil
}

// UnauthorizedHint says what to do when the service refuses the token.
func (s *TokenSource) UnauthorizedHint() string { return s.hint }

// DataPlaneHint is the hint of a refused data-plane token for the instance
// host with identity who.
func DataPlaneHint(host, who string) string {
	return fmt.Sprintf("%s has no data role on %s: assign it \"Device Provisioning Service Data Contributor\" (or \"Device Provisioning Service Data Reader\" to read) on the instance, or sign in as another identity (az login)", who, host)
}
