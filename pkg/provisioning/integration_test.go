package provisioning_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iothub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

// service is the local provisioning service served over HTTPS on
// 127.0.0.1, with an in-process service client to enroll devices.
type service struct {
	inst   *server.Instance
	client *dps.Client
	addr   string
	roots  *x509.CertPool
}

func startService(t *testing.T) *service {
	t.Helper()
	srv := servertest.Start(t, server.Options{})
	c, err := dps.New(dps.Options{
		ConnectionString: srv.Info.ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(srv.Instance.Handler())},
		MaxRetries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &service{inst: srv.Instance, client: c, addr: srv.Addr, roots: srv.RootCAs}
}

// dial reaches the service whatever host name is asked for (the device
// API and the local hubs share the listener).
func (s *service) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.addr)
}

func (s *service) host() string {
	_, port, _ := net.SplitHostPort(s.addr)
	return "localhost:" + port
}

func (s *service) device(t *testing.T, regID string, att provisioning.Attester) *provisioning.Client {
	t.Helper()
	c, err := s.newDevice(regID, att)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *service) newDevice(regID string, att provisioning.Attester) (*provisioning.Client, error) {
	return provisioning.New(provisioning.Options{
		Host:            s.host(),
		IDScope:         s.inst.IDScope(),
		RegistrationID:  regID,
		Attester:        att,
		RootCAs:         s.roots,
		DialContext:     s.dial,
		MinPollInterval: time.Millisecond,
		MaxPollInterval: 10 * time.Millisecond,
		Timeout:         20 * time.Second,
	})
}

// send connects the provisioned device to its hub and sends a message.
func (s *service) send(t *testing.T, att provisioning.Attester, r *model.DeviceRegistrationResult) error {
	t.Helper()
	opts := iothub.Options{HostName: r.AssignedHub, DeviceID: r.DeviceID, RootCAs: s.roots, DialContext: s.dial}
	opts.ConfigureTLS = func(c *tls.Config) { c.ServerName = "localhost" }
	switch a := att.(type) {
	case *provisioning.SymmetricKey:
		opts.Key = a.Key()
	case *provisioning.X509:
		opts.Certificate = a.ClientCertificate()
	case *provisioning.TPM:
		opts.Signer = a.Sign
	}
	c, err := iothub.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c.SendEvent(context.Background(), []byte(`{"hello":1}`))
}

func symmetricEnrollment(id, status string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{
		RegistrationID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ProvisioningStatus: status,
			Attestation:        &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}},
		},
	}
}

func symmetricGroup(id, status string) *model.EnrollmentGroup {
	return &model.EnrollmentGroup{
		EnrollmentGroupID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ProvisioningStatus: status,
			Attestation:        &model.AttestationMechanism{Type: model.AttestationSymmetricKey, SymmetricKey: &model.SymmetricKeyAttestation{}},
		},
	}
}

func x509Enrollment(id string, cert *x509.Certificate, status string) *model.IndividualEnrollment {
	return &model.IndividualEnrollment{
		RegistrationID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ProvisioningStatus: status,
			Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
				ClientCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(cert)}}}},
		},
	}
}

func x509Group(id string, signer *x509.Certificate, status string) *model.EnrollmentGroup {
	return &model.EnrollmentGroup{
		EnrollmentGroupID: id,
		EnrollmentCommon: model.EnrollmentCommon{
			ProvisioningStatus: status,
			Attestation: &model.AttestationMechanism{Type: model.AttestationX509, X509: &model.X509Attestation{
				SigningCertificates: &model.X509Certificates{Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(signer)}}}},
		},
	}
}

