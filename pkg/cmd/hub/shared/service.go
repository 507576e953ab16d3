package shared

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	devshared "github.com/dpsctl/dpsctl/pkg/cmd/device/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/spf13/cobra"
)

// ServiceFlags say which hub's service API the operator commands (twin,
// invoke-method, send, monitor-events) talk to: a hub by connection
// string (an Azure IoT hub, say), or a local hub of the running dpsctl
// serve (--hub, default: the device's hub, else the first linked one).
type ServiceFlags struct {
	Config func() (*config.Config, error)
	// Hub is --hub; ConnectionString --hub-connection-string.
	Hub, ConnectionString string
}

// AddServiceFlags adds --hub and --hub-connection-string.
func AddServiceFlags(cmd *cobra.Command, f *cmdutil.Factory, s *ServiceFlags) {
	s.Config = f.Config
	cmd.Flags().StringVar(&s.Hub, "hub", "", "Local hub (host name) of the running dpsctl serve (default: the device's hub)")
	cmd.Flags().StringVar(&s.ConnectionString, "hub-connection-string", "", "Connection string of an IoT hub's shared access policy (iothubowner), instead of a local hub")
	_ = cmd.RegisterFlagCompletionFunc("hub", CompleteHubs(f, true))
	_ = cmd.RegisterFlagCompletionFunc("hub-connection-string", cobra.NoFileCompletions)
	cmd.MarkFlagsMutuallyExclusive("hub", "hub-connection-string")
}

// Client returns the service client of the hub and a function that
// releases it. deviceID, when not empty, picks the local hub holding the
// device when --hub is not given. local reports a local hub (whose
// C2D and event endpoints exist).
func (s *ServiceFlags) Client(ctx context.Context, deviceID string) (c *iothubservice.Client, local bool, release func(), err error) {
	release = func() {}
	cfg, err := s.Config()
	if err != nil {
		return nil, false, release, err
	}
	if s.ConnectionString != "" {
		roots, err := caRoots(cfg.CAFile)
		if err != nil {
			return nil, false, release, err
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
		c, err := iothubservice.FromConnectionString(s.ConnectionString, hc)
		if err != nil {
			return nil, false, release, cmdutil.FlagErrorf("--hub-connection-string: %v", err)
		}
		return c, false, release, nil
	}
	l, err := devshared.RunningLocal(ctx, cfg.DataDir)
	if err != nil {
		return nil, true, release, fmt.Errorf("the local hubs' twins, methods, messages and events live in the running dpsctl serve: %w", err)
	}
	release = func() { l.Close() }
	hub, cs, err := localHub(ctx, l.Instance, s.Hub, deviceID)
	if err != nil {
		release()
		return nil, true, func() {}, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: l.Roots, ServerName: l.Info.HostName, MinVersion: tls.VersionTLS12}}
	c, err = iothubservice.FromConnectionString(cs, &http.Client{Transport: tr})
	if err != nil {
		release()
		return nil, true, func() {}, fmt.Errorf("hub %s: %w", hub, err)
	}
	c.Address = l.Info.Address
	return c, true, func() { tr.CloseIdleConnections(); l.Close() }, nil
}

// localHub picks the linked hub: --hub, else the device's, else the first.
func localHub(ctx context.Context, svc linkedhub.Service, hub, deviceID string) (string, string, error) {
	linked, err := svc.LinkedHubs(ctx)
	if err != nil {
		return "", "", err
	}
	if len(linked) == 0 {
		return "", "", errors.New("no IoT hub is linked (see dpsctl hub link)")
	}
	if hub == "" && deviceID != "" {
		d, err := svc.HubDevice(ctx, "", deviceID)
		if errors.Is(err, linkedhub.ErrNotFound) {
			return "", "", fmt.Errorf("there is no device %q in any local IoT hub", deviceID)
		}
		if err != nil {
			return "", "", err
		}
		hub = d.HubHostName
	}
	if hub == "" {
		hub = linked[0].HostName
	}
	for _, h := range linked {
		if strings.EqualFold(h.HostName, hub) {
			return h.HostName, h.ConnectionString, nil
		}
	}
	return "", "", fmt.Errorf("IoT hub %q is not linked (dpsctl hub list shows the linked ones)", hub)
}

// caRoots are the system roots plus the certificates of caFile.
func caRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	cs, err := certs.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	for _, c := range cs {
		pool.AddCert(c)
	}
	return pool, nil
}
