//go:build tpmsimulator

package tpm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/tpm/shared"
)

func TestEKOnSimulator(t *testing.T) {
	ek := func(dir string) (shared.EKInfo, result) {
		t.Helper()
		r := run(t, "", "ek", "--simulator", dir, "-o", "json")
		if r.err != nil {
			t.Fatal(r.err)
		}
		var info shared.EKInfo
		if err := json.Unmarshal([]byte(r.out), &info); err != nil {
			t.Fatal(err)
		}
		return info, r
	}
	dir := filepath.Join(t.TempDir(), "tpm-a")
	first, r := ek(dir)
	if !strings.Contains(r.errOut, "Started a new simulated TPM") {
		t.Errorf("status %q", r.errOut)
	}
	if first.Algorithm != "RSA" || first.KeyBits != 2048 || len(first.RegistrationID) != 52 || first.Created ||
		!strings.HasPrefix(first.StorageRootKey, "ARoAAQALAAMEcgAAAAYAgABDABAIAAAAAAAB") {
		t.Errorf("first run %+v", first)
	}
	st, err := os.Stat(filepath.Join(dir, shared.SeedFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v %v", st, err)
	}

	// The same state directory is the same TPM.
	again, r := ek(dir)
	if again != first {
		t.Errorf("second run %+v\nfirst %+v", again, first)
	}
	if r.errOut != "" {
		t.Errorf("second run status %q", r.errOut)
	}
	// Another directory is another TPM.
	other, _ := ek(filepath.Join(t.TempDir(), "tpm-b"))
	if other.RegistrationID == first.RegistrationID {
		t.Error("two state directories gave the same EK")
	}

	// regid agrees with ek, from the key ek prints.
	r = run(t, "", "regid", first.EndorsementKey)
	if r.err != nil || r.out != first.RegistrationID+"\n" {
		t.Errorf("regid: %v %q", r.err, r.out)
	}

	// A fixed seed from the environment gives the EK the TCG template
	// yields on a simulator with that seed.
	t.Setenv(shared.EnvTPM, "simulator:1")
	f, s := newFactory(t)
	if err := runWith(t, f, "ek", "--query", "registrationId", "-o", "tsv"); err != nil || !strings.HasPrefix(s.Out.String(), "wbig7ksn") {
		t.Errorf("seed 1: %v %q", err, s.Out.String())
	}
}
