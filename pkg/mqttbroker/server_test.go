package mqttbroker_test

// The broker in front of the local provisioning service, through the two
// adapters only: HTTPProvisioner on the service's handler and
// RegistryAuthenticator on its hub registries. This is how `dpsctl serve`
// composes them.

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

func TestLocalServiceOverMQTT(t *testing.T) {
	srv := servertest.Start(t, server.Options{})
	c, err := dps.New(dps.Options{
		ConnectionString: srv.Info.ConnectionString,
		HTTPClient:       &http.Client{Transport: server.Transport(srv.Instance.Handler())},
		MaxRetries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	enr := &model.IndividualEnrollment{
		RegistrationID: "mqtt-dev",
		EnrollmentCommon: model.EnrollmentCommon{
			InitialTwin: &model.InitialTwin{Properties: &model.InitialTwinProperties{Desired: json.RawMessage(`{"interval":30}`)}},
			Attestation: &model.AttestationMechanism{
				Type:         model.AttestationSymmetricKey,
				SymmetricKey: &model.SymmetricKeyAttestation{PrimaryKey: key, SecondaryKey: newKey(t)},
			},
		},
	}
	if _, err := c.PutEnrollment(ctxT(t), enr, ""); err != nil {
		t.Fatal(err)
	}

	xdev := certstest.SelfSigned(t, "mqtt-x509")
	xenr := &model.IndividualEnrollment{
		RegistrationID: "mqtt-x509",
		EnrollmentCommon: model.EnrollmentCommon{Attestation: &model.AttestationMechanism{
			Type: model.AttestationX509,
			X509: &model.X509Attestation{ClientCertificates: &model.X509Certificates{
				Primary: &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(xdev.Cert)},
			}},
		}},
	}
	if _, err := c.PutEnrollment(ctxT(t), xenr, ""); err != nil {
		t.Fatal(err)
	}

	// One Hub per linked hub, all vouched for by the service's registries.
	linked, err := srv.Instance.LinkedHubs(ctxT(t))
	if err != nil || len(linked) == 0 {
		t.Fatalf("linked hubs %v, %v", linked, err)
	}
	hubs := map[string]*mqttbroker.Hub{}
	var all []*mqttbroker.Hub
	for _, lh := range linked {
		auth := mqttbroker.RegistryAuthenticator{Registry: srv.Instance}
		h := mqttbroker.NewHub(lh.HostName, auth, mqttbroker.HubOptions{InitialTwin: auth.InitialTwin(lh.HostName)})
		hubs[lh.HostName] = h
		all = append(all, h)
	}
	b := mqttbroker.New(mqttbroker.Options{
		Provisioner: mqttbroker.HTTPProvisioner{Handler: srv.Instance.Handler()},
		Hubs:        all,
	})
	tc, roots := certstest.Server(t, "127.0.0.1", testHub)
	conf := &tls.Config{Certificates: []tls.Certificate{tc}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	l, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	mux := http.NewServeMux()
	mux.Handle(mqttbroker.WebSocketPath, b.WebSocketHandler())
	hs := httptest.NewUnstartedServer(mux)
	hs.TLS = conf.Clone()
	hs.StartTLS()
	t.Cleanup(hs.Close)
	e := &env{tlsAddr: l.Addr().String(), wsAddr: hs.Listener.Addr().String()}
	e.roots = roots

	if _, err := mqttdevice.Register(ctxT(t), mqttdevice.RegisterOptions{Endpoint: e.endpoint(false, nil), IDScope: srv.Instance.IDScope(), RegistrationID: "mqtt-dev", SymmetricKey: newKey(t)}); !isStatus(err, 401) {
		t.Fatalf("wrong key: %v, want a 401 answer", err)
	}
	st, err := mqttdevice.Register(ctxT(t), mqttdevice.RegisterOptions{Endpoint: e.endpoint(true, nil), IDScope: srv.Instance.IDScope(), RegistrationID: "mqtt-dev", SymmetricKey: key})
	if err != nil {
		t.Fatal(err)
	}
	rs := st.RegistrationState
	if st.Status != "assigned" || rs == nil || hubs[rs.AssignedHub] == nil {
		t.Fatalf("registration %+v: %+v", st, rs)
	}

	// The device then connects to its hub with the key the service
	// registered it with.
	hub := hubs[rs.AssignedHub]
	d, err := srv.Instance.HubDevice(ctxT(t), rs.AssignedHub, rs.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := hub.Subscribe(mqttbroker.StreamOptions{DeviceID: rs.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	dc, err := mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: rs.AssignedHub, DeviceID: rs.DeviceID, SymmetricKey: d.PrimaryKey})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	tw, err := dc.GetTwin(ctxT(t))
	if err != nil || tw.Desired["interval"] != float64(30) {
		t.Fatalf("twin %+v, %v; want the enrollment's initial desired properties", tw, err)
	}
	// An X.509 device registers over TLS and connects with its
	// certificate alone.
	xst, err := mqttdevice.Register(ctxT(t), mqttdevice.RegisterOptions{Endpoint: e.endpoint(false, xdev), IDScope: srv.Instance.IDScope(), RegistrationID: "mqtt-x509"})
	if err != nil {
		t.Fatal(err)
	}
	xrs := xst.RegistrationState
	if xrs == nil || hubs[xrs.AssignedHub] == nil {
		t.Fatalf("X.509 registration %+v", xst)
	}
	xc, err := mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(true, xdev), HubHost: xrs.AssignedHub, DeviceID: xrs.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	xc.Close()

	if err := dc.SendTelemetry(ctxT(t), []byte(`{"t":1}`), topics.Bag{{Key: "a", Value: "b"}}); err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Next(ctxT(t))
	if err != nil || string(ev.Payload) != `{"t":1}` || ev.Properties["a"] != "b" {
		t.Fatalf("event %+v, %v", ev, err)
	}
	if _, err := mqttdevice.Connect(ctxT(t), mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: rs.AssignedHub, DeviceID: rs.DeviceID, SymmetricKey: newKey(t)}); err == nil {
		t.Fatal("connected with a wrong key")
	}
}

func isStatus(err error, status int) bool {
	var se *mqttdevice.StatusError
	return errors.As(err, &se) && se.Status == status
}