func mustX509(t *testing.T, d *certstest.Device) *provisioning.X509 {
	t.Helper()
	a, err := provisioning.LoadX509(d.CertPath, d.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// outcome is what a registration ends in.
type outcome int

const (
	assigned outcome = iota
	disabled
	failed
	refused // 401
)

func TestRegisterAgainstLocalService(t *testing.T) {
	s := startService(t)
	ctx := context.Background()
	put := func(e *model.IndividualEnrollment) *model.IndividualEnrollment {
		t.Helper()
		got, err := s.client.PutEnrollment(ctx, e, "")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	putGroup := func(g *model.EnrollmentGroup) *model.EnrollmentGroup {
		t.Helper()
		got, err := s.client.PutGroup(ctx, g, "")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	symKey := func(k string) provisioning.Attester {
		a, err := provisioning.NewSymmetricKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	derived := func(groupKey, id string) provisioning.Attester {
		a, err := provisioning.NewGroupSymmetricKey(groupKey, id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	// Symmetric keys.
	ind := put(symmetricEnrollment("sym-ind", ""))
	indOff := put(symmetricEnrollment("sym-ind-off", model.StatusDisabled))
	grp := putGroup(symmetricGroup("sym-grp", ""))
	grpOff := putGroup(symmetricGroup("sym-grp-off", model.StatusDisabled))
	// One device of the enabled group is turned off by a disabled
	// individual enrollment with its own key.
	put(symmetricEnrollment("sym-grp-dev-off", model.StatusDisabled))
	noHub := symmetricEnrollment("sym-no-hub", "")
	noHub.IoTHubs = []string{"nowhere.azure-devices.net"}
	noHub.AllocationPolicy = model.AllocationStatic
	noHub = put(noHub)

	// X.509.
	self := certstest.SelfSigned(t, "x509-ind")
	put(x509Enrollment("x509-ind", self.Cert, ""))
	otherSelf := certstest.SelfSigned(t, "x509-ind")
	selfOff := certstest.SelfSigned(t, "x509-ind-off")
	put(x509Enrollment("x509-ind-off", selfOff.Cert, model.StatusDisabled))
	pki := certstest.New(t)
	putGroup(x509Group("x509-grp", pki.Intermediate.Cert, ""))
	foreign := certstest.New(t)
	offPKI := certstest.New(t)
	putGroup(x509Group("x509-grp-off", offPKI.Intermediate.Cert, model.StatusDisabled))
	expired := pki.DeviceWithOptions(t, "x509-expired", certs.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})

	tests := []struct {
		name      string
		regID     string
		att       provisioning.Attester
		want      outcome
		wantGroup string
		wantCode  int
	}{
		{"symmetric individual", "sym-ind", symKey(ind.Attestation.SymmetricKey.PrimaryKey), assigned, "", 0},
		{"symmetric individual secondary key", "sym-ind", symKey(ind.Attestation.SymmetricKey.SecondaryKey), assigned, "", 0},
		{"symmetric individual wrong key", "sym-ind", symKey(indOff.Attestation.SymmetricKey.PrimaryKey), refused, "", 0},
		{"symmetric individual disabled", "sym-ind-off", symKey(indOff.Attestation.SymmetricKey.PrimaryKey), disabled, "", 0},
		{"symmetric group", "sym-grp-dev-1", derived(grp.Attestation.SymmetricKey.PrimaryKey, "sym-grp-dev-1"), assigned, "sym-grp", 0},
		{"symmetric group wrong key", "sym-grp-dev-2", derived(grp.Attestation.SymmetricKey.PrimaryKey, "another-id"), refused, "", 0},
		{"symmetric group disabled", "sym-grp-off-dev", derived(grpOff.Attestation.SymmetricKey.PrimaryKey, "sym-grp-off-dev"), disabled, "", 0},
		{"symmetric group device disabled individually", "sym-grp-dev-off", derived(grp.Attestation.SymmetricKey.PrimaryKey, "sym-grp-dev-off"), disabled, "", 0},
		{"no linked hub", "sym-no-hub", symKey(noHub.Attestation.SymmetricKey.PrimaryKey), failed, "", model.ErrHubNotSpecified},
		{"x509 individual", "x509-ind", mustX509(t, self), assigned, "", 0},
		{"x509 individual other certificate", "x509-ind", mustX509(t, otherSelf), refused, "", 0},
		{"x509 individual disabled", "x509-ind-off", mustX509(t, selfOff), disabled, "", 0},
		{"x509 group", "x509-grp-dev", mustX509(t, pki.Device(t, "x509-grp-dev")), assigned, "x509-grp", 0},
		{"x509 group from the root", "x509-root-dev", mustX509(t, pki.RootDevice(t, "x509-root-dev")), refused, "", 0},
		{"x509 untrusted chain", "x509-foreign", mustX509(t, foreign.Device(t, "x509-foreign")), refused, "", 0},
		{"x509 group disabled", "x509-off-dev", mustX509(t, offPKI.Device(t, "x509-off-dev")), disabled, "", 0},
		{"x509 wrong CN", "x509-not-cn", mustX509(t, pki.Device(t, "x509-cn")), refused, "", 0},
		{"x509 expired", "x509-expired", mustX509(t, expired), refused, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := s.device(t, tt.regID, tt.att).Register(ctx)
			switch tt.want {
			case assigned:
				if err != nil {
					t.Fatal(err)
				}
				r := st.RegistrationState
				if r.Status != model.RegAssigned || !strings.EqualFold(r.DeviceID, tt.regID) || r.AssignedHub == "" {
					t.Fatalf("result %+v", r)
				}
				if g := groupOf(r); g != tt.wantGroup {
					t.Errorf("group %q, want %q", g, tt.wantGroup)
				}
				if err := s.send(t, tt.att, r); err != nil {
					t.Fatalf("hub: %v", err)
				}
				dev, err := s.inst.HubDevice(ctx, r.AssignedHub, r.DeviceID)
				if err != nil {
					t.Fatal(err)
				}
				// Posted over HTTPS: activity, and no connection state
				// (IoT Hub follows it for MQTT and AMQP only).
				if dev.ConnectionState != "Disconnected" || dev.DeviceToCloudMessageCount < 1 || dev.LastActivityTime == "" {
					t.Errorf("hub device %+v", dev)
				}
			case disabled, failed:
				var re *provisioning.RegistrationError
				if !errors.As(err, &re) || !provisioning.IsDenied(err) {
					t.Fatalf("err %v", err)
				}
				want := map[outcome]string{disabled: model.RegDisabled, failed: model.RegFailed}[tt.want]
				if st.Status != want {
					t.Errorf("status %q, want %q", st.Status, want)
				}
				if tt.wantCode != 0 && (st.RegistrationState == nil || st.RegistrationState.ErrorCode != tt.wantCode) {
					t.Errorf("state %+v, want errorCode %d", st.RegistrationState, tt.wantCode)
				}
			case refused:
				var e *provisioning.Error
				if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || !provisioning.IsDenied(err) {
					t.Fatalf("err %v", err)
				}
				if e.ErrorCode != model.ErrUnauthorized {
					t.Errorf("errorCode %d, want %d", e.ErrorCode, model.ErrUnauthorized)
				}
			}
		})
	}

	t.Run("status lookup", func(t *testing.T) {
		r, err := s.device(t, "sym-ind", symKey(ind.Attestation.SymmetricKey.PrimaryKey)).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != model.RegAssigned || r.DeviceID != "sym-ind" {
			t.Errorf("status %+v", r)
		}
	})
	t.Run("hub refuses another device's key", func(t *testing.T) {
		r := &model.DeviceRegistrationResult{AssignedHub: "localhost", DeviceID: "sym-ind"}
		err := s.send(t, symKey(indOff.Attestation.SymmetricKey.PrimaryKey), r)
		if !iothub.IsDenied(err) {
			t.Fatalf("err %v", err)
		}
	})
}

func groupOf(r *model.DeviceRegistrationResult) string {
	switch {
	case r.X509 != nil:
		return r.X509.EnrollmentGroupID
	case r.SymmetricKey != nil:
		return r.SymmetricKey.EnrollmentGroupID
	}
	return ""
}

// TestConcurrentRegistrations registers the devices of a group at once:
// every one must be assigned and be in the hub's registry.
func TestConcurrentRegistrations(t *testing.T) {
	const devices = 200
	s := startService(t)
	ctx := context.Background()
	g, err := s.client.PutGroup(ctx, symmetricGroup("fleet", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, devices)
	var wg sync.WaitGroup
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("fleet-%03d", i)
			att, err := provisioning.NewGroupSymmetricKey(g.Attestation.SymmetricKey.PrimaryKey, id)
			if err != nil {
				errs <- err
				return
			}
			c, err := s.newDevice(id, att)
			if err != nil {
				errs <- err
				return
			}
			st, err := c.Register(ctx)
			if err == nil && (st.RegistrationState.DeviceID != id || st.RegistrationState.Status != model.RegAssigned) {
				err = fmt.Errorf("%s: %+v", id, st.RegistrationState)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	n, err := s.inst.CountHubDevices(ctx, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if n != devices {
		t.Errorf("hub has %d devices, want %d", n, devices)
	}
}
