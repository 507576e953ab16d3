package mqttbroker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/mqttbroker"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice/devicetest"
)

// BenchmarkTelemetry100Devices: 100 devices connected over TLS send b.N
// telemetry messages in all at QoS 1 (each with up to 32 unacknowledged)
// while one stream reads them, and the hub counts them for its registry.
// It reports messages per second from send to stream, and fails unless the
// stream got every message, each device's in order, and the registry
// counted them all.
func BenchmarkTelemetry100Devices(b *testing.B) {
	const devices, window = 100, 32
	reg := newRegistry()
	e := startEnv(b, mqttbroker.HubOptions{Activity: reg})
	clients := make([]*mqttdevice.Client, devices)
	for i := range clients {
		id := "bench-" + strconv.Itoa(i)
		key := newKey(b)
		e.auth.add(id, key)
		c, err := mqttdevice.Connect(ctxT(b), mqttdevice.HubOptions{Endpoint: e.endpoint(false, nil), HubHost: testHub, DeviceID: id, SymmetricKey: key})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	payload := []byte(`{"temperature":21.5,"humidity":40}`)
	heapStart, rssStart := memNow()
	b.ResetTimer()

	stream, err := e.hub.Subscribe(mqttbroker.StreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer stream.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*waitLimit)
	defer cancel()

	consumed := make(chan error, 1)
	go func() {
		next := map[string]int{}
		for n := 0; n < b.N; n++ {
			ev, err := stream.Next(ctx)
			if err != nil {
				consumed <- fmt.Errorf("after %d of %d messages: %w", n, b.N, err)
				return
			}
			seq, _ := strconv.Atoi(ev.Properties["n"])
			if seq != next[ev.DeviceID] {
				consumed <- fmt.Errorf("%s: message %d, want %d", ev.DeviceID, seq, next[ev.DeviceID])
				return
			}
			next[ev.DeviceID]++
		}
		consumed <- nil
	}()

	if err := devicetest.SendTelemetry(clients, b.N, window, waitLimit, payload); err != nil {
		b.Fatal(err)
	}
	if err := <-consumed; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if err := e.hub.Flush(ctxT(b)); err != nil {
		b.Fatal(err)
	}
	if got := reg.messages(); got != int64(b.N) {
		b.Fatalf("the registry counted %d messages, want %d", got, b.N)
	}
	// Memory stays flat however many messages pass: the hub keeps at most
	// the last TelemetryRing a device (and TelemetryBytes in all).
	heapEnd, rssEnd := memNow()
	b.ReportMetric(heapStart, "heap-start-MiB")
	b.ReportMetric(heapEnd, "heap-end-MiB")
	b.ReportMetric(rssStart, "rss-start-MiB")
	b.ReportMetric(rssEnd, "rss-end-MiB")
}

// memNow is the live heap after a collection, and the process's resident
// set (VmRSS, Linux; 0 elsewhere), in MiB.
func memNow() (heap, rss float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapAlloc) / (1 << 20)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss = kb / 1024
			}
		}
	}
	return heap, rss
}
