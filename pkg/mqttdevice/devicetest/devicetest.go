// Package devicetest drives connected hub devices for tests and
// benchmarks of the hub.
package devicetest

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/dpsctl/dpsctl/pkg/mqtt/topics"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

// SendTelemetry sends total messages of payload at QoS 1, shared among
// clients (each in a goroutine of its own, the first ones taking one more
// when total does not divide), each client with up to window of them
// unacknowledged. Every message carries the application property n, its
// number among its client's messages from 0, so that a reader can check
// each device's order. It returns the first failure: a message not
// acknowledged within wait, or refused.
func SendTelemetry(clients []*mqttdevice.Client, total, window int, wait time.Duration, payload []byte) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for i, c := range clients {
		share := total / len(clients)
		if i < total%len(clients) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inflight []paho.Token
			acked := func(t paho.Token) bool {
				if !t.WaitTimeout(wait) {
					errs <- fmt.Errorf("device %d: a message not acknowledged within %s", i, wait)
					return false
				}
				if err := t.Error(); err != nil {
					errs <- fmt.Errorf("device %d: publish: %w", i, err)
					return false
				}
				return true
			}
			for n := range share {
				if len(inflight) == window {
					if !acked(inflight[0]) {
						return
					}
					inflight = inflight[1:]
				}
				inflight = append(inflight, c.SendTelemetryAsync(payload, topics.Bag{{Key: "n", Value: strconv.Itoa(n)}}))
			}
			for _, t := range inflight {
				if !acked(t) {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}
