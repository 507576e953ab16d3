// Package shared holds what the device commands and quickstart share: the
// local provisioning service reached over the network (devices need mutual
// TLS, which the in-process transport cannot carry), the columns of a
// registration result, and connecting a provisioned device to its hub.
package shared

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/server"
)

// Local is the local provisioning service of a data directory, reachable
// over HTTPS for the length of a command: the running "dpsctl serve" of
// that directory if there is one, else the service started in this process
// on 127.0.0.1 with a free port.
type Local struct {
	// Instance is the opened data directory (also when serve runs
	// elsewhere: the store is shared).
	Instance *server.Instance
	// Info describes the service; Info.Address is where it listens.
	Info server.Info
	// Roots trust the local CA.
	Roots *x509.CertPool
	// Running reports that "dpsctl serve" was already serving the data
	// directory; otherwise this process serves it until Close.
	Running bool

	stop func() error
}

// probeTimeout bounds the check for a running serve. A serve that is not
// running refuses the connection at once, so the bound only matters for a
// running one that is slow to shake hands, as on a busy machine: taking
// that for "not running" would start a second service beside it, so the
// bound is generous.
const probeTimeout = 10 * time.Second

// OpenLocal opens the data directory and finds or starts the service.
func OpenLocal(ctx context.Context, dataDir string) (*Local, error) {
	inst, err := server.Open(server.Options{DataDir: dataDir})
	if err != nil {
		return nil, fmt.Errorf("open the local provisioning service in %s: %w", dataDir, err)
	}
	l, err := serveLocal(ctx, inst)
	if err != nil {
		inst.Close()
		return nil, err
	}
	return l, nil
}

func serveLocal(ctx context.Context, inst *server.Instance) (*Local, error) {
	info := inst.Info()
	roots := x509.NewCertPool()
	cas, err := certs.ReadFile(info.CAFile)
	if err != nil {
		return nil, fmt.Errorf("the local CA: %w", err)
	}
	for _, c := range cas {
		roots.AddCert(c)
	}
	l := &Local{Instance: inst, Roots: roots}
	if info.Address != "" && probe(ctx, info.Address, info.HostName, roots) {
		l.Info, l.Running = info, true
		l.stop = inst.Close
		return l, nil
	}

	// Serve the handler directly rather than with Instance.Serve, which
	// records its address as the service's: this short-lived listener must
	// not replace the address "dpsctl serve info" and the connection
	// strings report.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the local provisioning service: %w", err)
	}
	srv := &http.Server{
		Handler:           inst.Handler(),
		TLSConfig:         inst.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start the local provisioning service: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	// MQTT too, for devices that speak it, without recording its address
	// either.
	mctx, stopMQTT := context.WithCancel(context.WithoutCancel(ctx))
	mqttDone, err := inst.StartMQTTUnrecorded(mctx, mln)
	if err != nil {
		stopMQTT()
		mln.Close()
		srv.Close()
		<-served
		return nil, fmt.Errorf("start the local provisioning service: %w", err)
	}
	info.Address = ln.Addr().String()
	info.MQTTAddress = mln.Addr().String()
	l.Info = info
	var once sync.Once
	l.stop = func() error {
		var err error
		once.Do(func() {
			stopMQTT()
			err = <-mqttDone
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if serr := srv.Shutdown(sctx); serr != nil {
				srv.Close()
			}
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			err = errors.Join(err, inst.Close())
		})
		return err
	}
	return l, nil
}

// shutdownTimeout bounds the wait for requests in flight when the
// command's own service stops.
const shutdownTimeout = 5 * time.Second

// probe reports whether a TLS server with a certificate of the local CA
// for hostName answers at addr.
func probe(ctx context.Context, addr, hostName string, roots *x509.CertPool) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: hostName}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Host is the provisioning host devices use: the service's host name with
// the port it listens on. Connections go to Info.Address whatever the name
// resolves to (see Dial).
func (l *Local) Host() string {
	_, port, err := net.SplitHostPort(l.Info.Address)
	if err != nil {
		return l.Info.HostName
	}
	return net.JoinHostPort(l.Info.HostName, port)
}

// Dial connects to the local service whatever address is asked for: the
// device API and the local hubs share its listener.
func (l *Local) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, l.Info.Address)
}

// ConfigureTLS makes a client check the server certificate as the local
// service's host name, under whatever name it was reached.
func (l *Local) ConfigureTLS(c *tls.Config) {
	c.RootCAs = l.Roots
	c.ServerName = l.Info.HostName
}

// Describe names the service for status lines.
func (l *Local) Describe() string {
	if l.Running {
		return fmt.Sprintf("the local provisioning service (dpsctl serve at %s, data dir %s)", l.Info.Address, l.Instance.DataDir())
	}
	return fmt.Sprintf("the local provisioning service (data dir %s, served by this command at %s)", l.Instance.DataDir(), l.Info.Address)
}

// Close stops the service if this process started it and closes the data
// directory.
func (l *Local) Close() error {
	if l.stop == nil {
		return nil
	}
	return l.stop()
}

// recordWait bounds WaitDisconnected.
const recordWait = 10 * time.Second

// WaitDisconnected waits, within ctx and recordWait, for the hub registry
// of the local service to record that device deviceID of hub, which
// closed its MQTT connection, is disconnected: the service records it
// when it sees the connection end, an instant after the device closed it.
// It reports whether the registry says so.
func (l *Local) WaitDisconnected(ctx context.Context, hub, deviceID string) bool {
	ctx, cancel := context.WithTimeout(ctx, recordWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := l.Instance.HubDevice(ctx, hub, deviceID)
		if err == nil && d.ConnectionState == linkedhub.ConnectionDisconnected {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// ErrServeNotRunning is RunningLocal's error when no dpsctl serve serves
// the data directory.
var ErrServeNotRunning = errors.New("no dpsctl serve is running on this data directory")

// RunningLocal finds the running "dpsctl serve" of a data directory, for
// what only it holds (the local hubs' twins, pending methods, queues and
// kept telemetry live in its memory); ErrServeNotRunning when there is
// none.
func RunningLocal(ctx context.Context, dataDir string) (*Local, error) {
	inst, err := server.Open(server.Options{DataDir: dataDir})
	if err != nil {
		return nil, fmt.Errorf("open the local provisioning service in %s: %w", dataDir, err)
	}
	info := inst.Info()
	roots := x509.NewCertPool()
	cas, err := certs.ReadFile(info.CAFile)
	if err != nil {
		inst.Close()
		return nil, fmt.Errorf("the local CA: %w", err)
	}
	for _, c := range cas {
		roots.AddCert(c)
	}
	if info.Address == "" || !probe(ctx, info.Address, info.HostName, roots) {
		inst.Close()
		return nil, fmt.Errorf("%w (data dir %s); start it with \"dpsctl serve\"", ErrServeNotRunning, dataDir)
	}
	return &Local{Instance: inst, Info: info, Roots: roots, Running: true, stop: inst.Close}, nil
}
