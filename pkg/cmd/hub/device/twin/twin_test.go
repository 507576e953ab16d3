package twin

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
	"github.com/spf13/cobra"
)

// sub builds one subcommand of twin as a cmdtest.NewCmd.
func sub(name string) func(*cmdutil.Factory, func(*TwinOptions) error) *cobra.Command {
	return func(f *cmdutil.Factory, runF func(*TwinOptions) error) *cobra.Command {
		parent := NewCmdTwin(f, runF)
		for _, c := range parent.Commands() {
			if c.Name() == name {
				parent.RemoveCommand(c) // run on its own
				return c
			}
		}
		panic("no subcommand " + name)
	}
}

func TestNewCmdTwin(t *testing.T) {
	tests := []struct {
		name    string
		sub     string
		args    []string
		check   func(t *testing.T, o *TwinOptions)
		wantErr string
	}{
		{name: "show", sub: "show", args: []string{"dev-1", "--hub", "localhost"}, check: func(t *testing.T, o *TwinOptions) {
			if o.DeviceID != "dev-1" || o.Service.Hub != "localhost" {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "update", sub: "update", args: []string{"dev-1", "--desired", `{"interval":60,"old":null}`}, check: func(t *testing.T, o *TwinOptions) {
			if o.DeviceID != "dev-1" || string(o.Desired) != `{"interval":60,"old":null}` {
				t.Fatalf("%+v", o)
			}
		}},
		{name: "update without desired", sub: "update", args: []string{"dev-1"}, wantErr: "--desired must be a JSON object"},
		{name: "update with an array", sub: "update", args: []string{"dev-1", "--desired", "[1]"}, wantErr: "--desired must be a JSON object"},
		{name: "update with null", sub: "update", args: []string{"dev-1", "--desired", "null"}, wantErr: "--desired must be a JSON object"},
		{name: "show without device", sub: "show", args: nil, wantErr: "give one device ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cmdtest.Parse(t, sub(tt.sub), tt.args...)
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
