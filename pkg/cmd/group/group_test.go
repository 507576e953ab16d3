package group

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

// Every verb documents itself: a usage line, a description, examples, and
// --help works without a service.
func TestHelp(t *testing.T) {
	cmdtest.NounHelp(t, NewCmdGroup, "groups",
		[]string{"attestation", "compute-key", "create", "delete", "list", "registrations", "show", "update"},
		"seq ", "dpsctl group show")
}
