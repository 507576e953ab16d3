// Package factory builds the Factory that cli.Main hands to the commands.
// Everything in it is lazy: a command that never asks for a client never
// reads the configuration file, opens a database or dials the network.
package factory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// New returns the Factory for a run of the CLI on the process's streams.
// appVersion goes into the User-Agent.
func New(appVersion string) *cmdutil.Factory {
	return NewWithIO(iostreams.System(), appVersion)
}

// NewWithIO is New on the given streams.
func NewWithIO(ios *iostreams.IOStreams, appVersion string) *cmdutil.Factory {
	f := &cmdutil.Factory{
		IOStreams:      ios,
		ExecutableName: "dpsctl",
		Flags:          &cmdutil.GlobalFlags{},
	}
	// Dependency order: Config needs only the flags; Printer needs the
	// config (output format); Client and Hubs need the config.
	f.Config = configFunc(f)
	f.Printer = printerFunc(f)
	session := azureSessionFunc(f)
	f.Client = clientFunc(f, session, "dpsctl/"+appVersion)
	f.Azure = AzureFunc(f, session)
	f.Policies = PoliciesFunc(f)
	f.Hubs = HubsFunc(f)
	f.CAs = CAsFunc(f)
	return f
}

func configFunc(f *cmdutil.Factory) func() (*config.Config, error) {
	return sync.OnceValues(func() (*config.Config, error) {
		return config.Load(f.Flags.Overrides)
	})
}

func printerFunc(f *cmdutil.Factory) func() (*output.Printer, error) {
	return func() (*output.Printer, error) { return cmdutil.NewPrinter(f) }
}

func clientFunc(f *cmdutil.Factory, session func() (*azureSession, error), userAgent string) func(context.Context) (*dps.Client, error) {
	var (
		mu     sync.Mutex
		client *dps.Client
	)
	return func(ctx context.Context) (*dps.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if client != nil {
			return client, nil
		}
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		var note string
		switch {
		case cfg.Embedded():
			client, note, err = embeddedClient(f, cfg, userAgent)
		case cfg.Azure() || cfg.AuthType == config.AuthLogin:
			client, note, err = azureClient(ctx, f, cfg, session, userAgent)
		default:
			client, note, err = remoteClient(cfg, userAgent)
		}
		if err != nil {
			client = nil
			return nil, err
		}
		if !f.Quiet() {
			fmt.Fprintln(f.IOStreams.ErrOut, note)
		}
		return client, nil
	}
}

// embeddedClient opens the local service on the data directory and talks to
// it in process with its owner connection string.
func embeddedClient(f *cmdutil.Factory, cfg *config.Config, userAgent string) (*dps.Client, string, error) {
	inst, err := server.Open(server.Options{DataDir: cfg.DataDir})
	if err != nil {
		return nil, "", fmt.Errorf("open the embedded provisioning service in %s: %w", cfg.DataDir, err)
	}
	f.OnClose(inst.Close)
	c, err := dps.New(dps.Options{
		ConnectionString: inst.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(inst.Handler())},
		UserAgent:        userAgent,
		APIVersion:       cfg.APIVersion,
	})
	if err != nil {
		return nil, "", err
	}
	return c, fmt.Sprintf("using embedded provisioning service (data dir %s)", cfg.DataDir), nil
}

// LocalHubs returns the usual Factory.Hubs: the local provisioning service
// of the data directory, opened on first use and closed when the command
// ends. A note on stderr says that the connection string is not used when
// one is configured (unless quiet).
func LocalHubs(f *cmdutil.Factory) func(context.Context) (linkedhub.Service, error) {
	return local(f, "hubs", func(inst *server.Instance) linkedhub.Service { return inst })
}

// LocalCAs returns the CA certificates of the local provisioning service of
// the data directory, opened and noted as by LocalHubs.
func LocalCAs(f *cmdutil.Factory) func(context.Context) (cacert.Service, error) {
	return local(f, "CA certificates", func(inst *server.Instance) cacert.Service { return inst.CACertificates() })
}

// local opens the local provisioning service of the data directory on
// first use, closes it when the command ends, and gives what of takes from
// it: what the commands that manage its what (hubs, CA certificates) work
// through.
func local[T any](f *cmdutil.Factory, what string, of func(*server.Instance) T) func(context.Context) (T, error) {
	open := sync.OnceValues(func() (T, error) {
		var zero T
		cfg, err := f.Config()
		if err != nil {
			return zero, err
		}
		inst, err := server.Open(server.Options{DataDir: cfg.DataDir})
		if err != nil {
			return zero, fmt.Errorf("open the local provisioning service in %s: %w", cfg.DataDir, err)
		}
		f.OnClose(inst.Close)
		if !cfg.Embedded() && !f.Quiet() {
			fmt.Fprintf(f.IOStreams.ErrOut, "managing the %s of the local provisioning service (data dir %s); the connection string (%s) is not used\n", what, cfg.DataDir, cfg.ConnectionStringOrigin())
		}
		return of(inst), nil
	})
	return func(context.Context) (T, error) { return open() }
}

// remoteClient talks HTTPS to the host of the connection string, trusting
// the system roots plus --ca-file.
func remoteClient(cfg *config.Config, userAgent string) (*dps.Client, string, error) {
	cs, err := sas.ParseConnectionString(cfg.ConnectionString)
	if err != nil {
		return nil, "", &cmdutil.AuthError{Err: fmt.Errorf("%s: %w", cfg.ConnectionStringOrigin(), err)}
	}
	tlsConfig, err := clientTLSConfig(cfg.CAFile)
	if err != nil {
		return nil, "", err
	}
	c, err := dps.New(dps.Options{
		ConnectionString: cfg.ConnectionString,
		HTTPClient:       &http.Client{Transport: dps.NewTransport(tlsConfig)},
		UserAgent:        userAgent,
		APIVersion:       cfg.APIVersion,
	})
	if err != nil {
		return nil, "", &cmdutil.AuthError{Err: fmt.Errorf("%s: %w", cfg.ConnectionStringOrigin(), err)}
	}
	return c, fmt.Sprintf("using %s (%s)", cs.HostName, cfg.ConnectionStringOrigin()), nil
}

// clientTLSConfig trusts the system roots plus the certificates of caFile.
// With a CA file the server is first checked against that CA alone, and the
// system roots (whose loading costs milliseconds per process) are consulted
// only if that fails: a CLI that runs once per command feels that cost.
func clientTLSConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	cs, err := certs.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	extra := x509.NewCertPool()
	for _, c := range cs {
		extra.AddCert(c)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done in VerifyConnection below, against both
		// pools; it checks the chain and the host name as the default would.
		InsecureSkipVerify: true,
		VerifyConnection: func(st tls.ConnectionState) error {
			return verifyPeer(st, extra)
		},
	}, nil
}

func verifyPeer(st tls.ConnectionState, extra *x509.CertPool) error {
	if len(st.PeerCertificates) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: st.ServerName, Intermediates: inter, Roots: extra}
	_, err := st.PeerCertificates[0].Verify(opts)
	if err == nil {
		return nil
	}
	system, serr := x509.SystemCertPool()
	if serr != nil || system == nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: st.PeerCertificates, Err: err}
	}
	opts.Roots = system
	if _, err2 := st.PeerCertificates[0].Verify(opts); err2 == nil {
		return nil
	}
	return &tls.CertificateVerificationError{UnverifiedCertificates: st.PeerCertificates, Err: err}
}
