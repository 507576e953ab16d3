package monitorevents

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/iothubservice"

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

// TestFollowLosesNothingBetweenStreams: when the hub ends a stream, the
// next one replays from the last event printed, so what was sent in
// between is printed, and nothing twice.
func TestFollowLosesNothingBetweenStreams(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(seq uint64) iothubservice.Event {
		return iothubservice.Event{SequenceNumber: seq, DeviceID: "dev-1", EnqueuedTime: base.Add(time.Duration(seq) * time.Second)}
	}
	// live[k] arrive while stream k is open; between[k] after it ends and
	// before the next one opens, so only a replay can bring them.
	live := [][]uint64{{1, 2, 3}, {5}, {6}}
	between := [][]uint64{{4}, {}}
	var sinces []time.Time
	errStop := errors.New("stop")
	events := func(_ context.Context, eo iothubservice.EventOptions, fn func(iothubservice.Event) error) error {
		sinces = append(sinces, eo.Since)
		k := len(sinces) - 1
		if k == len(live) {
			return errStop
		}
		var send []uint64
		if !eo.Since.IsZero() { // the replay: what the hub kept, at or after Since
			for j := range k {
				for _, seq := range append(slices.Clone(live[j]), between[j]...) {
					if !ev(seq).EnqueuedTime.Before(eo.Since) {
						send = append(send, seq)
					}
				}
			}
		}
		for _, seq := range append(send, live[k]...) {
			if err := fn(ev(seq)); err != nil {
				return err
			}
		}
		return nil // the hub ended the stream
	}
	var got []uint64
	err := follow(context.Background(), iothubservice.EventOptions{}, events, func(e iothubservice.Event) error {
		got = append(got, e.SequenceNumber)
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("follow = %v, want the failing stream's error", err)
	}
	if want := []uint64{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("printed %v, want %v", got, want)
	}
	if !sinces[0].IsZero() || !sinces[1].Equal(ev(3).EnqueuedTime) || !sinces[2].Equal(ev(5).EnqueuedTime) {
		t.Fatalf("streams opened since %v", sinces)
	}
}

// TestFollowFromWhenAQuietStreamOpened: after a stream that carried
// nothing, the next replays from when that one was opened.
func TestFollowFromWhenAQuietStreamOpened(t *testing.T) {
	var sinces []time.Time
	start := time.Now()
	errStop := errors.New("stop")
	events := func(_ context.Context, eo iothubservice.EventOptions, _ func(iothubservice.Event) error) error {
		sinces = append(sinces, eo.Since)
		if len(sinces) == 2 {
			return errStop
		}
		return nil
	}
	_ = follow(context.Background(), iothubservice.EventOptions{}, events, func(iothubservice.Event) error { return nil })
	if len(sinces) != 2 || !sinces[0].IsZero() || sinces[1].Before(start) || sinces[1].After(time.Now()) {
		t.Fatalf("streams opened since %v (test started %v)", sinces, start)
	}
}
