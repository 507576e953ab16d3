// Package twin is "dpsctl hub device twin show|update": a device's twin
// through the hub's service API.
package twin

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cmd/hub/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iothubservice"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// TwinOptions are the inputs of "hub device twin show" and "update".
type TwinOptions struct {
	Printer func() (*output.Printer, error)
	Service shared.ServiceFlags

	DeviceID string
	// Desired is the patch of update (--desired), a JSON object.
	Desired json.RawMessage
}

// Columns are the fields of a twin.
var Columns = []output.Column[iothubservice.Twin]{
	{Header: "DEVICE ID", Value: func(t iothubservice.Twin) string { return t.DeviceID }, Full: true},
	{Header: "CONNECTION STATE", Value: func(t iothubservice.Twin) string { return t.ConnectionState }},
	{Header: "VERSION", Value: func(t iothubservice.Twin) string { return strconv.FormatInt(t.Version, 10) }},
	{Header: "DESIRED", Value: func(t iothubservice.Twin) string { return jsonText(t.Properties.Desired) }},
	{Header: "REPORTED", Value: func(t iothubservice.Twin) string { return jsonText(t.Properties.Reported) }},
}

func jsonText(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// NewCmdTwin builds "dpsctl hub device twin" with show and update.
func NewCmdTwin(f *cmdutil.Factory, runF func(*TwinOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "twin <command>",
		Short: "Read or update a device's twin",
		Long: `Read a device's twin (desired and reported properties, with their
$version) or patch its desired properties, through the hub's service API
(IoT Hub's GET and PATCH /twins/{id}). A device connected over MQTT gets the
patch at once.

A local hub's twins live in the running "dpsctl serve" (they start from the
enrollment's initial twin when the device first connects); give
--hub-connection-string to use an IoT hub in Azure instead.`,
		Example: `  dpsctl hub device twin show dev-1
  dpsctl hub device twin update dev-1 --desired '{"interval":60}'
  dpsctl hub device twin show dev-1 --hub-connection-string "$HUB_CS" -o json`,
	}
	cmd.AddCommand(newCmdShow(f, runF), newCmdUpdate(f, runF))
	return cmd
}

func newCmdShow(f *cmdutil.Factory, runF func(*TwinOptions) error) *cobra.Command {
	opts := &TwinOptions{Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "show <device-id>",
		Short: "Show a device's twin",
		Long: `Show a device's twin: connection state, version, desired and reported
properties. -o json prints the service API's twin.`,
		Example: `  dpsctl hub device twin show dev-1
  dpsctl hub device twin show dev-1 -o json --query properties.reported`,
		Args:              cmdutil.ExactArgs(1, "give one device ID"),
		ValidArgsFunction: shared.CompleteDevices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DeviceID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	shared.AddServiceFlags(cmd, f, &opts.Service)
	return cmd
}

func newCmdUpdate(f *cmdutil.Factory, runF func(*TwinOptions) error) *cobra.Command {
	opts := &TwinOptions{Printer: f.Printer}
	var desired string
	cmd := &cobra.Command{
		Use:   "update <device-id> --desired <json>",
		Short: "Patch a device's desired properties",
		Long: `Patch a device's desired properties with a JSON object (a merge patch: a
property set to null is removed) and print the twin. The device gets the
patch with the new $version if it is connected.`,
		Example: `  dpsctl hub device twin update dev-1 --desired '{"interval":60}'
  dpsctl hub device twin update dev-1 --desired '{"interval":null}' -o json`,
		Args:              cmdutil.ExactArgs(1, "give one device ID"),
		ValidArgsFunction: shared.CompleteDevices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DeviceID = args[0]
			var obj map[string]json.RawMessage
			if desired == "" || json.Unmarshal([]byte(desired), &obj) != nil || obj == nil {
				return cmdutil.FlagErrorf(`--desired must be a JSON object, for example '{"interval":60}'`)
			}
			opts.Desired = json.RawMessage(desired)
			if runF != nil {
				return runF(opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&desired, "desired", "", "Desired properties to merge, a JSON object (null removes one)")
	_ = cmd.RegisterFlagCompletionFunc("desired", cobra.NoFileCompletions)
	shared.AddServiceFlags(cmd, f, &opts.Service)
	return cmd
}

func showRun(ctx context.Context, opts *TwinOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, _, release, err := opts.Service.Client(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	defer release()
	t, err := c.GetTwin(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	return output.Print(p, *t, Columns)
}

func updateRun(ctx context.Context, opts *TwinOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, _, release, err := opts.Service.Client(ctx, opts.DeviceID)
	if err != nil {
		return err
	}
	defer release()
	t, err := c.UpdateDesired(ctx, opts.DeviceID, opts.Desired)
	if err != nil {
		return err
	}
	return output.Print(p, *t, Columns)
}
