package shared

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/server"
	"github.com/dpsctl/dpsctl/pkg/server/servertest"
)

func recordedAddress(t *testing.T, dir string) string {
	t.Helper()
	inst, err := server.Open(server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	return inst.Info().Address
}

// tlsHandshake checks that the local service answers at the endpoint as
// its host name.
func tlsHandshake(t *testing.T, l *Local) error {
	t.Helper()
	conn, err := l.Dial(context.Background(), "tcp", "ignored:1")
	if err != nil {
		return err
	}
	cfg := &tls.Config{}
	l.ConfigureTLS(cfg)
	tc := tls.Client(conn, cfg)
	defer tc.Close()
	return tc.Handshake()
}

func TestOpenLocal(t *testing.T) {
	tests := []struct {
		name    string
		serving bool
	}{
		{"served by the command", false},
		{"dpsctl serve running", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var serveAddr string
			if tt.serving {
				serveAddr = servertest.Start(t, server.Options{DataDir: dir}).Addr
			}
			before := recordedAddress(t, dir)
			l, err := OpenLocal(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if l.Running != tt.serving {
				t.Errorf("running %v, want %v", l.Running, tt.serving)
			}
			if tt.serving && l.Info.Address != serveAddr {
				t.Errorf("address %s, want the serve's %s", l.Info.Address, serveAddr)
			}
			if !tt.serving && l.Info.Address == before {
				t.Errorf("served at the recorded address %s", before)
			}
			if _, port, _ := net.SplitHostPort(l.Info.Address); l.Host() != "localhost:"+port {
				t.Errorf("host %s for address %s", l.Host(), l.Info.Address)
			}
			if err := tlsHandshake(t, l); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
			if after := recordedAddress(t, dir); after != before {
				t.Errorf("recorded address changed from %s to %s", before, after)
			}
		})
	}
}

// TestOpenLocalServesMQTTWebSocketsAtOnce: the service a command starts
// answers an MQTT over WebSockets upgrade as soon as OpenLocal returns
// (it once returned before the broker was attached, and a device that
// connected at once got a 404).
func TestOpenLocalServesMQTTWebSocketsAtOnce(t *testing.T) {
	for range 5 {
		l, err := OpenLocal(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := l.Dial(context.Background(), "tcp", "ignored:1")
		if err != nil {
			t.Fatal(err)
		}
		cfg := &tls.Config{}
		l.ConfigureTLS(cfg)
		tc := tls.Client(conn, cfg)
		req := "GET " + server.MQTTWebSocketPath + " HTTP/1.1\r\nHost: " + l.Host() +
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
		if _, err := tc.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			t.Fatal(err)
		}
		tc.Close()
		if res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade answered %s", res.Status)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
