// Package serve is "dpsctl serve": the local DPS-compatible provisioning
// service over HTTPS.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/serve/info"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/spf13/cobra"
)

// Defaults of the listen address and host name.
const (
	DefaultAddr     = "127.0.0.1:8443"
	DefaultHostName = "localhost"
)

// maxThrottle is the largest --throttle: far past any DPS quota.
const maxThrottle = 10_000_000

// ServeOptions are the inputs of "dpsctl serve".
type ServeOptions struct {
	IO       *iostreams.IOStreams
	Config   func() (*config.Config, error)
	Addr     string
	HostName string
	TLSCert  string
	TLSKey   string
	Verbose  bool
	ShowKeys bool
	// Hubs are IoT hub host names to link at start (--hub, repeatable).
	Hubs []string
	// RegeneratePKI replaces the CA and the server certificate
	// (--regenerate-pki).
	RegeneratePKI bool
	// MaxConnections bounds the connections served at once
	// (--max-connections).
	MaxConnections int
	// MQTTAddr is where MQTT over TLS is served (--mqtt-addr); "" when
	// it is not. MQTT over WebSockets follows it.
	MQTTAddr string
	// WebhookAllow restricts the destinations of custom allocation
	// webhooks (--webhook-allow, repeatable; empty: any).
	WebhookAllow []string
	// Throttle is the quota of service API operations a minute per shared
	// access policy (--throttle; 0: none).
	Throttle float64

	// ready, when set, receives the description once the service listens.
	ready func(server.Info)
}

