package send

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdSend(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *SendOptions)
		wantErr string
	}{
		{name: "message", args: []string{"dev-1", "hello"}, check: func(t *testing.T, o *SendOptions) {
			if o.DeviceID != "dev-1" || o.Message.Payload != "hello" || o.Message.Properties != nil {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "properties", args: []string{"dev-1", "{}", "--property", "a=1", "--property", "b=x=y", "--content-type", "application/json", "--message-id", "m1"}, check: func(t *testing.T, o *SendOptions) {
			m := o.Message
			if m.Properties["a"] != "1" || m.Properties["b"] != "x=y" || m.ContentType != "application/json" || m.MessageID != "m1" {
				t.Fatalf("%+v", m)
			}
		}},
		{name: "bad property", args: []string{"dev-1", "x", "--property", "novalue"}, wantErr: `--property "novalue": use KEY=VALUE`},
		{name: "azure hub", args: []string{"dev-1", "x", "--hub-connection-string", "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5"}, wantErr: "send reaches the local hubs only"},
		{name: "no message", args: []string{"dev-1"}, wantErr: "give the device ID and the message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdSend, tt.args...)
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
