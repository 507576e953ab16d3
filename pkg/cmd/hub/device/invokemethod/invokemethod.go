// Package invokemethod is "dpsctl hub device invoke-method": a direct
// method call through the hub's service API.
package invokemethod

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// InvokeOptions are the inputs of "hub device invoke-method".
type InvokeOptions struct {
	Printer func() (*output.Printer, error)
	Service shared.ServiceFlags

	DeviceID, Method string
	Payload          json.RawMessage
	// Timeout is how long the device has to answer; ConnectTimeout how
	// long to wait for it to come online.
	Timeout, ConnectTimeout time.Duration
}

// Columns are the fields of a method's answer.
var Columns = []output.Column[iothubservice.MethodResult]{
	{Header: "STATUS", Value: func(r iothubservice.MethodResult) string { return strconv.Itoa(r.Status) }},
	{Header: "PAYLOAD", Value: func(r iothubservice.MethodResult) string { return string(r.Payload) }, Full: true},
}

// NewCmdInvokeMethod builds "dpsctl hub device invoke-method".
func NewCmdInvokeMethod(f *cmdutil.Factory, runF func(*InvokeOptions) error) *cobra.Command {
	opts := &InvokeOptions{Printer: f.Printer}
	var payload string
	cmd := &cobra.Command{
		Use:   "invoke-method <device-id> <method-name> [--payload <json>]",
		Short: "Call a direct method on a device",
		Long: `Call a direct method on a connected device and print its answer: the
status the device chose and its JSON payload (IoT Hub's POST
/twins/{id}/methods). --timeout is how long the device has to answer (5s to
300s); --connect-timeout how long to wait for a device that is not
connected yet. A device that is not online is refused (404 DeviceNotOnline).`,
		Example: `  dpsctl hub device invoke-method dev-1 reboot --payload '{"delay":5}'
  dpsctl hub device invoke-method dev-1 getConfig --timeout 10s -o json
  dpsctl hub device invoke-method dev-1 ping --connect-timeout 30s`,
		Args:              cmdutil.ExactArgs(2, "give the device ID and the method name"),
		ValidArgsFunction: shared.CompleteDevices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DeviceID, opts.Method = args[0], args[1]
			if payload != "" {
				if !json.Valid([]byte(payload)) {
					return cmdutil.FlagErrorf("--payload is not valid JSON")
				}
				opts.Payload = json.RawMessage(payload)
			}
			if cmd.Flags().Changed("timeout") && (opts.Timeout < 5*time.Second || opts.Timeout > 300*time.Second) {
				return cmdutil.FlagErrorf("--timeout must be 5s to 300s, not %s", opts.Timeout)
			}
			if opts.ConnectTimeout < 0 || opts.ConnectTimeout > 300*time.Second {
				return cmdutil.FlagErrorf("--connect-timeout must be 0 to 300s, not %s", opts.ConnectTimeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return invokeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&payload, "payload", "", "JSON payload of the call")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Second, "How long the device has to answer (5s to 300s)")
	cmd.Flags().DurationVar(&opts.ConnectTimeout, "connect-timeout", 0, "How long to wait for the device to connect (0 to 300s)")
	for _, n := range []string{"payload", "timeout", "connect-timeout"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	shared.AddServiceFlags(cmd, f, &opts.Service)
	return cmd
}

func invokeRun(ctx context.Context, opts *InvokeOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, _, release, err := opts.Service.Client(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	defer release()
	r, err := c.InvokeMethod(ctx, opts.DeviceID, opts.Method, opts.Payload, opts.Timeout, opts.ConnectTimeout)
	if err != nil {
		return err
	}
	return output.Print(p, *r, Columns)
}
