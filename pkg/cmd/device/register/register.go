// Package register is "dpsctl device register": a simulated device that
// provisions itself.
package register

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/device/shared"
	tpmshared "github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/iothub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// RegisterOptions are the inputs of "device register".
type RegisterOptions struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Config, error)
	Printer func() (*output.Printer, error)
	Quiet   func() bool

	IDScope          string
	RegistrationID   string
	ProvisioningHost string
	HostGiven        bool

	SymmetricKey string
	GroupKey     string
	Certificate  string
	Key          string
	TPM          bool
	TPMFlags     tpmshared.TPMFlags

	Payload json.RawMessage
	Connect bool
	Message string
	// MessageGiven reports --message on the command line.
	MessageGiven bool

	// Transport is how the device registers: https, mqtt or mqtt-ws
	// (--transport); HubTransport how it reaches its hub with --connect
	// (--hub-transport; default: mqtt, or mqtt-ws after --transport
	// mqtt-ws). HubTransportDefaulted says HubTransport was not given.
	Transport             string
	HubTransport          string
	HubTransportDefaulted bool
	// Stay keeps the hub session open with --connect, answering direct
	// methods and printing desired properties and cloud-to-device
	// messages, until interrupted or Timeout (0: no limit).
	Stay    bool
	Timeout time.Duration
}