// NewCmdServe builds "dpsctl serve".
func NewCmdServe(f *cmdutil.Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local provisioning service",
		Long: `Run the DPS-compatible provisioning service of the data directory over HTTPS:
the service API (enrollments, groups, registrations) and the device
registration API, and the local IoT hubs devices are assigned to. It runs
until interrupted (Ctrl-C), then shuts down cleanly.

The data directory (--data-dir, DPSCTL_DATA_DIR, default ~/.local/share/dpsctl)
holds the database, the ID scope, the access policies and a CA that issues
the server certificate for --hostname. dpsctl commands without a connection
string use the same data directory in process, whether or not serve runs.

Devices register on the same address (the ID scope is shown below) and are
assigned to a linked IoT hub. A new data directory links one hub, named after
--hostname, which this service also serves: devices reach their hub at the
same address. --hub links more hubs (see "dpsctl hub").

--addr 127.0.0.1:0 picks a free port; "dpsctl serve info" shows it.

Devices may also speak MQTT, as the SDKs' Mqtt and MqttWs transports do,
to DPS (symmetric key and X.509; TPM needs HTTPS) and to the local hubs
(telemetry, twin, direct methods, cloud-to-device): MQTT over TLS on
--mqtt-addr (default port 8883 on the host of --addr, a free port when
--addr's port is 0; "off" serves none) and MQTT over WebSockets at
/$iothub/websocket on --addr (subprotocol mqtt), with the same server
certificate. A hub linked while serve runs is served from its first
device. The hubs' twins, pending methods, cloud-to-device queues and kept
telemetry live in memory: they start afresh with each serve.

The CA of a data directory is never replaced on its own: if ca.pem or
ca-key.pem is missing or damaged, every command stops with an error naming
the file. Restore it, or run serve once with --regenerate-pki to make a new
CA and server certificate; clients must then trust the new ca.pem. The
server certificate itself is re-issued from the CA by serve when it nears
expiry or --hostname changes.

The service expects hostile clients. It serves at most --max-connections
connections at once (others wait to be accepted). A request's headers must
arrive within 10 seconds and the whole request within 30, its answer is
sent within 60, and an idle connection is closed after 2 minutes. JSON
bodies must be UTF-8 and nest at most 64 levels. Custom allocation
webhooks follow no redirect, and a failed call tells the device only that
it failed (the reason is logged); --webhook-allow restricts where they may
go, checked on the address actually dialled: a CIDR range, an IP address
or a host name (*.example.com for the names under example.com).

Errors are logged on stderr. -v also logs one line per request: method,
route pattern (not the path), status, duration and, when refused, the
precise reason. Keys, tokens and signatures are never logged.

--throttle OPS/MIN limits the service API as Azure DPS does (1,000
operations a minute per service unit): each shared access policy may make
that many operations a minute, refilled continuously, with a burst of one
second's worth; past it a request is refused with 429, the DPS error body
(errorCode 429001) and Retry-After, in whole seconds. Only requests signed by
a policy count; device registrations are not throttled. Use it to see how a
client behaves against a real service's quota.`,
		Example: `  dpsctl serve
  dpsctl serve --addr 0.0.0.0:8443 --hostname dps.lab.example
  dpsctl serve --addr 127.0.0.1:0 --data-dir ./dps-data
  dpsctl serve --mqtt-addr 0.0.0.0:8883
  dpsctl serve --mqtt-addr off
  dpsctl serve --hub hub-east.lab.example --hub hub-west.lab.example
  dpsctl serve -v --max-connections 1024

  # custom allocation webhooks only to the functions subnet and one host
  dpsctl serve --webhook-allow 10.20.0.0/16 --webhook-allow alloc.lab.example

  # throttle the service API like a DPS of three units
  dpsctl serve --throttle 3000

  # after the CA files were lost: a new CA, to be trusted again by clients
  dpsctl serve --regenerate-pki`,
		Args: cmdutil.ExactArgs(0, "serve takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return cmdutil.FlagErrorf("give both --tls-cert and --tls-key, or neither")
			}
			if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
				return cmdutil.FlagErrorf("--addr %q: %v", opts.Addr, err)
			}
			mqttAddr, err := MQTTAddr(opts.Addr, opts.MQTTAddr, cmd.Flags().Changed("mqtt-addr"))
			if err != nil {
				return cmdutil.FlagErrorf("--mqtt-addr %q: %v", opts.MQTTAddr, err)
			}
			opts.MQTTAddr = mqttAddr
			if opts.MaxConnections < 1 {
				return cmdutil.FlagErrorf("--max-connections must be at least 1, not %d", opts.MaxConnections)
			}
			if err := server.CheckWebhookAllow(opts.WebhookAllow); err != nil {
				return cmdutil.FlagErrorf("--webhook-allow: %v", err)
			}
			if opts.Throttle < 0 || math.IsNaN(opts.Throttle) || math.IsInf(opts.Throttle, 0) || opts.Throttle > maxThrottle {
				return cmdutil.FlagErrorf("--throttle must be a number of operations a minute between 0 (no throttling) and %d, not %v", maxThrottle, opts.Throttle)
			}
			opts.ShowKeys = f.Flags.ShowKeys
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultAddr, "Address to listen on (port 0 picks a free port)")
	cmd.Flags().StringVar(&opts.HostName, "hostname", DefaultHostName, "Host name clients use; the server certificate and connection strings carry it")
	cmd.Flags().StringVar(&opts.MQTTAddr, "mqtt-addr", "", `Address of MQTT over TLS, or "off" (default: port 8883 on the host of --addr)`)
	cmd.Flags().StringVar(&opts.TLSCert, "tls-cert", "", "Server certificate file (PEM) instead of one issued by the local CA")
	cmd.Flags().StringVar(&opts.TLSKey, "tls-key", "", "Private key file (PEM) of --tls-cert")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Log every request on stderr (method, route, status, duration, reason of a refusal)")
	cmd.Flags().StringArrayVar(&opts.Hubs, "hub", nil, "Link an IoT hub by host name at start, if not linked yet (repeatable)")
	cmd.Flags().BoolVar(&opts.RegeneratePKI, "regenerate-pki", false, "Replace the CA and the server certificate with new ones (clients must then trust the new ca.pem)")
	cmd.Flags().IntVar(&opts.MaxConnections, "max-connections", server.DefaultMaxConnections, "Most connections served at once; more wait to be accepted")
	cmd.Flags().StringArrayVar(&opts.WebhookAllow, "webhook-allow", nil, "Let custom allocation webhooks reach only this CIDR range, IP address or host name (repeatable; default: anywhere)")
	cmd.Flags().Float64Var(&opts.Throttle, "throttle", 0, "Refuse service API calls past this many a minute per shared access policy with 429 and Retry-After, as DPS does (0: no limit)")
	cmdutil.FileFlag(cmd, "tls-cert", "pem", "crt", "cer")
	cmdutil.FileFlag(cmd, "tls-key", "pem", "key")
	for _, name := range []string{"addr", "mqtt-addr", "hostname", "hub", "max-connections", "webhook-allow", "throttle"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	cmd.AddCommand(info.NewCmdInfo(f, nil))
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	logger := newLogger(opts.IO.ErrOut, opts.Verbose)
	TuneGC()
	inst, err := server.Open(server.Options{
		DataDir:     cfg.DataDir,
		HostName:    opts.HostName,
		Addr:        opts.Addr,
		TLSCertFile: opts.TLSCert,
		TLSKeyFile:  opts.TLSKey,
		Logger:      logger,
		Hubs:        opts.Hubs,
		// Only serve writes the PKI files of an existing data directory.
		WritePKI:       true,
		RegeneratePKI:  opts.RegeneratePKI,
		MaxConnections: opts.MaxConnections,
		WebhookAllow:   opts.WebhookAllow,
		Throttle:       opts.Throttle,
	})
	if err != nil {
		return err
	}
	defer inst.Close()
	if opts.RegeneratePKI {
		fmt.Fprintf(opts.IO.ErrOut, "Made a new CA and server certificate: clients must now trust %s\n", inst.CAFile())
	}
	var hubs []string
	if linked, err := inst.LinkedHubs(ctx); err == nil {
		for _, h := range linked {
			hubs = append(hubs, h.HostName)
		}
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mqttDone chan error
	if opts.MQTTAddr != "" {
		mln, err := net.Listen("tcp", opts.MQTTAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("MQTT over TLS: %w (choose another port with --mqtt-addr, or --mqtt-addr off)", err)
		}
		mqttDone = make(chan error, 1)
		go func() { mqttDone <- inst.ServeMQTT(ctx, mln) }()
	} else if err := inst.NoMQTT(ctx); err != nil {
		logger.Warn("could not record that MQTT is off", "err", err)
	}
	served := make(chan error, 1)
	go func() {
		err := inst.Serve(ctx, ln)
		cancel() // MQTT stops with HTTPS
		if mqttDone != nil {
			if merr := <-mqttDone; err == nil && merr != nil {
				err = merr
			}
		}
		served <- err
	}()

	// Serve records the bound address; wait until Info reports it.
	bound := ln.Addr().String()
	it := inst.Info()
	for range 200 {
		if it.Address == bound && (opts.MQTTAddr == "" || it.MQTTAddress != "") {
			break
		}
		select {
		case err := <-served:
			return err
		default:
		}
		it = inst.Info()
		if it.Address != bound || opts.MQTTAddr != "" && it.MQTTAddress == "" {
			sleep(ctx)
		}
	}
	describe(opts.IO.ErrOut, it, hubs, cfg, opts.ShowKeys)
	if opts.Throttle > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Service API throttled to %g operations a minute per shared access policy\n", opts.Throttle)
	}
	if opts.ready != nil {
		opts.ready(it)
	}
	err = <-served
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err == nil {
		fmt.Fprintln(opts.IO.ErrOut, "Local provisioning service stopped")
	}
	return err
}

