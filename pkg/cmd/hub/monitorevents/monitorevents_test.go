package monitorevents

import (
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdMonitorEvents(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *MonitorOptions)
		wantErr string
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, o *MonitorOptions) {
			if o.DeviceID != "" || o.Properties || !o.Since.IsZero() || o.Timeout != 0 {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "device, properties, RFC 3339 since", args: []string{"--device", "dev-1", "--properties", "--since", "2026-01-02T03:04:05Z", "--timeout", "30s"}, check: func(t *testing.T, o *MonitorOptions) {
			if o.DeviceID != "dev-1" || !o.Properties || !o.Since.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || o.Timeout != 30*time.Second {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "since a duration", args: []string{"--since", "10m"}, check: func(t *testing.T, o *MonitorOptions) {
			if o.Since.IsZero() || o.Since.After(time.Now()) {
				t.Fatalf("since %v", o.Since)
			}
		}},
		{name: "bad since", args: []string{"--since", "yesterday"}, wantErr: `--since "yesterday"`},
		{name: "negative since", args: []string{"--since", "-5m"}, wantErr: "give a positive duration"},
		{name: "negative timeout", args: []string{"--timeout", "-1s"}, wantErr: "--timeout must not be negative"},
		{name: "azure hub", args: []string{"--hub-connection-string", "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5"}, wantErr: "monitor-events reads the local hubs only"},
		{name: "arguments", args: []string{"dev-1"}, wantErr: "monitor-events takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdMonitorEvents, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"10m", now.Add(-10 * time.Minute), true},
		{"0s", now, true},
		{"2026-04-30T00:00:00Z", time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"", time.Time{}, false},
		{"2026-04-30", time.Time{}, false},
	} {
		got, err := parseSince(tt.in, now)
		if (err == nil) != tt.ok || tt.ok && !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{`{"t":1}`: `{"t":1}`, "a\x00b": "(3 bytes of binary)", "\xff": "(1 bytes of binary)", "tab\there": "tab\there"} {
		if got := printable([]byte(in)); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
