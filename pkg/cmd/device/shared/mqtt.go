package shared

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/iothub"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/provisioning"
)

// Transports a device speaks, as the SDKs name them.
const (
	TransportHTTPS  = "https"
	TransportMQTT   = "mqtt"
	TransportMQTTWS = "mqtt-ws"
)

// Transports lists the transports, for flags and completion.
var Transports = []string{TransportHTTPS, TransportMQTT, TransportMQTTWS}

// MQTTPort is the port of MQTT over TLS of DPS and IoT Hub.
const MQTTPort = "8883"

// ErrTPMOverMQTT refuses TPM attestation over MQTT: DPS answers it only
// over HTTPS (and AMQP), where its challenge fits.
var ErrTPMOverMQTT = errors.New("TPM attestation is only available over HTTPS; DPS refuses it over MQTT")

// mqttEndpoint is where a device speaks MQTT (ws: over WebSockets) to the
// service of ep: the local service's MQTT address, else the provisioning
// host on port 8883 (WebSockets: its HTTPS address).
func (ep Endpoint) mqttEndpoint(ws bool, cert *tls.Certificate) (mqttdevice.Endpoint, error) {
	host, port, err := net.SplitHostPort(ep.Host)
	if err != nil {
		host, port = ep.Host, "443"
	}
	conf := &tls.Config{RootCAs: ep.Roots, MinVersion: tls.VersionTLS12, ServerName: host}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	if ep.ConfigureTLS != nil {
		ep.ConfigureTLS(conf)
	}
	out := mqttdevice.Endpoint{TLS: conf}
	switch {
	case ws && ep.LocalAddress != "":
		out.Address, out.WebSocket = ep.LocalAddress, true
	case ws:
		out.Address, out.WebSocket = net.JoinHostPort(host, port), true
	case ep.LocalWithoutMQTT():
		return out, errors.New("the local provisioning service does not serve MQTT (dpsctl serve --mqtt-addr off); use --transport https or mqtt-ws")
	case ep.MQTTAddress != "":
		out.Address = ep.MQTTAddress
	default:
		out.Address = net.JoinHostPort(host, MQTTPort)
	}
	return out, nil
}

// LocalWithoutMQTT reports whether ep is the local service and it serves
// no MQTT (dpsctl serve --mqtt-addr off).
func (ep Endpoint) LocalWithoutMQTT() bool { return ep.Dial != nil && ep.MQTTAddress == "" }

// RegisterMQTT registers a device over MQTT (ws: over WebSockets), polling
// until the service assigns it or refuses. TPM attestation is
// ErrTPMOverMQTT.
func RegisterMQTT(ctx context.Context, ep Endpoint, ws bool, idScope, registrationID string, att provisioning.Attester, payload json.RawMessage) (*model.RegistrationOperationStatus, error) {
	o := mqttdevice.RegisterOptions{IDScope: idScope, RegistrationID: registrationID, Payload: payload}
	var cert *tls.Certificate
	switch a := att.(type) {
	case *provisioning.SymmetricKey:
		o.SymmetricKey = a.Key()
	case *provisioning.X509:
		cert = a.ClientCertificate()
	case *provisioning.TPM:
		return nil, ErrTPMOverMQTT
	default:
		return nil, fmt.Errorf("cannot register over MQTT with %s attestation", att.Type())
	}
	mep, err := ep.mqttEndpoint(ws, cert)
	if err != nil {
		return nil, err
	}
	o.Endpoint = mep
	return mqttdevice.Register(ctx, o)
}

// IsMQTTRefusal reports whether err is the service refusing a device over
// MQTT (a 4xx answer other than 429), rather than a failure to reach it.
func IsMQTTRefusal(err error) bool {
	var se *mqttdevice.StatusError
	if errors.As(err, &se) {
		return se.Status >= 400 && se.Status < 500 && se.Status != 429
	}
	return errors.Is(err, mqttdevice.ErrRegistrationFailed)
}

// IsMQTTHubRefusal reports whether err is a hub refusing a device's
// CONNECT (CONNACK "bad user name or password" or "not authorized": an
// unknown or disabled device, a wrong key or certificate), rather than a
// failure to reach it.
func IsMQTTHubRefusal(err error) bool {
	return mqttdevice.IsConnectRefused(err)
}

// HubHandlers are what a device connected over MQTT does with what its hub
// sends; nil ones are not subscribed to.
type HubHandlers = struct {
	OnDesired func(version int64, patch []byte)
	OnMethod  mqttdevice.MethodHandler
	OnC2D     func(mqttdevice.Message)
}

