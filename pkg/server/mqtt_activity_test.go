package server

import (
	"context"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// TestRegistryActivity: what the hub reports lands in the registry in one
// transaction: the state and its time when the state changes, the last
// activity never moved back, the messages added; a device not in the
// registry is skipped.
func TestRegistryActivity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t1 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	connected := &store.HubDevice{HubHostName: DefaultHostName, DeviceID: "d1", Status: model.StatusEnabled, AuthenticationType: store.AuthSAS,
		ConnectionState: store.ConnectionConnected, ConnectionStateUpdatedTime: model.FormatTime(t1), LastActivityTime: model.FormatTime(t1.Add(time.Hour)),
		DeviceToCloudMessageCount: 5}
	if err := e.inst.st.PutHubDevice(ctx, connected); err != nil {
		t.Fatal(err)
	}
	r := registryActivity{st: e.inst.st, log: e.inst.log}
	read := func() *store.HubDevice {
		t.Helper()
		d, err := e.inst.st.HubDevice(ctx, DefaultHostName, "d1")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name                 string
		news                 []mqttbroker.DeviceActivity
		state, since, active string
		messages             int64
	}{
		{"connected again: the state time stays, an older activity does not replace a newer one",
			[]mqttbroker.DeviceActivity{{DeviceID: "d1", StateChanged: true, Connected: true, StateTime: t1.Add(time.Minute), LastActivity: t1.Add(time.Minute), Messages: 2},
				{DeviceID: "nobody", Messages: 9}},
			store.ConnectionConnected, model.FormatTime(t1), model.FormatTime(t1.Add(time.Hour)), 7},
		{"messages only",
			[]mqttbroker.DeviceActivity{{DeviceID: "d1", LastActivity: t1.Add(2 * time.Hour), Messages: 3}},
			store.ConnectionConnected, model.FormatTime(t1), model.FormatTime(t1.Add(2 * time.Hour)), 10},
		{"disconnected",
			[]mqttbroker.DeviceActivity{{DeviceID: "d1", StateChanged: true, StateTime: t1.Add(3 * time.Hour)}},
			store.ConnectionDisconnected, model.FormatTime(t1.Add(3 * time.Hour)), model.FormatTime(t1.Add(2 * time.Hour)), 10},
	}
	for _, tt := range tests {
		if err := r.RecordActivity(ctx, DefaultHostName, tt.news); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		d := read()
		if d.ConnectionState != tt.state || d.ConnectionStateUpdatedTime != tt.since || d.LastActivityTime != tt.active || d.DeviceToCloudMessageCount != tt.messages {
			t.Errorf("%s: state %s since %s, last activity %s, %d messages; want %s since %s, %s, %d", tt.name,
				d.ConnectionState, d.ConnectionStateUpdatedTime, d.LastActivityTime, d.DeviceToCloudMessageCount, tt.state, tt.since, tt.active, tt.messages)
		}
	}
}
