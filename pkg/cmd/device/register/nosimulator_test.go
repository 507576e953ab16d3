//go:build !tpmsimulator

package register

import (
	"path/filepath"
	"strings"
	"testing"
)

// Without the simulator the command says how to get it.
func TestRegisterNoSimulator(t *testing.T) {
	isolate(t)
	r := runCmd(t, false, "--tpm-simulator", filepath.Join(t.TempDir(), "tpm"))
	if r.err == nil || !strings.Contains(r.err.Error(), "built without the TPM simulator") || !strings.Contains(r.err.Error(), "-tags tpmsimulator") {
		t.Fatalf("err %v", r.err)
	}
}
