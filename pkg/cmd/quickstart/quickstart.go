// Package quickstart is "dpsctl quickstart": the provisioning tutorial in
// one command, on the local provisioning service.
package quickstart

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/device/shared"
	tpmshared "github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/tpm"
	"github.com/spf13/cobra"
)

// Names of what quickstart enrolls; a second run replaces them.
const (
	TPMRegistrationID   = "quickstart-tpm"
	X509RegistrationID  = "quickstart-x509"
	GroupID             = "quickstart-group"
	GroupDeviceID       = "quickstart-group-device-1"
	WorkDirName         = "quickstart"
	simulatorStateDir   = "tpm"
	pkiDir              = "pki"
	minCertificateLife  = 24 * time.Hour
	quickstartUserAgent = "dpsctl-quickstart"
)

// QuickstartOptions are the inputs of "quickstart".
type QuickstartOptions struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Config, error)
	Printer func() (*output.Printer, error)
	Quiet   func() bool

	// TPM selects the TPM of the TPM device; with none given, the
	// simulator with its state in the work directory.
	TPM      tpmshared.TPMFlags
	TPMGiven bool
	SkipTPM  bool
}

// NewCmdQuickstart builds "dpsctl quickstart".
func NewCmdQuickstart(f *cmdutil.Factory, runF func(*QuickstartOptions) error) *cobra.Command {
	opts := &QuickstartOptions{IO: f.IOStreams, Config: f.Config, Printer: f.Printer, Quiet: f.Quiet}
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Provision three simulated devices on the local service, end to end",
		Long: fmt.Sprintf(`Run the provisioning tutorial in one command, on the local provisioning
service of the data directory (the running "dpsctl serve", or the service
started in this process for the duration):

  1. enroll a TPM device (%s) by the endorsement key of a simulated TPM,
     an X.509 device (%s) by a certificate of a test PKI, and a
     symmetric-key enrollment group (%s)
  2. boot each device: it calls the device registration API, proves its
     identity (the TPM challenge, mutual TLS, a key derived from the group
     key for %s) and is assigned to an IoT hub
  3. connect each device to its hub with the identity it got and send one
     message
  4. print the devices: assigned in their registration states, and
     connected in the hub's device registry

Everything quickstart makes lives in the data directory: the enrollments
above, and under %s/ the simulated TPM's seed and the test PKI. Running it
again reuses them and provisions the same devices again.

The TPM device needs the TPM simulator, which is built into dpsctl only
with the tpmsimulator build tag (cgo and a C compiler):
  go run -tags tpmsimulator ./cmd/dpsctl quickstart
Without it quickstart says so and provisions the other two devices.
--tpm-device or --tpm-tcp use a real TPM or swtpm instead; --skip-tpm
leaves the TPM device out.`, TPMRegistrationID, X509RegistrationID, GroupID, GroupDeviceID, WorkDirName),
		Example: `  dpsctl quickstart
  go run -tags tpmsimulator ./cmd/dpsctl quickstart
  dpsctl quickstart -o json
  dpsctl quickstart --data-dir ./lab --tpm-tcp 127.0.0.1:2321`,
		Args:              cmdutil.ExactArgs(0, "quickstart takes no arguments"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			dev, sim, tcp := fl.Changed("tpm-device"), fl.Changed("tpm-simulator"), fl.Changed("tpm-tcp")
			if err := cmdutil.MutuallyExclusive("name one TPM: --tpm-device, --tpm-simulator or --tpm-tcp", dev, sim, tcp); err != nil {
				return err
			}
			opts.TPMGiven = dev || sim || tcp
			if opts.TPMGiven && opts.SkipTPM {
				return cmdutil.FlagErrorf("--skip-tpm leaves the TPM out; do not name one")
			}
			opts.TPM.Create = true
			if runF != nil {
				return runF(opts)
			}
			return quickstartRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TPM.Simulator, "tpm-simulator", "", "State directory of the simulated TPM (default "+WorkDirName+"/"+simulatorStateDir+" in the data directory)")
	fl.StringVar(&opts.TPM.Device, "tpm-device", "", "Use this TPM character device instead of the simulator")
	fl.StringVar(&opts.TPM.TCP, "tpm-tcp", "", "Use swtpm's TCP command channel at HOST:PORT instead of the simulator")
	fl.BoolVar(&opts.SkipTPM, "skip-tpm", false, "Leave the TPM device out")
	_ = cmd.MarkFlagDirname("tpm-simulator")
	cmdutil.FileFlag(cmd, "tpm-device")
	_ = cmd.RegisterFlagCompletionFunc("tpm-tcp", cobra.NoFileCompletions)
	return cmd
}

