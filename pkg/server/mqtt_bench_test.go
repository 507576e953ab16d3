package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice/devicetest"
	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

// errEnough ends the event stream once every message has been read.
var errEnough = errors.New("every message read")

// BenchmarkTelemetryThroughMonitorEvents: 100 devices connected over MQTT
// over TLS to a served instance, as dpsctl serve runs it, send b.N
// telemetry messages in all at QoS 1 (each with up to 32 unacknowledged),
// while the event stream monitor-events reads (iothubservice.Events: JSON
// lines over HTTPS) takes them. The stream holds the devices up when it
// falls behind, so the rate is what monitor-events keeps up with. It fails
// unless the stream delivered every message, each device's in order.
func BenchmarkTelemetryThroughMonitorEvents(b *testing.B) {
	const devices, window, wait = 100, 32, 60 * time.Second
	s := servertest.StartMQTT(b, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*wait)
	defer cancel()
	hubHost := server.DefaultHostName
	ep := mqttdevice.Endpoint{Address: s.MQTTAddr, TLS: &tls.Config{RootCAs: s.RootCAs, ServerName: s.Info.HostName, MinVersion: tls.VersionTLS12}, ConnectTimeout: wait}
	clients := make([]*mqttdevice.Client, devices)
	for i := range clients {
		id := "bench-" + strconv.Itoa(i)
		key := randomKey(b)
		if err := s.Instance.PutHubDevice(ctx, linkedhub.Device{HubHostName: hubHost, DeviceID: id, RegistrationID: id, Status: "enabled",
			AuthenticationType: linkedhub.AuthSAS, PrimaryKey: key, SecondaryKey: key}); err != nil {
			b.Fatal(err)
		}
		c, err := mqttdevice.Connect(ctx, mqttdevice.HubOptions{Endpoint: ep, HubHost: hubHost, DeviceID: id, SymmetricKey: key})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	linked, err := s.Instance.LinkedHubs(ctx)
	if err != nil || len(linked) == 0 {
		b.Fatal(linked, err)
	}
	svc, err := iothubservice.FromConnectionString(linked[0].ConnectionString, s.Client(b, nil))
	if err != nil {
		b.Fatal(err)
	}
	svc.Address = s.HostPort()
	payload := []byte(`{"temperature":21.5,"humidity":40}`)
	b.ResetTimer()

	// The stream replays what was enqueued since it was asked for, so no
	// message sent before the service opened it is missed.
	since := time.Now()
	consumed := make(chan error, 1)
	go func() {
		next := map[string]int{}
		n := 0
		err := svc.Events(ctx, iothubservice.EventOptions{Since: since, Timeout: 10 * wait}, func(ev iothubservice.Event) error {
			seq, _ := strconv.Atoi(ev.Properties["n"])
			if seq != next[ev.DeviceID] {
				return fmt.Errorf("%s: message %d, want %d", ev.DeviceID, seq, next[ev.DeviceID])
			}
			next[ev.DeviceID]++
			if n++; n == b.N {
				return errEnough
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			err = nil
		} else if err == nil {
			err = fmt.Errorf("the stream ended after %d of %d messages", n, b.N)
		}
		consumed <- err
	}()

	if err := devicetest.SendTelemetry(clients, b.N, window, wait, payload); err != nil {
		b.Fatal(err)
	}
	if err := <-consumed; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
