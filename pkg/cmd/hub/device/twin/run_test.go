package twin

import (
	"strings"
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

// TestTwinAzureHub: with --hub-connection-string, show and update go to
// the hub's service REST API (an IoT hub played on 127.0.0.1), signed
// with the policy's key, and print what the hub answered.
func TestTwinAzureHub(t *testing.T) {
	cs, reqs := hubtest.AzureHub(t)
	runs := []struct {
		name string
		args []string
		want hubtest.Request
	}{
		{"azure show", []string{"show", "dev-1", "--hub-connection-string", cs}, hubtest.Request{Method: "GET", Path: "/twins/dev-1"}},
		{"azure update json", []string{"update", "dev-1", "--desired", `{"interval":60}`, "--hub-connection-string", cs, "-o", "json"},
			hubtest.Request{Method: "PATCH", Path: "/twins/dev-1", Body: `{"properties":{"desired":{"interval":60}}}`}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, false)
			if err := cmdtest.Run(t, f, NewCmdTwin(f, nil), r.args...); err != nil {
				t.Fatal(err)
			}
			got := <-reqs
			r.want.Query = "api-version=2021-04-12"
			if got != r.want {
				t.Fatalf("the hub got %+v, want %+v", got, r.want)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}

	f, _ := cmdtest.NewFactory(t, nil, false)
	err := cmdtest.Run(t, f, NewCmdTwin(f, nil), "show", "nobody", "--hub-connection-string", cs)
	if err == nil || !strings.Contains(err.Error(), "DeviceNotFound") {
		t.Fatalf("a device the hub does not have: %v", err)
	}
	wrongKey := strings.Replace(cs, hubtest.AzureHubKey, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktLS0=", 1)
	err = cmdtest.Run(t, f, NewCmdTwin(f, nil), "show", "dev-1", "--hub-connection-string", wrongKey)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong key: %v", err)
	}
}
