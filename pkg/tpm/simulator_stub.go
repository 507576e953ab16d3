//go:build !tpmsimulator

package tpm

import "github.com/google/go-tpm/tpm2/transport"

// SimulatorAvailable reports whether OpenSimulator works in this build.
const SimulatorAvailable = false

// OpenSimulator is unavailable in this build; it returns
// ErrSimulatorUnavailable.
func OpenSimulator(int64) (transport.TPMCloser, error) {
	return nil, ErrSimulatorUnavailable
}
