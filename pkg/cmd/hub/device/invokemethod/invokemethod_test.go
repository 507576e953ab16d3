package invokemethod

import (
	"testing"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdInvokeMethod(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *InvokeOptions)
		wantErr string
	}{
		{name: "defaults", args: []string{"dev-1", "reboot"}, check: func(t *testing.T, o *InvokeOptions) {
			if o.DeviceID != "dev-1" || o.Method != "reboot" || o.Payload != nil || o.Timeout != 30*time.Second || o.ConnectTimeout != 0 {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "payload and timeouts", args: []string{"dev-1", "m", "--payload", `{"a":1}`, "--timeout", "10s", "--connect-timeout", "1m", "--hub", "localhost"}, check: func(t *testing.T, o *InvokeOptions) {
			if string(o.Payload) != `{"a":1}` || o.Timeout != 10*time.Second || o.ConnectTimeout != time.Minute || o.Service.Hub != "localhost" {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "bad payload", args: []string{"dev-1", "m", "--payload", "{"}, wantErr: "--payload is not valid JSON"},
		{name: "short timeout", args: []string{"dev-1", "m", "--timeout", "1s"}, wantErr: "--timeout must be 5s to 300s"},
		{name: "long connect timeout", args: []string{"dev-1", "m", "--connect-timeout", "10m"}, wantErr: "--connect-timeout must be 0 to 300s"},
		{name: "no method", args: []string{"dev-1"}, wantErr: "give the device ID and the method name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdInvokeMethod, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}
