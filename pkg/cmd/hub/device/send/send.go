// Package send is "dpsctl hub device send": a cloud-to-device message to
// a device of a local hub.
package send

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// SendOptions are the inputs of "hub device send".
type SendOptions struct {
	Printer func() (*output.Printer, error)
	Service shared.ServiceFlags

	DeviceID string
	Message  iothubservice.C2DMessage
}

// Columns are the fields of a sent message.
var Columns = []output.Column[iothubservice.SendResult]{
	{Header: "MESSAGE ID", Value: func(r iothubservice.SendResult) string { return r.MessageID }},
	{Header: "PENDING", Value: func(r iothubservice.SendResult) string { return strconv.Itoa(r.Pending) }},
}

// NewCmdSend builds "dpsctl hub device send".
func NewCmdSend(f *cmdutil.Factory, runF func(*SendOptions) error) *cobra.Command {
	opts := &SendOptions{Printer: f.Printer}
	var props []string
	cmd := &cobra.Command{
		Use:   "send <device-id> <message>",
		Short: "Send a cloud-to-device message",
		Long: `Queue a cloud-to-device message for a device of a local hub of the running
"dpsctl serve": delivered at once to a device connected over MQTT, else when
it next subscribes (at most 50 wait per device, as IoT Hub). Prints the
message ID and how many messages wait. IoT Hub in Azure takes these over
AMQP, which dpsctl does not speak.`,
		Example: `  dpsctl hub device send dev-1 'reboot at 02:00'
  dpsctl hub device send dev-1 '{"led":"on"}' --content-type application/json --property priority=high`,
		Args:              cmdutil.ExactArgs(2, "give the device ID and the message"),
		ValidArgsFunction: shared.CompleteDevices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DeviceID, opts.Message.Payload = args[0], args[1]
			for _, p := range props {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return cmdutil.FlagErrorf("--property %q: use KEY=VALUE", p)
				}
				if opts.Message.Properties == nil {
					opts.Message.Properties = map[string]string{}
				}
				opts.Message.Properties[k] = v
			}
			if opts.Service.ConnectionString != "" {
				return cmdutil.FlagErrorf("send reaches the local hubs only (IoT Hub takes cloud-to-device messages over AMQP)")
			}
			if runF != nil {
				return runF(opts)
			}
			return sendRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Message.MessageID, "message-id", "", "Message ID (default: one the hub makes)")
	cmd.Flags().StringVar(&opts.Message.CorrelationID, "correlation-id", "", "Correlation ID")
	cmd.Flags().StringVar(&opts.Message.ContentType, "content-type", "", "Content type, e.g. application/json")
	cmd.Flags().StringArrayVar(&props, "property", nil, "Application property KEY=VALUE (repeatable)")
	for _, n := range []string{"message-id", "correlation-id", "content-type", "property"} {
		_ = cmd.RegisterFlagCompletionFunc(n, cobra.NoFileCompletions)
	}
	shared.AddServiceFlags(cmd, f, &opts.Service)
	return cmd
}

func sendRun(ctx context.Context, opts *SendOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, local, release, err := opts.Service.Client(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	defer release()
	if !local {
		return errors.New("send reaches the local hubs only")
	}
	r, err := c.SendC2D(ctx, opts.DeviceID, opts.Message)
	if err != nil {
		return err
	}
	return output.Print(p, *r, Columns)
}
