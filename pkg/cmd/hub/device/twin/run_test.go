package twin

import (
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared/hubtest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

func TestTwinRun(t *testing.T) {
	desired := make(chan string, 8) // the device's desired-property updates
	hubtest.OnlineDevice(t, mqttdevice.HubOptions{OnDesired: func(_ int64, patch []byte) { desired <- string(patch) }})
	runs := []struct {
		name string
		tty  bool
		args []string
	}{
		{"show table", true, []string{"show", "dev-1"}},
		{"show piped", false, []string{"show", "dev-1"}},
		{"update json", false, []string{"update", "dev-1", "--desired", `{"interval":60,"mode":"eco"}`, "-o", "json"}},
		{"show after update", true, []string{"show", "dev-1"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, r.tty)
			if err := cmdtest.Run(t, f, NewCmdTwin(f, nil), r.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
	select {
	case p := <-desired:
		if p != `{"$version":2,"interval":60,"mode":"eco"}` {
			t.Fatalf("the device got %s", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the device got no desired-property update")
	}

	// A device no local hub has.
	f, _ := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdTwin(f, nil), "show", "nobody"); err == nil || err.Error() != `there is no device "nobody" in any local IoT hub` {
		t.Fatalf("unknown device: %v", err)
	}
}
