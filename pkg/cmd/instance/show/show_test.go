package show

import (
	"context"
	"errors"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func target(context.Context) (*azure.Target, error) {
	return &azure.Target{Instance: &azure.Instance{
		Name: "mydps", ResourceGroup: "rg", Subscription: "00000000-0000-0000-0000-000000000001", Location: "westeurope",
		HostName: "mydps.azure-devices-provisioning.net", IDScope: "0ne00000001", DeviceEndpoint: "global.azure-devices-provisioning.net",
		AllocationPolicy: "Hashed", ETag: "AAAA",
		LinkedHubs: []azure.LinkedHub{
			{Name: "hub1.azure-devices.net", ConnectionString: "HostName=hub1.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=****", Location: "westeurope", AllocationWeight: 1, ApplyAllocationPolicy: true},
			{Name: "hub2.azure-devices.net", ConnectionString: "HostName=hub2.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=****", Location: "northeurope", AllocationWeight: 3},
		},
	}}, nil
}

func TestShow(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		args []string
	}{
		{"table", true, nil},
		{"piped", false, nil},
		{"json", false, []string{"-o", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out := cmdtest.NewFactory(t, nil, tt.tty)
			f.Azure = target
			if err := cmdtest.Run(t, f, NewCmdShow(f, nil), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, out.Out.String())
		})
	}
}

func TestShowErrors(t *testing.T) {
	f, _ := cmdtest.NewFactory(t, nil, false)
	want := errors.New("no Azure provisioning service is named")
	f.Azure = func(context.Context) (*azure.Target, error) { return nil, want }
	if err := cmdtest.Run(t, f, NewCmdShow(f, nil)); !errors.Is(err, want) {
		t.Fatalf("error = %v", err)
	}
	cmdtest.WantUsageError(t, cmdtest.Run(t, f, NewCmdShow(f, nil), "extra"), "")
}