// Device is one provisioned device as quickstart prints it: its
// registration state in the provisioning service and its identity in the
// hub's registry.
type Device struct {
	RegistrationID string                        `json:"registrationId"`
	Attestation    string                        `json:"attestation"`
	Enrollment     string                        `json:"enrollment"` // "individual" or "group <id>"
	Registration   model.DeviceRegistrationState `json:"registrationState"`
	HubDevice      *HubDevice                    `json:"hubDevice,omitempty"`
}

// HubDevice is the hub registry's view of a device, as the portal's IoT
// devices explorer lists it.
type HubDevice struct {
	HubHostName                string `json:"hubHostName"`
	DeviceID                   string `json:"deviceId"`
	Status                     string `json:"status"`
	AuthenticationType         string `json:"authenticationType"`
	ConnectionState            string `json:"connectionState"`
	ConnectionStateUpdatedTime string `json:"connectionStateUpdatedTime,omitempty"`
	LastActivityTime           string `json:"lastActivityTime,omitempty"`
	DeviceToCloudMessageCount  int64  `json:"deviceToCloudMessageCount"`
	IoTEdge                    bool   `json:"iotEdge"`
}

func hubDevice(d linkedhub.Device) *HubDevice {
	return &HubDevice{
		HubHostName: d.HubHostName, DeviceID: d.DeviceID, Status: d.Status, AuthenticationType: d.AuthenticationType,
		ConnectionState: d.ConnectionState, ConnectionStateUpdatedTime: d.ConnectionStateUpdatedTime,
		LastActivityTime: d.LastActivityTime, DeviceToCloudMessageCount: d.DeviceToCloudMessageCount, IoTEdge: d.IoTEdge,
	}
}

// Columns are the table columns of the provisioned devices.
var Columns = []output.Column[Device]{
	{Header: "REGISTRATION ID", Value: func(d Device) string { return d.RegistrationID }, Full: true},
	{Header: "ATTESTATION", Value: func(d Device) string { return d.Attestation }},
	{Header: "ENROLLMENT", Value: func(d Device) string { return d.Enrollment }},
	{Header: "STATUS", Value: func(d Device) string { return d.Registration.Status }},
	{Header: "ASSIGNED HUB", Value: func(d Device) string { return d.Registration.AssignedHub }},
	{Header: "DEVICE ID", Value: func(d Device) string { return d.Registration.DeviceID }, Full: true},
	{Header: "HUB AUTH", Value: func(d Device) string { return hubField(d, func(h *HubDevice) string { return h.AuthenticationType }) }},
	{Header: "CONNECTION", Value: func(d Device) string { return hubField(d, func(h *HubDevice) string { return h.ConnectionState }) }},
	{Header: "MESSAGES", Value: func(d Device) string {
		return hubField(d, func(h *HubDevice) string { return strconv.FormatInt(h.DeviceToCloudMessageCount, 10) })
	}},
	{Header: "LAST ACTIVITY", Value: func(d Device) string {
		return hubField(d, func(h *HubDevice) string { return cmdutil.Timestamp(h.LastActivityTime) })
	}},
}

func hubField(d Device, f func(*HubDevice) string) string {
	if d.HubDevice == nil {
		return ""
	}
	return f(d.HubDevice)
}

// device is one simulated device to boot.
type device struct {
	regID      string
	enrollment string
	att        provisioning.Attester
}

