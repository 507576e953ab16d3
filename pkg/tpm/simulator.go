//go:build tpmsimulator

package tpm

import (
	"fmt"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// SimulatorAvailable reports whether OpenSimulator works in this build.
const SimulatorAvailable = true

// OpenSimulator starts the in-process Microsoft reference TPM simulator.
// A non-zero seed makes its primary seeds, and so its EK, reproducible
// (insecure: tests only). Only one simulator may be open at a time.
func OpenSimulator(seed int64) (transport.TPMCloser, error) {
	var (
		sim *simulator.Simulator
		err error
	)
	if seed != 0 {
		sim, err = simulator.GetWithFixedSeedInsecure(seed)
	} else {
		sim, err = simulator.Get()
	}
	if err != nil {
		return nil, fmt.Errorf("starting the TPM simulator: %w", err)
	}
	return withRetry(transport.FromReadWriteCloser(sim)), nil
}
