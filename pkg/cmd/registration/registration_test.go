package registration

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

// Every verb documents itself: a usage line, a description, examples, and
// --help works without a service.
func TestHelp(t *testing.T) {
	cmdtest.NounHelp(t, NewCmdRegistration, "registrations", []string{"delete", "list", "show"},
		"seq ", "dpsctl registration show")
}