// newLogger logs errors on w; verbose adds a line per request (Info).
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelError
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// describe prints how to reach the running service.
func describe(w io.Writer, it server.Info, hubs []string, cfg *config.Config, showKeys bool) {
	cs := it.ConnectionString
	if !showKeys {
		cs = output.MaskSecret(cs)
	}
	dataDirFlag := ""
	if cfg.DataDirSource == config.SourceFlag {
		dataDirFlag = " --data-dir " + shellQuote(cfg.DataDir)
	}
	hubList := strings.Join(hubs, ", ")
	if hubList == "" {
		hubList = "none linked (devices fail with 400208; see dpsctl hub link)"
	}
	mqtt := "off"
	if it.MQTTAddress != "" {
		mqtt = "mqtts://" + it.MQTTAddress + ", wss://" + it.Address + server.MQTTWebSocketPath
	}
	fmt.Fprintf(w, `Local provisioning service listening on https://%s
  MQTT               %s
  host name          %s
  ID scope           %s
  connection string  %s
  CA certificate     %s
  IoT hubs           %s
  data directory     %s

To use it from another shell:
  export DPSCTL_CONNECTION_STRING="$(dpsctl serve info%s --show-keys --query connectionString -o tsv)"
  export DPSCTL_CA_FILE=%s

Press Ctrl-C to stop.
`, it.Address, mqtt, it.HostName, it.IDScope, cs, it.CAFile, hubList, cfg.DataDir, dataDirFlag, shellQuote(it.CAFile))
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+=,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// MQTTAddr resolves --mqtt-addr: "" or "off" serve none; unset, port 8883
// on the host of addr, or a free port when addr's port is 0.
func MQTTAddr(addr, flag string, set bool) (string, error) {
	if !set {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", err
		}
		if port != "0" {
			port = "8883"
		}
		return net.JoinHostPort(host, port), nil
	}
	if flag == "" || strings.EqualFold(flag, "off") {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(flag); err != nil {
		return "", err
	}
	return flag, nil
}