// ConnectMQTT connects a provisioned device to its assigned hub over MQTT
// (ws: over WebSockets), with the identity the registration gave it: a SAS
// token signed with its key (in the TPM for TPM devices), or its
// certificate.
func ConnectMQTT(ctx context.Context, ep Endpoint, ws bool, att provisioning.Attester, r *model.DeviceRegistrationResult, h HubHandlers) (*mqttdevice.Client, error) {
	if r == nil || r.AssignedHub == "" || r.DeviceID == "" {
		return nil, fmt.Errorf("the registration named no hub and device to connect as")
	}
	o := mqttdevice.HubOptions{HubHost: r.AssignedHub, DeviceID: r.DeviceID, OnDesired: h.OnDesired, OnMethod: h.OnMethod, OnC2D: h.OnC2D}
	var cert *tls.Certificate
	var sign iothub.Signer
	switch a := att.(type) {
	case *provisioning.SymmetricKey:
		s, err := iothub.KeySigner(a.Key())
		if err != nil {
			return nil, err
		}
		sign = s
	case *provisioning.TPM:
		sign = a.Sign
	case *provisioning.X509:
		cert = a.ClientCertificate()
	default:
		return nil, fmt.Errorf("cannot connect to the hub with %s attestation", att.Type())
	}
	if sign != nil {
		tok, err := iothub.SASToken(r.AssignedHub, r.DeviceID, sign, time.Now().Add(time.Hour))
		if err != nil {
			return nil, err
		}
		o.SASToken = tok
	}
	mep, err := ep.hubMQTTEndpoint(ws, r.AssignedHub, cert)
	if err != nil {
		return nil, err
	}
	o.Endpoint = mep
	return mqttdevice.Connect(ctx, o)
}

// hubMQTTEndpoint is where a device reaches its hub over MQTT: the
// provisioning service's own MQTT when it serves its hubs (any
// DPS-compatible service that is not Azure's, as over HTTPS), else the
// hub by name.
func (ep Endpoint) hubMQTTEndpoint(ws bool, hub string, cert *tls.Certificate) (mqttdevice.Endpoint, error) {
	if ep.Dial != nil || (ep.Host != "" && !IsAzureDPSHost(ep.Host)) {
		return ep.mqttEndpoint(ws, cert)
	}
	return Endpoint{Host: hub, Roots: ep.Roots}.mqttEndpoint(ws, cert)
}

// TelemetryThroughStream shows a device-to-cloud message going the whole
// way over MQTT: it opens the hub's event stream (what "dpsctl hub
// monitor-events" reads) on the local service, connects the provisioned
// device to its hub over MQTT, sends msg and waits, within ctx, for the
// stream to deliver it. It returns the event as the stream gave it.
func TelemetryThroughStream(ctx context.Context, l *Local, att provisioning.Attester, r *model.DeviceRegistrationResult, msg []byte) (*iothubservice.Event, error) {
	linked, err := l.Instance.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	cs := ""
	for _, h := range linked {
		if strings.EqualFold(h.HostName, r.AssignedHub) {
			cs = h.ConnectionString
		}
	}
	if cs == "" {
		return nil, fmt.Errorf("hub %s is not linked", r.AssignedHub)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: l.Roots, ServerName: l.Info.HostName, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	svc, err := iothubservice.FromConnectionString(cs, &http.Client{Transport: tr})
	if err != nil {
		return nil, err
	}
	svc.Address = l.Info.Address
	// From now on: the message is replayed if it is enqueued before the
	// stream opens, delivered live otherwise.
	since := time.Now().Add(-time.Second)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan *iothubservice.Event, 1)
	streamErr := make(chan error, 1)
	go func() {
		streamErr <- svc.Events(ctx, iothubservice.EventOptions{DeviceID: r.DeviceID, Since: since, Timeout: 60 * time.Second}, func(ev iothubservice.Event) error {
			if string(ev.Payload) == string(msg) {
				got <- &ev
				return errStop
			}
			return nil
		})
	}()
	c, err := ConnectMQTT(ctx, LocalEndpoint(l), false, att, r, HubHandlers{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SendTelemetry(ctx, msg, nil); err != nil {
		return nil, err
	}
	select {
	case ev := <-got:
		return ev, nil
	case err := <-streamErr:
		select {
		case ev := <-got:
			return ev, nil
		default:
		}
		if err == nil || errors.Is(err, errStop) {
			err = errors.New("the event stream ended without the message")
		}
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var errStop = errors.New("stop")
