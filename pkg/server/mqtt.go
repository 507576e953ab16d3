package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// The device side of DPS and of the local IoT hubs over MQTT and MQTT over
// WebSockets: the broker of pkg/mqttbroker in front of the same device core
// (attestation, allocation, records) as the HTTPS device API, and one
// in-memory mqttbroker.Hub per linked hub.

// metaMQTTAddress records the last address MQTT was served on ("" when
// the last serve did not serve it).
const metaMQTTAddress = "mqttAddress"

// MQTTWebSocketPath is where MQTT over WebSockets is served on the HTTPS
// listener (subprotocol "mqtt"), as the SDKs' MqttWs transports expect.
const MQTTWebSocketPath = mqttbroker.WebSocketPath

// mqttState is the MQTT side of an instance: the hubs' state (made on
// first use, whether or not MQTT is served) and the running broker.
type mqttState struct {
	mu     sync.Mutex
	hubs   map[string]*mqttbroker.Hub // by lower-case host name
	broker *mqttbroker.Broker         // nil unless ServeMQTT runs
	addr   string                     // MQTT over TLS address, "" for none
	// recorded says addr is the recorded address (ServeMQTT), which Info
	// then reports.
	recorded bool
}

// Hub returns the in-memory state of the linked hub hostName (twins,
// direct methods, cloud-to-device queue, telemetry), made on first use.
// A hub linked after the instance was opened (by another process, say)
// is found too; a host that is not linked is linkedhub-style not found.
func (i *Instance) Hub(ctx context.Context, hostName string) (*mqttbroker.Hub, error) {
	key := strings.ToLower(hostName)
	i.mqtt.mu.Lock()
	h := i.mqtt.hubs[key]
	i.mqtt.mu.Unlock()
	if h != nil {
		return h, nil
	}
	linked, err := i.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	host := ""
	for _, lh := range linked {
		if strings.EqualFold(lh.HostName, hostName) {
			host = lh.HostName
			break
		}
	}
	if host == "" {
		return nil, fmt.Errorf("%w: IoT hub %q is not linked", ErrHubNotLinked, hostName)
	}
	i.mqtt.mu.Lock()
	defer i.mqtt.mu.Unlock()
	if h := i.mqtt.hubs[key]; h != nil {
		return h, nil
	}
	auth := mqttbroker.RegistryAuthenticator{Registry: i, Now: i.now}
	h = mqttbroker.NewHub(host, auth, mqttbroker.HubOptions{Now: i.now, InitialTwin: auth.InitialTwin(host),
		Activity: registryActivity{st: i.st, log: i.log}})
	if i.mqtt.hubs == nil {
		i.mqtt.hubs = map[string]*mqttbroker.Hub{}
	}
	i.mqtt.hubs[key] = h
	return h, nil
}

