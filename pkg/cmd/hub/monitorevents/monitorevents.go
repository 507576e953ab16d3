// Package monitorevents is "dpsctl hub monitor-events": the device-to-cloud
// messages of a local hub, live.
package monitorevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// MonitorOptions are the inputs of "hub monitor-events".
type MonitorOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Service shared.ServiceFlags

	DeviceID   string
	Properties bool
	// Since replays the kept messages enqueued since then (zero: none);
	// Timeout ends the monitor (zero: Ctrl-C).
	Since   time.Time
	Timeout time.Duration
}

// NewCmdMonitorEvents builds "dpsctl hub monitor-events".
func NewCmdMonitorEvents(f *cmdutil.Factory, runF func(*MonitorOptions) error) *cobra.Command {
	opts := &MonitorOptions{IO: f.IOStreams, Printer: f.Printer}
	var since string
	cmd := &cobra.Command{
		Use:   "monitor-events",
		Short: "Stream the device-to-cloud messages of a local hub",
		Long: `Print the device-to-cloud messages (telemetry) devices send to a local hub
of the running "dpsctl serve", as they arrive: one line each with the time
the hub enqueued it, the device and the payload (--properties adds the
application and system properties); -o json prints one JSON object a line.
--since first replays the messages the hub kept (the last 1000 per device)
from that time on: a duration back from now (10m) or an RFC 3339 time.
It runs until Ctrl-C or --timeout. IoT Hub in Azure delivers these on its
Event Hub-compatible endpoint, which dpsctl does not read.`,
		Example: `  dpsctl hub monitor-events
  dpsctl hub monitor-events --device dev-1 --properties
  dpsctl hub monitor-events --since 10m --timeout 30s -o json`,
		Args: cmdutil.ExactArgs(0, "monitor-events takes no arguments; name a device with --device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return cmdutil.FlagErrorf("--since %q: %v", since, err)
				}
				opts.Since = t
			}
			if opts.Timeout < 0 {
				return cmdutil.FlagErrorf("--timeout must not be negative")
			}
			if opts.Service.ConnectionString != "" {
				return cmdutil.FlagErrorf("monitor-events reads the local hubs only (IoT Hub delivers events on its Event Hub-compatible endpoint)")
			}
			if runF != nil {
				return runF(opts)
			}
			return monitorRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.DeviceID, "device", "", "Only this device's messages")
	cmd.Flags().BoolVar(&opts.Properties, "properties", false, "Also print the messages' properties")
	cmd.Flags().StringVar(&since, "since", "", "First replay the kept messages since this time (10m, or RFC 3339)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "Stop after this long (default: until Ctrl-C)")
	_ = cmd.RegisterFlagCompletionFunc("device", shared.CompleteDevices(f))
	for _, n := range []string{"since", "timeout"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	shared.AddServiceFlags(cmd, f, &opts.Service)
	return cmd
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, errors.New("give a positive duration")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("give a duration (10m) or an RFC 3339 time (2026-01-02T15:04:05Z)")
	}
	return t, nil
}

func monitorRun(ctx context.Context, opts *MonitorOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, _, release, err := opts.Service.Client(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	defer release()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	out := opts.IO.Out
	jsonLines := p.Format() == output.FormatJSON
	eo := iothubservice.EventOptions{DeviceID: opts.DeviceID, Since: opts.Since}
	if opts.Timeout > 0 {
		// The stream ends on its own too, rounded up to a whole second.
		eo.Timeout = opts.Timeout + time.Second
	}
	err = follow(ctx, eo, c.Events, func(ev iothubservice.Event) error {
		if jsonLines {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\n", b)
			return err
		}
		line := ev.EnqueuedTime.UTC().Format(time.RFC3339) + "\t" + ev.DeviceID + "\t" + printable(ev.Payload)
		if opts.Properties {
			line += "\t" + bag(ev.Properties) + "\t" + bag(ev.SystemProperties)
		}
		_, err := fmt.Fprintln(out, line)
		return err
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// eventsFunc opens one event stream (iothubservice.Client.Events).
type eventsFunc func(context.Context, iothubservice.EventOptions, func(iothubservice.Event) error) error

// follow passes the events of streams to emit, one stream after another
// as the hub ends each (it bounds how long one lasts), until ctx is done
// or a stream or emit fails. Each stream after the first replays from
// the last event printed (or from when the previous one was opened), so
// that nothing sent in between is lost, and what was printed already is
// skipped.
func follow(ctx context.Context, eo iothubservice.EventOptions, events eventsFunc, emit func(iothubservice.Event) error) error {
	var (
		lastSeq  uint64
		lastTime time.Time
	)
	for {
		opened := time.Now()
		err := events(ctx, eo, func(ev iothubservice.Event) error {
			if lastSeq > 0 && ev.SequenceNumber <= lastSeq && !ev.EnqueuedTime.After(lastTime) {
				return nil // printed from the stream before
			}
			lastSeq, lastTime = ev.SequenceNumber, ev.EnqueuedTime
			return emit(ev)
		})
		if err != nil || ctx.Err() != nil {
			return err
		}
		eo.Since = opened
		if !lastTime.IsZero() {
			eo.Since = lastTime
		}
	}
}

// printable is a payload as text when it is UTF-8 without control bytes,
// else its length.
func printable(b []byte) string {
	s := string(b)
	if strings.ToValidUTF8(s, "\uFFFD") != s || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' }) {
		return fmt.Sprintf("(%d bytes of binary)", len(b))
	}
	return s
}

func bag(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, "&")
}