func quickstartRun(ctx context.Context, opts *QuickstartOptions) error {
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
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if !cfg.Embedded() {
		status("Note: quickstart uses the local provisioning service of the data directory; the %s is not used", cfg.ConnectionStringOrigin())
	}
	work := filepath.Join(cfg.DataDir, WorkDirName)

	l, err := shared.OpenLocal(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer l.Close()
	status("Using %s, ID scope %s", l.Describe(), l.Info.IDScope)
	c, err := dps.New(dps.Options{
		ConnectionString: l.Instance.Info().ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(l.Instance.Handler())},
		UserAgent:        quickstartUserAgent,
	})
	if err != nil {
		return err
	}

	var devices []device

	// 1. The TPM device.
	att, closeTPM, err := openTPM(opts, work, status)
	if err != nil {
		return err
	}
	defer closeTPM()
	if att != nil {
		e := &model.IndividualEnrollment{
			RegistrationID:   TPMRegistrationID,
			EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationTPM, TPM: &model.TPMAttestation{EndorsementKey: att.Identity().EK.Base64()}}},
		}
		if _, err := c.PutEnrollment(ctx, e, "*"); err != nil {
			return fmt.Errorf("enroll %s: %w", TPMRegistrationID, err)
		}
		status("Enrolled %s: TPM attestation with the endorsement key of %s", TPMRegistrationID, describeTPM(opts))
		devices = append(devices, device{regID: TPMRegistrationID, enrollment: "individual", att: att})
	}

	// 2. The X.509 device, from a test PKI.
	x, created, err := testPKI(filepath.Join(work, pkiDir))
	if err != nil {
		return fmt.Errorf("test PKI in %s: %w", filepath.Join(work, pkiDir), err)
	}
	if created {
		status("Created a test PKI (root CA, intermediate CA, device certificate %s) in %s", X509RegistrationID, filepath.Join(work, pkiDir))
	}
	xe := &model.IndividualEnrollment{
		RegistrationID: X509RegistrationID,
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
			ClientCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(x.ClientCertificate().Leaf)}}}}},
	}
	if _, err := c.PutEnrollment(ctx, xe, "*"); err != nil {
		return fmt.Errorf("enroll %s: %w", X509RegistrationID, err)
	}
	status("Enrolled %s: X.509 attestation with its device certificate", X509RegistrationID)
	devices = append(devices, device{regID: X509RegistrationID, enrollment: "individual", att: x})

	// 3. The symmetric-key group and one of its devices.
	g := &model.EnrollmentGroup{
		EnrollmentGroupID: GroupID,
		EnrollmentCommon:  model.EnrollmentCommon{Attestation: &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}}},
	}
	if _, err := c.PutGroup(ctx, g, "*"); err != nil {
		return fmt.Errorf("enroll group %s: %w", GroupID, err)
	}
	am, err := c.GetGroupAttestation(ctx, GroupID)
	if err != nil || am.SymmetricKey == nil {
		return fmt.Errorf("read the keys of group %s: %w", GroupID, errors.Join(err, errNoKey(am)))
	}
	gk, err := provisioning.NewGroupSymmetricKey(am.SymmetricKey.PrimaryKey, GroupDeviceID)
	if err != nil {
		return err
	}
	status("Enrolled group %s: symmetric keys; device %s derives its key from the group key", GroupID, GroupDeviceID)
	devices = append(devices, device{regID: GroupDeviceID, enrollment: "group " + GroupID, att: gk})

	// Boot the devices (at once, as a fleet would), connect each to its
	// hub and send a message.
	ep := shared.LocalEndpoint(l)
	booted := make([]string, len(devices))
	errs := make([]error, len(devices))
	var wg sync.WaitGroup
	for i, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			booted[i], errs[i] = boot(ctx, ep, l.Info.IDScope, d)
		}()
	}
	wg.Wait()
	for i := range devices {
		if errs[i] != nil {
			return errs[i]
		}
		status("%s", booted[i])
	}

	// One message the whole way over MQTT, seen on the hub's event stream
	// (what "dpsctl hub monitor-events" shows).
	for _, d := range devices {
		if d.regID != X509RegistrationID {
			continue
		}
		rs, err := c.GetRegistration(ctx, d.regID)
		if err != nil {
			return fmt.Errorf("registration state of %s: %w", d.regID, err)
		}
		msg := []byte(`{"temperature":21,"sentBy":"dpsctl quickstart"}`)
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		ev, err := shared.TelemetryThroughStream(sctx, l, d.att, &model.DeviceRegistrationResult{AssignedHub: rs.AssignedHub, DeviceID: rs.DeviceID}, msg)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: telemetry over MQTT: %w", d.regID, err)
		}
		// The device has left: the list below shows it as the registry
		// records it then (Disconnected, the message counted).
		l.WaitDisconnected(ctx, rs.AssignedHub, rs.DeviceID)
		status("Monitored %s on %s's event stream: %s (sent over MQTT; see dpsctl hub monitor-events)", ev.DeviceID, rs.AssignedHub, ev.Payload)
	}

	// What the service and the hub now say about them.
	out := make([]Device, 0, len(devices))
	for _, d := range devices {
		rs, err := c.GetRegistration(ctx, d.regID)
		if err != nil {
			return fmt.Errorf("registration state of %s: %w", d.regID, err)
		}
		qd := Device{RegistrationID: d.regID, Attestation: d.att.Type(), Enrollment: d.enrollment, Registration: *rs}
		if hd, err := l.Instance.HubDevice(ctx, rs.AssignedHub, rs.DeviceID); err == nil {
			qd.HubDevice = hubDevice(hd)
		} else if !errors.Is(err, linkedhub.ErrNotFound) {
			return fmt.Errorf("hub device %s: %w", rs.DeviceID, err)
		}
		out = append(out, qd)
	}
	if err := output.PrintList(p, out, Columns, "devices"); err != nil {
		return err
	}
	status("Next: dpsctl registration list; dpsctl hub device list; dpsctl enrollment show %s; dpsctl device register --help", X509RegistrationID)
	return nil
}

