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
