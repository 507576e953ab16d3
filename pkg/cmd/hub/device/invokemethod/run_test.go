package invokemethod

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared/hubtest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/dpsctl/dpsctl/pkg/mqttdevice"
)

func TestInvokeRun(t *testing.T) {
	// The device answers every direct method with 200 and {"echo": payload}.
	hubtest.OnlineDevice(t, mqttdevice.HubOptions{OnMethod: func(_ string, payload []byte) (int, []byte) {
		return 200, []byte(`{"echo":` + string(payload) + `}`)
	}})
	for _, r := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"table", true, []string{"dev-1", "ping", "--payload", `{"n":1}`}},
		{"json", false, []string{"dev-1", "ping", "--payload", `[1,2]`, "--timeout", "10s", "-o", "json"}},
		{"no payload piped", false, []string{"dev-1", "ping"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, r.tty)
			if err := cmdtest.Run(t, f, NewCmdInvokeMethod(f, nil), r.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String())
		})
	}
}

// TestInvokeAzureHub: with --hub-connection-string, the call goes to the
// hub's service REST API (an IoT hub played on 127.0.0.1) with the
// method's name, payload and timeout, and prints the device's answer.
func TestInvokeAzureHub(t *testing.T) {
	cs, reqs := hubtest.AzureHub(t)
	f, s := cmdtest.NewFactory(t, nil, false)
	if err := cmdtest.Run(t, f, NewCmdInvokeMethod(f, nil), "dev-1", "reboot", "--payload", `{"delay":5}`, "--timeout", "20s", "--hub-connection-string", cs, "-o", "json"); err != nil {
		t.Fatal(err)
	}
	want := hubtest.Request{Method: "POST", Path: "/twins/dev-1/methods", Query: "api-version=2021-04-12",
		Body: `{"methodName":"reboot","payload":{"delay":5},"responseTimeoutInSeconds":20}`}
	if got := <-reqs; got != want {
		t.Fatalf("the hub got %+v, want %+v", got, want)
	}
	cmdtest.Golden(t, s.Out.String())
}
