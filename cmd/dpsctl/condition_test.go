package main

import (
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// scriptCondition answers the script conditions beyond testscript's own:
//
//	[tpmsimulator]  dpsctl was built with the TPM simulator (-tags tpmsimulator)
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "tpmsimulator":
		return tpm.SimulatorAvailable, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