// boot provisions one device, connects it and sends a message; it returns
// the status line.
func boot(ctx context.Context, ep shared.Endpoint, idScope string, d device) (string, error) {
	// TPM attestation needs HTTPS; the others register over MQTT, as SDK
	// devices on the Mqtt transport do.
	var st *model.RegistrationOperationStatus
	var err error
	over := "MQTT"
	if d.att.Type() == model.AttestationTPM {
		over = "HTTPS"
		dc, cerr := shared.NewClient(ep, idScope, d.regID, d.att, nil)
		if cerr != nil {
			return "", cerr
		}
		st, err = dc.Register(ctx)
	} else {
		st, err = shared.RegisterMQTT(ctx, ep, false, idScope, d.regID, d.att, nil)
	}
	if err != nil {
		if provisioning.IsDenied(err) || shared.IsMQTTRefusal(err) {
			return "", &cmdutil.VerificationError{Err: fmt.Errorf("%s: %w", d.regID, err)}
		}
		return "", fmt.Errorf("%s: %w", d.regID, err)
	}
	r := st.RegistrationState
	if err := shared.Connect(ctx, ep, d.att, r, shared.DefaultMessage(d.regID)); err != nil {
		return "", fmt.Errorf("%s: connecting to %s: %w", d.regID, r.AssignedHub, err)
	}
	return fmt.Sprintf("Booted %s: %s attestation over %s, assigned to %s as %s, connected and sent a message", d.regID, d.att.Type(), over, r.AssignedHub, r.DeviceID), nil
}

func errNoKey(am *model.AttestationMechanism) error {
	if am == nil || am.SymmetricKey == nil {
		return errors.New("the group has no symmetric keys")
	}
	return nil
}

func describeTPM(opts *QuickstartOptions) string {
	if opts.TPM.Simulator != "" {
		return "the simulated TPM in " + opts.TPM.Simulator
	}
	return opts.TPM.Describe()
}

// openTPM opens the TPM of the TPM device: the one named, else the
// simulator with its state in the work directory. It returns no attester
// (and says why) when the TPM device is left out.
func openTPM(opts *QuickstartOptions, work string, status func(string, ...any)) (*provisioning.TPM, func(), error) {
	noop := func() {}
	if opts.SkipTPM {
		status("Skipping the TPM device (--skip-tpm)")
		return nil, noop, nil
	}
	if !opts.TPMGiven {
		if !tpm.SimulatorAvailable {
			status("Skipping the TPM device: this dpsctl was built without the TPM simulator. To include it, build with the tpmsimulator tag (needs cgo and a C compiler), e.g. go run -tags tpmsimulator ./cmd/dpsctl quickstart, or use swtpm with --tpm-tcp")
			return nil, noop, nil
		}
		opts.TPM.Simulator = filepath.Join(work, simulatorStateDir)
	}
	t, _, err := opts.TPM.Open()
	if err != nil {
		return nil, noop, err
	}
	a, err := provisioning.NewTPM(t)
	if err != nil {
		t.Close()
		return nil, noop, fmt.Errorf("%s: %w", describeTPM(opts), err)
	}
	return a, func() { t.Close() }, nil
}

// testPKI returns the X.509 device of the test PKI in dir, making the PKI
// (root CA, intermediate CA, device certificate with its chain) when it is
// missing, broken or about to expire.
func testPKI(dir string) (x *provisioning.X509, created bool, err error) {
	certPath := filepath.Join(dir, X509RegistrationID+".pem")
	keyPath := filepath.Join(dir, X509RegistrationID+".key")
	// A missing, unreadable or expiring PKI is made anew.
	if x, err := provisioning.LoadX509(certPath, keyPath); err == nil && usable(x) {
		return x, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	root, err := certs.NewRoot(certs.Options{CommonName: "dpsctl Quickstart Root CA"})
	if err != nil {
		return nil, false, err
	}
	inter, err := certs.NewIntermediate(root, certs.Options{CommonName: "dpsctl Quickstart Intermediate CA"})
	if err != nil {
		return nil, false, err
	}
	dev, err := certs.NewDevice(inter, X509RegistrationID, certs.Options{})
	if err != nil {
		return nil, false, err
	}
	for _, w := range []struct {
		p     *certs.Pair
		chain []*x509.Certificate
		name  string
	}{
		{root, nil, "root"},
		{inter, nil, "intermediate"},
		{dev, []*x509.Certificate{inter.Cert}, X509RegistrationID},
	} {
		if err := certs.WritePair(w.p, w.chain, filepath.Join(dir, w.name+".pem"), filepath.Join(dir, w.name+".key"), true); err != nil {
			return nil, false, err
		}
	}
	x, err = provisioning.LoadX509(certPath, keyPath)
	return x, true, err
}

// usable reports whether the device certificate of the PKI is valid for a
// while yet and names the quickstart device.
func usable(x *provisioning.X509) bool {
	leaf := x.ClientCertificate().Leaf
	now := time.Now()
	return x.RegistrationID() == X509RegistrationID && now.After(leaf.NotBefore) && now.Add(minCertificateLife).Before(leaf.NotAfter)
}
