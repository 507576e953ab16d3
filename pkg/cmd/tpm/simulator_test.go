//go:build tpmsimulator

package tpm

import (
	"strings"
	"testing"
)

func TestEKOnSimulator(t *testing.T) {
	r := run(t, "", "ek", "--tpm", "simulator:1", "--create", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.out, `"registrationId": "wbig7ksn`) || !strings.Contains(r.out, `"storageRootKey": "ARoAAQALAAMEcgAAAAYAgABDABAIAAAAAAAB`) {
		t.Errorf("out %s", r.out)
	}
	if !strings.Contains(r.errOut, "Created and persisted the EK (0x81010001) and SRK (0x81000001)") {
		t.Errorf("status %q", r.errOut)
	}
	// Each run starts a fresh simulator: without --create there is no EK.
	r = run(t, "", "regid", "--tpm", "simulator:1")
	if r.err == nil || !strings.Contains(r.err.Error(), "--create") {
		t.Errorf("fresh simulator without --create: %v", r.err)
	}
}