// NewCmdRegister builds "dpsctl device register".
func NewCmdRegister(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{IO: f.IOStreams, Config: f.Config, Printer: f.Printer, Quiet: f.Quiet}
	var payload string
	cmd := &cobra.Command{
		Use:   "register {--symmetric-key <key> | --group-key <key> | --certificate <file> --key <file> | --tpm} [flags]",
		Short: "Provision a simulated device",
		Long: fmt.Sprintf(`Act as a device that boots and provisions itself: call the device
registration API of a provisioning service, prove the device's identity,
wait for the assignment (polling as the service asks with Retry-After) and
print the registration state. With --connect the device then connects to
the IoT hub it was assigned, with the identity it got, and sends one
message.

--transport is how the device talks to DPS, as the SDKs' transports:
https (the default), mqtt (MQTT over TLS, port 8883; the local service's
--mqtt-addr) or mqtt-ws (MQTT over WebSockets on the HTTPS port). TPM
attestation needs https: DPS does not take it over MQTT.

--hub-transport is how --connect reaches the hub: mqtt by default (mqtt-ws
after --transport mqtt-ws), as SDK devices do once provisioned, TPM devices
included (their SAS token is signed in the TPM); https posts the message
instead. Either way the hub registry records the connection and counts the
message ("dpsctl hub device show": Connected, then Disconnected when an
MQTT device leaves); over MQTT the message also reaches the hub's event
stream ("dpsctl hub monitor-events"). Over a connection string to a service
other than Azure, MQTT is taken to be on port 8883 of its host (dpsctl
serve's default --mqtt-addr); give --hub-transport mqtt-ws (its HTTPS port)
or https otherwise. The local service of the data directory is reached
where it serves MQTT, over https when it serves none (dpsctl serve
--mqtt-addr off). Over MQTT, --stay keeps the device connected: it
answers direct methods (status 200, the request's payload echoed), prints
each desired-property update and cloud-to-device message on stdout, and
reports its twin's desired properties when it connects; until Ctrl-C or
--timeout.

The device proves its identity with one of:
  --symmetric-key KEY     the key of its individual enrollment
  --group-key KEY         the key of its symmetric-key enrollment group; the
                          device key is derived from it and the
                          registration ID, as devices of a group do
  --certificate FILE --key FILE
                          an X.509 certificate and its private key (PEM or
                          DER); a PEM file may hold the chain after the
                          device certificate, and it is sent along. The
                          registration ID defaults to the certificate's CN
  --tpm                   a TPM: its endorsement key, answering the
                          service's challenge inside the TPM. The TPM is
                          --tpm-device PATH (default %s),
                          --tpm-simulator DIR (the simulator built into
                          binaries made with -tags tpmsimulator; DIR keeps
                          its seed, as for "dpsctl tpm ek --simulator") or
                          --tpm-tcp HOST:PORT (swtpm); $%s names one
                          otherwise. The registration ID defaults to the
                          one derived from the EK. The IoT hub key of the
                          assignment is imported into the TPM

Where the device goes: --provisioning-host, by default
%s, which serves every DPS
instance (the ID scope picks yours). When no connection string is
configured (the embedded local service), the device uses the local service
of the data directory: the running "dpsctl serve" if there is one, else the
service started by this command for its duration, and --id-scope defaults
to its ID scope. With a connection string to a host other than
*.azure-devices-provisioning.net, the default is that host. --ca-file adds
roots to trust.

Exits 3 when the service refuses the device (bad credentials, a disabled
enrollment, a failed assignment); the registration state is still printed
when the service returned one.`, "/dev/tpmrm0", tpmshared.EnvTPM, provisioning.DefaultHost),
		Example: `  # an individual symmetric-key enrollment on the local service; the device
  # then connects to its hub over MQTT and sends a message
  dpsctl device register --registration-id dev-1 --symmetric-key "$KEY" --connect

  # the same, posting the message to the hub over HTTPS
  dpsctl device register --registration-id dev-1 --symmetric-key "$KEY" --connect --hub-transport https

  # a device of a symmetric-key group, on Azure
  dpsctl device register --id-scope 0ne00ABCDEF --registration-id sensor-42 --group-key "$GROUP_KEY"

  # X.509, with the chain in device.pem
  dpsctl device register --certificate device.pem --key device.key -o json

  # over MQTT, then stay connected to the hub for direct methods and twin updates
  dpsctl device register --registration-id dev-1 --symmetric-key "$KEY" --transport mqtt --connect --stay

  # MQTT over WebSockets (port 443), for networks that only let HTTPS out
  dpsctl device register --certificate device.pem --key device.key --transport mqtt-ws --connect

  # the simulated TPM in ./tpm (dpsctl built with -tags tpmsimulator): it
  # registers over HTTPS, then connects to its hub over MQTT with a SAS token
  # signed in the TPM
  dpsctl device register --tpm-simulator ./tpm --connect --message '{"temperature":21}'`,
		Args:              cmdutil.ExactArgs(0, "register takes no arguments; give the registration ID with --registration-id"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			opts.HostGiven = fl.Changed("provisioning-host")
			opts.MessageGiven = fl.Changed("message")
			tpmGiven := fl.Changed("tpm-device") || fl.Changed("tpm-simulator") || fl.Changed("tpm-tcp")
			if err := cmdutil.MutuallyExclusive("name one TPM: --tpm-device, --tpm-simulator or --tpm-tcp",
				fl.Changed("tpm-device"), fl.Changed("tpm-simulator"), fl.Changed("tpm-tcp")); err != nil {
				return err
			}
			if tpmGiven {
				opts.TPM = true
			}
			if err := cmdutil.MutuallyExclusive("give one credential: --symmetric-key, --group-key, --certificate or --tpm",
				opts.SymmetricKey != "", opts.GroupKey != "", opts.Certificate != "", opts.TPM); err != nil {
				return err
			}
			switch {
			case opts.SymmetricKey == "" && opts.GroupKey == "" && opts.Certificate == "" && !opts.TPM:
				return cmdutil.FlagErrorf("give the device's credential: --symmetric-key, --group-key, --certificate with --key, or --tpm")
			case (opts.Certificate == "") != (opts.Key == ""):
				return cmdutil.FlagErrorf("--certificate and --key go together")
			case (opts.SymmetricKey != "" || opts.GroupKey != "") && opts.RegistrationID == "":
				return cmdutil.FlagErrorf("--registration-id is required with a symmetric key")
			case opts.MessageGiven && !opts.Connect:
				return cmdutil.FlagErrorf("--message is sent with --connect; add --connect")
			case opts.HostGiven && strings.TrimSpace(opts.ProvisioningHost) == "":
				return cmdutil.FlagErrorf("--provisioning-host needs a host name")
			}
			if err := checkTransports(opts, fl.Changed("hub-transport"), fl.Changed("timeout")); err != nil {
				return err
			}
			for _, k := range []struct{ name, v string }{{"--symmetric-key", opts.SymmetricKey}, {"--group-key", opts.GroupKey}} {
				if k.v != "" {
					if err := checkKey(k.v); err != nil {
						return cmdutil.FlagErrorf("%s: %v", k.name, err)
					}
				}
			}
			if payload != "" {
				if !json.Valid([]byte(payload)) {
					return cmdutil.FlagErrorf("--payload is not valid JSON")
				}
				opts.Payload = json.RawMessage(payload)
			}
			if opts.TPM {
				t := &opts.TPMFlags
				t.Create = true
				if !tpmGiven {
					t.Spec = os.Getenv(tpmshared.EnvTPM)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return registerRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.IDScope, "id-scope", "", "ID scope of the provisioning service (default: the local service's, or the profile's)")
	fl.StringVar(&opts.RegistrationID, "registration-id", "", "Registration ID (default: the certificate's CN, or derived from the TPM's EK)")
	fl.StringVar(&opts.ProvisioningHost, "provisioning-host", provisioning.DefaultHost, "Provisioning host, HOST or HOST:PORT")
	fl.StringVar(&opts.SymmetricKey, "symmetric-key", "", "Device key of an individual enrollment (base64)")
	fl.StringVar(&opts.GroupKey, "group-key", "", "Key of the device's symmetric-key enrollment group (base64); the device key is derived from it")
	fl.StringVar(&opts.Certificate, "certificate", "", "Device certificate file, optionally followed by its chain (PEM or DER)")
	fl.StringVar(&opts.Key, "key", "", "Private key file of --certificate")
	fl.BoolVar(&opts.TPM, "tpm", false, "Attest with a TPM (see --tpm-device, --tpm-simulator, --tpm-tcp)")
	fl.StringVar(&opts.TPMFlags.Device, "tpm-device", "", "TPM character device (default /dev/tpmrm0)")
	fl.StringVar(&opts.TPMFlags.Simulator, "tpm-simulator", "", "Use the built-in TPM simulator, keeping its state in this directory")
	fl.StringVar(&opts.TPMFlags.TCP, "tpm-tcp", "", "Use swtpm's TCP command channel at HOST:PORT")
	fl.StringVar(&payload, "payload", "", "JSON payload sent with the registration (custom allocation data)")
	fl.BoolVar(&opts.Connect, "connect", false, "Then connect to the assigned IoT hub and send one message")
	fl.StringVar(&opts.Transport, "transport", shared.TransportHTTPS, "How the device talks to DPS: https, mqtt or mqtt-ws")
	fl.StringVar(&opts.HubTransport, "hub-transport", "", "How --connect reaches the hub: mqtt, mqtt-ws or https (default: mqtt; mqtt-ws with --transport mqtt-ws)")
	fl.BoolVar(&opts.Stay, "stay", false, "With --connect over MQTT, stay connected: answer direct methods, print desired properties and cloud-to-device messages")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "With --stay, disconnect after this long (default: until Ctrl-C)")
	fl.StringVar(&opts.Message, "message", "", "Message text to send with --connect (default a small JSON greeting)")
	cmdutil.FileFlag(cmd, "certificate", "pem", "crt", "cer", "der")
	cmdutil.FileFlag(cmd, "key", "pem", "key")
	cmdutil.FileFlag(cmd, "tpm-device")
	_ = cmd.MarkFlagDirname("tpm-simulator")
	_ = cmd.RegisterFlagCompletionFunc("transport", cobra.FixedCompletions(shared.Transports, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("hub-transport", cobra.FixedCompletions(shared.Transports, cobra.ShellCompDirectiveNoFileComp))
	for _, name := range []string{"id-scope", "registration-id", "provisioning-host", "symmetric-key", "group-key", "tpm-tcp", "payload", "message", "timeout"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// checkTransports checks --transport, --hub-transport, --stay and
// --timeout, and fills in the hub transport's default.
func checkTransports(opts *RegisterOptions, hubGiven, timeoutGiven bool) error {
	if !slices.Contains(shared.Transports, opts.Transport) {
		return cmdutil.FlagErrorf("--transport %q: use https, mqtt or mqtt-ws", opts.Transport)
	}
	if opts.TPM && opts.Transport != shared.TransportHTTPS {
		return cmdutil.FlagErrorf("--transport %s: TPM attestation needs --transport https (DPS does not take it over MQTT)", opts.Transport)
	}
	switch {
	case hubGiven && !opts.Connect:
		return cmdutil.FlagErrorf("--hub-transport is for --connect; add --connect")
	case hubGiven && !slices.Contains(shared.Transports, opts.HubTransport):
		return cmdutil.FlagErrorf("--hub-transport %q: use mqtt, mqtt-ws or https", opts.HubTransport)
	case !hubGiven:
		opts.HubTransport, opts.HubTransportDefaulted = defaultHubTransport(opts.Transport), true
	}
	switch {
	case opts.Stay && !opts.Connect:
		return cmdutil.FlagErrorf("--stay keeps the hub connection of --connect; add --connect")
	case opts.Stay && opts.HubTransport == shared.TransportHTTPS:
		return cmdutil.FlagErrorf("--stay needs --hub-transport mqtt or mqtt-ws (direct methods and twin updates reach a device over MQTT)")
	case timeoutGiven && !opts.Stay:
		return cmdutil.FlagErrorf("--timeout bounds --stay; add --stay")
	case opts.Timeout < 0:
		return cmdutil.FlagErrorf("--timeout must not be negative")
	}
	return nil
}

// defaultHubTransport is how a device that registered over transport
// reaches its hub: over MQTT, as SDK devices do once provisioned, over
// WebSockets when it registered over them (a network that lets only HTTPS
// out). A device registered over HTTPS, TPM ones included, connects over
// MQTT too.
func defaultHubTransport(transport string) string {
	if transport == shared.TransportMQTTWS {
		return shared.TransportMQTTWS
	}
	return shared.TransportMQTT
}

func checkKey(k string) error {
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k)); err != nil || len(b) == 0 {
		return fmt.Errorf("not a base64 key")
	}
	return nil
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	quiet := opts.Quiet != nil && opts.Quiet()
	status := func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(opts.IO.ErrOut, format+"\n", args...)
		}
	}

	// The credential first: it may name the registration ID.
	att, closeAtt, err := attester(opts)
	if err != nil {
		return err
	}
	defer closeAtt()
	regID := opts.RegistrationID
	if regID == "" {
		regID = defaultRegistrationID(att)
	}
	if x, ok := att.(*provisioning.X509); ok && !strings.EqualFold(regID, x.RegistrationID()) {
		status("Warning: the registration ID %q is not the certificate's CN %q; the service will refuse the device", regID, x.RegistrationID())
	}

	ep, idScope, where, closeEP, err := endpoint(ctx, opts)
	if err != nil {
		return err
	}
	defer closeEP()
	if idScope == "" {
		return cmdutil.FlagErrorf("--id-scope is required for %s (the ID scope is on the service's overview page)", ep.Host)
	}

	via := ""
	if opts.Transport != shared.TransportHTTPS {
		via = " over " + opts.Transport
	}
	status("Registering %s (%s attestation, ID scope %s) with %s%s", regID, att.Type(), idScope, where, via)
	var st *model.RegistrationOperationStatus
	var regErr error
	if opts.Transport == shared.TransportHTTPS {
		c, err := shared.NewClient(ep, idScope, regID, att, opts.Payload)
		if err != nil {
			return err
		}
		st, regErr = c.Register(ctx)
	} else {
		st, regErr = shared.RegisterMQTT(ctx, ep, opts.Transport == shared.TransportMQTTWS, idScope, regID, att, opts.Payload)
	}
	if st != nil && st.RegistrationState != nil {
		if err := output.Print(p, *st.RegistrationState, shared.Columns); err != nil {
			return err
		}
	}
	if regErr != nil {
		if provisioning.IsDenied(regErr) || shared.IsMQTTRefusal(regErr) {
			var pe *provisioning.Error
			if att.Type() == model.AttestationTPM && errors.As(regErr, &pe) && pe.ErrorCode == model.ErrEnrollmentNotFound {
				// The service says no more than "not found", whether the
				// ID is not enrolled or enrolled with another EK.
				return &cmdutil.VerificationError{Err: fmt.Errorf("device registration refused: no TPM enrollment of registration ID %s has this TPM's endorsement key (compare `dpsctl tpm regid` of the EK with the enrollment): %w", regID, regErr)}
			}
			return &cmdutil.VerificationError{Err: fmt.Errorf("device registration refused: %w", regErr)}
		}
		return regErr
	}
	res := st.RegistrationState
	status("Assigned to %s as device %s", res.AssignedHub, res.DeviceID)
	if !opts.Connect {
		return nil
	}
	msg := shared.DefaultMessage(regID)
	if opts.MessageGiven {
		msg = []byte(opts.Message)
	}
	if opts.HubTransportDefaulted && !opts.Stay && ep.LocalWithoutMQTT() {
		// dpsctl serve --mqtt-addr off: its hubs are reached over HTTPS
		// only.
		opts.HubTransport = shared.TransportHTTPS
	}
	if opts.HubTransport == shared.TransportHTTPS {
		if err := shared.Connect(ctx, ep, att, res, msg); err != nil {
			if iothub.IsDenied(err) {
				return &cmdutil.VerificationError{Err: fmt.Errorf("the hub refused device %s: %w", res.DeviceID, err)}
			}
			return fmt.Errorf("connecting to %s: %w", res.AssignedHub, err)
		}
		status("Connected to %s as %s and sent a message (%d bytes)", res.AssignedHub, res.DeviceID, len(msg))
		return nil
	}
	return stayConnected(ctx, opts, ep, att, res, msg, status)
}

// stayConnected connects the device to its hub over MQTT and sends msg;
// with --stay it then answers direct methods (200, the payload echoed) and
// prints desired-property updates and cloud-to-device messages on stdout
// until ctx ends or --timeout.
func stayConnected(ctx context.Context, opts *RegisterOptions, ep shared.Endpoint, att provisioning.Attester, res *model.DeviceRegistrationResult, msg []byte, status func(string, ...any)) error {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(opts.IO.Out, format+"\n", args...)
	}
	var h shared.HubHandlers
	if opts.Stay {
		h.OnDesired = func(version int64, patch []byte) {
			say("desired properties (version %d): %s", version, compactJSON(patch))
		}
		h.OnMethod = func(name string, payload []byte) (int, []byte) {
			say("direct method %s: %s", name, compactJSON(payload))
			if len(payload) == 0 || !json.Valid(payload) {
				payload = []byte("null")
			}
			return 200, payload
		}
		h.OnC2D = func(m mqttdevice.Message) {
			say("cloud-to-device message: %s", m.Payload)
		}
	}
	ws := opts.HubTransport == shared.TransportMQTTWS
	c, err := shared.ConnectMQTT(ctx, ep, ws, att, res, h)
	if err != nil {
		if shared.IsMQTTHubRefusal(err) {
			return &cmdutil.VerificationError{Err: fmt.Errorf("the hub refused device %s: %w", res.DeviceID, err)}
		}
		hint := ""
		if opts.HubTransportDefaulted {
			hint = " (--connect uses MQTT by default; --hub-transport mqtt-ws or https reaches the hub another way)"
		}
		return fmt.Errorf("connecting to %s over %s: %w%s", res.AssignedHub, opts.HubTransport, err, hint)
	}
	defer c.Close()
	if err := c.SendTelemetry(ctx, msg, nil); err != nil {
		return fmt.Errorf("sending to %s: %w", res.AssignedHub, err)
	}
	status("Connected to %s as %s over %s and sent a message (%d bytes)", res.AssignedHub, res.DeviceID, opts.HubTransport, len(msg))
	if !opts.Stay {
		return nil
	}
	tw, err := c.GetTwin(ctx)
	if err != nil {
		return fmt.Errorf("reading the twin of %s: %w", res.DeviceID, err)
	}
	d, _ := json.Marshal(tw.Desired)
	say("desired properties (version %d): %s", mqttdevice.Version(tw.Desired), d)
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	status("Staying connected: answering direct methods, printing twin updates and cloud-to-device messages (Ctrl-C to stop)")
	select {
	case <-ctx.Done():
		status("Disconnected from %s", res.AssignedHub)
		return nil
	case <-c.Done():
		return fmt.Errorf("the connection to %s was lost", res.AssignedHub)
	}
}

// compactJSON is b on one line when it is JSON, else as it is.
func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		return buf.String()
	}
	return string(b)
}

