package list

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdList(t *testing.T) {
	if got, err := cmdtest.Parse(t, NewCmdList); err != nil || got == nil {
		t.Fatalf("%+v, %v", got, err)
	}
	_, err := cmdtest.Parse(t, NewCmdList, "extra")
	cmdtest.WantUsageError(t, err, "list takes no arguments")
}
