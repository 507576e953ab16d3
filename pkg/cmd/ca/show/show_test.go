package show

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdShow(t *testing.T) {
	got, err := cmdtest.Parse(t, NewCmdShow, "lab-root")
	if err != nil || got.Name != "lab-root" {
		t.Fatalf("%+v, %v", got, err)
	}
	_, err = cmdtest.Parse(t, NewCmdShow, "a", "b")
	cmdtest.WantUsageError(t, err, "give the name of one CA certificate")
}