func defaultRegistrationID(att provisioning.Attester) string {
	switch a := att.(type) {
	case *provisioning.X509:
		return a.RegistrationID()
	case *provisioning.TPM:
		return a.RegistrationID()
	}
	return ""
}

// attester builds the device's credential; close releases a TPM.
func attester(opts *RegisterOptions) (provisioning.Attester, func(), error) {
	noop := func() {}
	switch {
	case opts.SymmetricKey != "":
		a, err := provisioning.NewSymmetricKey(opts.SymmetricKey)
		return a, noop, err
	case opts.GroupKey != "":
		a, err := provisioning.NewGroupSymmetricKey(opts.GroupKey, opts.RegistrationID)
		return a, noop, err
	case opts.Certificate != "":
		a, err := provisioning.LoadX509(opts.Certificate, opts.Key)
		return a, noop, err
	}
	t, _, err := opts.TPMFlags.Open()
	if err != nil {
		return nil, noop, err
	}
	a, err := provisioning.NewTPM(t)
	if err != nil {
		t.Close()
		return nil, noop, fmt.Errorf("%s: %w", opts.TPMFlags.Describe(), err)
	}
	return a, func() { t.Close() }, nil
}

// endpoint decides where the device goes: --provisioning-host, else the
// local service when no connection string is configured, else the
// connection string's host when it is not Azure's.
func endpoint(ctx context.Context, opts *RegisterOptions) (ep shared.Endpoint, idScope, where string, closeFn func(), err error) {
	closeFn = func() {}
	cfg, err := opts.Config()
	if err != nil {
		return ep, "", "", closeFn, err
	}
	idScope = strings.TrimSpace(opts.IDScope)
	if !opts.HostGiven && cfg.Embedded() {
		l, err := shared.OpenLocal(ctx, cfg.DataDir)
		if err != nil {
			return ep, "", "", closeFn, err
		}
		if idScope == "" {
			idScope = l.Info.IDScope
		}
		return shared.LocalEndpoint(l), idScope, l.Describe(), func() { l.Close() }, nil
	}
	if idScope == "" {
		idScope = cfg.IDScope // saved in the profile by "config set-profile -n"
	}
	host := opts.ProvisioningHost
	if !opts.HostGiven {
		if cs, err := sas.ParseConnectionString(cfg.ConnectionString); err == nil && !shared.IsAzureDPSHost(cs.HostName) {
			host = cs.HostName
		}
	}
	roots, err := trustedRoots(cfg.CAFile)
	if err != nil {
		return ep, "", "", closeFn, err
	}
	return shared.Endpoint{Host: host, Roots: roots}, idScope, host, closeFn, nil
}

// trustedRoots are the system roots plus the certificates of caFile.
func trustedRoots(caFile string) (*x509.CertPool, error) {
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