// closeHubs reports what the hubs' devices did that the registry does not
// have yet, and the devices still connected as disconnected: the instance
// is closing, no broker serves them any more.
func (i *Instance) closeHubs() error {
	i.mqtt.mu.Lock()
	hubs := make([]*mqttbroker.Hub, 0, len(i.mqtt.hubs))
	for _, h := range i.mqtt.hubs {
		hubs = append(hubs, h)
	}
	i.mqtt.mu.Unlock()
	var errs []error
	for _, h := range hubs {
		ctx, cancel := context.WithTimeout(context.Background(), hubCloseTimeout)
		if err := h.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("record the devices of IoT hub %s: %w", h.Host(), err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// hubCloseTimeout bounds the last registry write of a hub.
const hubCloseTimeout = 30 * time.Second

// registryActivity records in the hub device registry what devices do
// over MQTT, as the HTTPS hub API does for its requests: the connection
// state and its time, the last activity and the device-to-cloud message
// count. The hub calls it with coalesced news (mqttbroker.ActivityRecorder),
// written in one transaction per call.
type registryActivity struct {
	st  *store.Store
	log *slog.Logger
}

// RecordActivity implements mqttbroker.ActivityRecorder.
func (r registryActivity) RecordActivity(ctx context.Context, hubHost string, news []mqttbroker.DeviceActivity) error {
	err := r.st.Update(ctx, func(tx *store.Tx) error {
		for _, a := range news {
			d, err := tx.HubDevice(hubHost, a.DeviceID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted, or never in the registry
			}
			if err != nil {
				return err
			}
			if a.StateChanged {
				state := store.ConnectionDisconnected
				if a.Connected {
					state = store.ConnectionConnected
				}
				if d.ConnectionState != state {
					d.ConnectionState = state
					d.ConnectionStateUpdatedTime = model.FormatTime(a.StateTime)
				}
			}
			// Fixed-width UTC times: a later one sorts after. An HTTPS
			// request of the device may have been recorded since.
			if ts := model.FormatTime(a.LastActivity); !a.LastActivity.IsZero() && ts > d.LastActivityTime {
				d.LastActivityTime = ts
			}
			d.DeviceToCloudMessageCount += a.Messages
			if err := tx.PutHubDevice(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.log.Warn("could not record the devices' activity in the hub registry", "hub", hubHost, "devices", len(news), "err", err)
	}
	return err
}

// ErrHubNotLinked is the error of Hub for a host name no linked hub has.
var ErrHubNotLinked = errors.New("hub not linked")

// ServeMQTT serves DPS and the linked IoT hubs over MQTT until ctx is
// cancelled: MQTT over TLS on ln (nil: none), and MQTT over WebSockets at
// MQTTWebSocketPath on the listener of Serve. TLS on ln is the instance's
// (TLSConfig: client certificates requested, not required; the chain a
// device sends is its X.509 credential). Hubs linked while it runs are
// served from their first CONNECT. ln's address is recorded (Info's
// MQTTAddress).
func (i *Instance) ServeMQTT(ctx context.Context, ln net.Listener) error {
	return i.serveMQTT(ctx, ln, true)
}

// ServeMQTTUnrecorded is ServeMQTT without recording ln's address: for a
// short-lived service of a command, which must not replace the address of
// "dpsctl serve" that Info reports to other processes.
func (i *Instance) ServeMQTTUnrecorded(ctx context.Context, ln net.Listener) error {
	return i.serveMQTT(ctx, ln, false)
}

// StartMQTTUnrecorded is ServeMQTTUnrecorded that returns once MQTT is
// served, over TLS on ln and over WebSockets, so that a device the caller
// starts next finds it; the channel gives ServeMQTTUnrecorded's result when
// ctx ends.
func (i *Instance) StartMQTTUnrecorded(ctx context.Context, ln net.Listener) (<-chan error, error) {
	return i.startMQTT(ctx, ln, false)
}

func (i *Instance) serveMQTT(ctx context.Context, ln net.Listener, record bool) error {
	done, err := i.startMQTT(ctx, ln, record)
	if err != nil {
		return err
	}
	return <-done
}

// startMQTT starts the broker and returns when it serves; the channel
// gives the result of closing it once ctx ends.
func (i *Instance) startMQTT(ctx context.Context, ln net.Listener, record bool) (<-chan error, error) {
	b := mqttbroker.New(mqttbroker.Options{
		Provisioner: deviceProvisioner{d: i.h.device},
		LookupHub:   i.Hub,
		Logger:      i.log,
	})
	addr := ""
	if ln != nil {
		addr = ln.Addr().String()
	}
	i.mqtt.mu.Lock()
	if i.mqtt.broker != nil {
		i.mqtt.mu.Unlock()
		return nil, errors.New("server: MQTT is already served")
	}
	var tl net.Listener
	if ln != nil {
		tl = tls.NewListener(ln, i.TLSConfig())
	}
	if err := b.Start(tl); err != nil {
		i.mqtt.mu.Unlock()
		_ = b.Close()
		return nil, fmt.Errorf("server: start MQTT: %w", err)
	}
	i.mqtt.broker, i.mqtt.addr, i.mqtt.recorded = b, addr, record
	i.mqtt.mu.Unlock()
	if record {
		if err := i.st.SetMeta(ctx, metaMQTTAddress, addr); err != nil {
			i.log.Warn("could not record the MQTT address", "err", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		err := b.Close()
		i.mqtt.mu.Lock()
		i.mqtt.broker = nil
		i.mqtt.mu.Unlock()
		done <- err
	}()
	return done, nil
}

// NoMQTT records that the instance serves no MQTT over TLS (Info's
// MQTTAddress is then empty), for a serve that does not call ServeMQTT.
func (i *Instance) NoMQTT(ctx context.Context) error {
	return i.st.SetMeta(ctx, metaMQTTAddress, "")
}

// mqttAddress is the address of MQTT over TLS: the running one, else the
// one last recorded.
func (i *Instance) mqttAddress() string {
	i.mqtt.mu.Lock()
	running, addr := i.mqtt.broker != nil && i.mqtt.recorded, i.mqtt.addr
	i.mqtt.mu.Unlock()
	if running {
		return addr
	}
	v, err := i.st.Meta(context.Background(), metaMQTTAddress)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		i.log.Warn("could not read the MQTT address", "err", err)
	}
	return v
}

// mqttWebSocket serves MQTT over WebSockets while ServeMQTT runs; false
// when it does not (the path is then no route).
func (i *Instance) mqttWebSocket(w http.ResponseWriter, r *http.Request) bool {
	i.mqtt.mu.Lock()
	b := i.mqtt.broker
	i.mqtt.mu.Unlock()
	if b == nil {
		return false
	}
	b.WebSocketHandler().ServeHTTP(w, r)
	return true
}

// deviceProvisioner answers DPS over MQTT with the device core that
// answers it over HTTPS: one attestation and allocation, two transports.
// TPM attestation is refused (MQTT cannot carry its challenge).
type deviceProvisioner struct{ d *device.API }

func (p deviceProvisioner) Register(ctx context.Context, idScope, regID string, cred mqttbroker.Credential, body []byte) (int, []byte, int, error) {
	resp, err := p.d.Register(ctx, idScope, regID, coreCredential(cred), body)
	return p.answer(resp, err)
}

func (p deviceProvisioner) OperationStatus(ctx context.Context, idScope, regID, opID string, cred mqttbroker.Credential) (int, []byte, int, error) {
	resp, err := p.d.OperationStatus(ctx, idScope, regID, opID, coreCredential(cred), nil)
	return p.answer(resp, err)
}

func (p deviceProvisioner) answer(resp device.Response, err error) (int, []byte, int, error) {
	if err != nil {
		resp = p.d.ErrorResponse(err)
	}
	return resp.Status, resp.Body, resp.RetryAfter, nil
}

func coreCredential(c mqttbroker.Credential) device.Credential {
	return device.Credential{SASToken: c.SASToken, Chain: c.Chain, NoTPM: true}
}
