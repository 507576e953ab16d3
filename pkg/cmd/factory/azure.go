package factory

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/cacert/armca"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// azureSession is what a run needs of Azure, built once: the cloud, the
// signed-in identity, and (when an instance is named) the resource
// manager's view of it.
type azureSession struct {
	cloud azure.Cloud
	cred  *azure.Credential
	tls   *tls.Config
	hc    *http.Client

	cfg      *config.Config
	mu       sync.Mutex
	resolved *azure.Target
}

// target resolves the configured instance once; a failure is not kept.
func (s *azureSession) target(ctx context.Context) (*azure.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolved != nil {
		return s.resolved, nil
	}
	t, err := s.resolve(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	s.resolved = t
	return t, nil
}

// azureSessionFunc returns the session of f's configuration, built on first
// use.
func azureSessionFunc(f *cmdutil.Factory) func() (*azureSession, error) {
	return sync.OnceValues(func() (*azureSession, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		cl, err := azure.LookupCloud(cfg.Cloud)
		if err != nil {
			return nil, cmdutil.FlagErrorWrap(err)
		}
		if cl, err = cl.WithEndpoints(cfg.ARMEndpoint, cfg.AuthorityHost); err != nil {
			return nil, cmdutil.FlagErrorWrap(err)
		}
		tlsConfig, err := clientTLSConfig(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		hc := &http.Client{Transport: tr}
		if cfg.Credential != "" && !slices.Contains(azure.CredentialKinds(), cfg.Credential) {
			return nil, cmdutil.FlagErrorf("unknown credential %q: use one of %s", cfg.Credential, strings.Join(azure.CredentialKinds(), ", "))
		}
		// A user-assigned managed identity is named by AZURE_CLIENT_ID, as
		// the Azure SDKs and CLI name it.
		cred, err := azure.NewCredential(azure.CredentialOptions{Kind: cfg.Credential, Cloud: cl, HTTPClient: hc, Prompt: f.IOStreams.ErrOut, ClientID: os.Getenv("AZURE_CLIENT_ID")})
		if err != nil {
			return nil, err
		}
		return &azureSession{cloud: cl, cred: cred, tls: tlsConfig, hc: hc, cfg: cfg}, nil
	})
}

// resolve finds the configured instance through the resource manager.
func (s *azureSession) resolve(ctx context.Context, cfg *config.Config) (*azure.Target, error) {
	if cfg.DPSName == "" {
		return nil, cmdutil.FlagErrorf("no Azure provisioning service is named: give --dps-name (-n) and --resource-group (-g), or use a profile made by \"dpsctl config set-profile NAME -n DPS -g RG\"")
	}
	sub := cfg.Subscription
	if sub == "" {
		var err error
		if sub, err = azure.CurrentSubscription(ctx); err != nil {
			return nil, err
		}
	}
	a, err := azure.NewARM(azure.ARMOptions{Credential: s.cred, Subscription: sub, Cloud: s.cloud, Transport: s.hc})
	if err != nil {
		return nil, err
	}
	in, err := a.Instance(ctx, cfg.ResourceGroup, cfg.DPSName)
	if err != nil {
		return nil, err
	}
	return &azure.Target{ARM: a, Instance: in, Credential: s.cred, Cloud: s.cloud, HTTPClient: s.hc}, nil
}

// AzureFunc returns the usual Factory.Azure.
func AzureFunc(f *cmdutil.Factory, session func() (*azureSession, error)) func(context.Context) (*azure.Target, error) {
	return func(ctx context.Context) (*azure.Target, error) {
		s, err := session()
		if err != nil {
			return nil, err
		}
		return s.target(ctx)
	}
}

// azureClient is the client of a service in Azure: with --auth-type login
// bearer tokens of the signed-in identity for the host (given, from the
// connection string, or found through the resource manager); with key the
// connection string, given or built from the instance's keys.
func azureClient(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, session func() (*azureSession, error), userAgent string) (*dps.Client, string, error) {
	s, err := session()
	if err != nil {
		return nil, "", err
	}
	origin := cfg.ServiceOrigin()
	hc := &http.Client{Transport: dps.NewTransport(s.tls)}
	if cfg.AuthType == config.AuthKey {
		cs := cfg.ConnectionString
		policy := ""
		if cs == "" {
			t, err := s.target(ctx)
			if err != nil {
				return nil, "", err
			}
			keys, err := t.ARM.Keys(ctx, t.Instance)
			if err != nil {
				return nil, "", err
			}
			p, err := azure.PickPolicy(keys, "")
			if err != nil {
				return nil, "", &cmdutil.AuthError{Err: err}
			}
			cs, policy = azure.ConnectionString(t.Instance.HostName, p), p.KeyName
		}
		c, err := dps.New(dps.Options{ConnectionString: cs, HTTPClient: hc, UserAgent: userAgent})
		if err != nil {
			return nil, "", &cmdutil.AuthError{Err: fmt.Errorf("%s: %w", origin, err)}
		}
		how := "key"
		if policy != "" {
			how = "key of policy " + policy + ", read through the resource manager"
		}
		return c, fmt.Sprintf("using %s (%s; %s)", strings.TrimPrefix(c.Endpoint(), "https://"), origin, how), nil
	}
	host := cfg.Host
	if host == "" && cfg.ConnectionString != "" {
		parsed, err := sas.ParseConnectionString(cfg.ConnectionString)
		if err != nil {
			return nil, "", &cmdutil.AuthError{Err: fmt.Errorf("%s: %w", origin, err)}
		}
		host = parsed.HostName
	}
	if host == "" {
		t, err := s.target(ctx)
		if err != nil {
			return nil, "", err
		}
		host = t.Instance.HostName
	}
	who := s.cred.Description()
	ts := azure.NewTokenSource(s.cred, s.cloud.DPSScope(), azure.DataPlaneHint(host, who))
	c, err := dps.New(dps.Options{Endpoint: "https://" + host, Authorizer: ts, HTTPClient: hc, UserAgent: userAgent})
	if err != nil {
		return nil, "", cmdutil.FlagErrorWrap(fmt.Errorf("%s: %w", origin, err))
	}
	return c, fmt.Sprintf("using %s (%s; Microsoft Entra ID: %s)", strings.TrimPrefix(c.Endpoint(), "https://"), origin, who), nil
}

// PoliciesFunc returns the usual Factory.Policies: through the resource
// manager for an Azure instance, from the local service of the data
// directory for the embedded one.
func PoliciesFunc(f *cmdutil.Factory) func(context.Context) (*cmdutil.PolicySet, error) {
	return func(ctx context.Context) (*cmdutil.PolicySet, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		switch {
		case cfg.DPSName != "":
			t, err := f.Azure(ctx)
			if err != nil {
				return nil, err
			}
			keys, err := t.ARM.Keys(ctx, t.Instance)
			if err != nil {
				return nil, err
			}
			return &cmdutil.PolicySet{Host: t.Instance.HostName, Policies: keys}, nil
		case cfg.Embedded():
			inst, err := server.Open(server.Options{DataDir: cfg.DataDir})
			if err != nil {
				return nil, fmt.Errorf("open the local provisioning service in %s: %w", cfg.DataDir, err)
			}
			f.OnClose(inst.Close)
			ps, err := inst.Policies(ctx)
			if err != nil {
				return nil, err
			}
			return &cmdutil.PolicySet{Host: inst.ConnectionHost(), Policies: ps}, nil
		}
		return nil, cmdutil.FlagErrorf("the shared access policies of the service are read through the resource manager: name the Azure instance with --dps-name (-n) and --resource-group (-g) (the %s does not say which instance it is), or use the local service (--data-dir)", cfg.ServiceOrigin())
	}
}

// HubsFunc returns the usual Factory.Hubs: the Azure instance's linked hubs
// through the resource manager when --dps-name (or the profile) names one,
// else the local service's (LocalHubs).
func HubsFunc(f *cmdutil.Factory) func(context.Context) (linkedhub.Service, error) {
	return eitherBackend(f, "hubs", LocalHubs(f), func(t *azure.Target) linkedhub.Service { return azure.NewHubs(t) })
}

// CAsFunc returns the usual Factory.CAs: the Azure instance's CA
// certificates through the resource manager's certificates API when one is
// named, else the local service's (LocalCAs).
func CAsFunc(f *cmdutil.Factory) func(context.Context) (cacert.Service, error) {
	return eitherBackend(f, "CA certificates", LocalCAs(f), func(t *azure.Target) cacert.Service {
		return armca.New(t.ARM.Certificates(), t.Instance.ResourceGroup, t.Instance.Name)
	})
}

// eitherBackend gives what the commands that manage the service's what
// work through: remote's, on the Azure instance through the resource
// manager, when the configuration names one (saying so on stderr unless
// quiet), else local's.
func eitherBackend[T any](f *cmdutil.Factory, what string, local func(context.Context) (T, error), remote func(*azure.Target) T) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		var zero T
		cfg, err := f.Config()
		if err != nil {
			return zero, err
		}
		if cfg.DPSName == "" {
			return local(ctx)
		}
		t, err := f.Azure(ctx)
		if err != nil {
			return zero, err
		}
		if !f.Quiet() {
			fmt.Fprintf(f.IOStreams.ErrOut, "managing the %s of %s through the resource manager (%s)\n", what, t.Instance.Name, cfg.ServiceOrigin())
		}
		return remote(t), nil
	}
}
