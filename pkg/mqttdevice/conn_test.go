package mqttdevice

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/model"
)

func TestBrokerURL(t *testing.T) {
	tests := []struct {
		ep   Endpoint
		want string
	}{
		{Endpoint{Address: "dps.example"}, "ssl://dps.example:8883"},
		{Endpoint{Address: "127.0.0.1:1883"}, "ssl://127.0.0.1:1883"},
		{Endpoint{Address: "hub.example", WebSocket: true}, "wss://hub.example:443/$iothub/websocket"},
		{Endpoint{Address: "[::1]:8443", WebSocket: true}, "wss://[::1]:8443/$iothub/websocket"},
	}
	for _, tt := range tests {
		if got := tt.ep.brokerURL(); got != tt.want {
			t.Errorf("brokerURL(%+v) = %q, want %q", tt.ep, got, tt.want)
		}
	}
	if h := hostOf("hub.example:8883"); h != "hub.example" {
		t.Errorf("hostOf = %q", h)
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		e    StatusError
		want string
	}{
		{StatusError{Status: 401, Details: model.ErrorDetails{ErrorCode: 401002, Message: "Unauthorized."}}, "DPS answered 401: Unauthorized. (errorCode 401002)"},
		{StatusError{Status: 404, Body: []byte("{}")}, "DPS answered 404: {}"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !strings.Contains((&TwinError{Status: 400, Body: []byte("x")}).Error(), "400") {
		t.Error("TwinError has no status")
	}
}
