// Package shared holds what the hub verbs share: the table columns of hubs
// and hub devices, and completion.
package shared

import (
	"context"
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// Hub is a linked IoT hub as the hub commands print it.
type Hub struct {
	HostName              string `json:"hostName"`
	ConnectionString      string `json:"connectionString"`
	AllocationWeight      int    `json:"allocationWeight"`
	ApplyAllocationPolicy bool   `json:"applyAllocationPolicy"`
	Devices               int    `json:"devices"`
}

// Hubs returns the linked hubs with their device counts.
func Hubs(ctx context.Context, svc linkedhub.Service) ([]Hub, error) {
	linked, err := svc.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Hub, 0, len(linked))
	for _, h := range linked {
		hub, err := View(ctx, svc, h)
		if err != nil {
			return nil, err
		}
		out = append(out, hub)
	}
	return out, nil
}

// View describes one linked hub.
func View(ctx context.Context, svc linkedhub.Service, h linkedhub.Hub) (Hub, error) {
	n, err := svc.CountHubDevices(ctx, h.HostName)
	if err != nil {
		return Hub{}, err
	}
	return Hub{HostName: h.HostName, ConnectionString: h.ConnectionString, AllocationWeight: h.AllocationWeight, ApplyAllocationPolicy: h.ApplyAllocationPolicy, Devices: n}, nil
}

// Columns are the table columns of a linked hub.
var Columns = []output.Column[Hub]{
	{Header: "HOST NAME", Value: func(h Hub) string { return h.HostName }, Full: true},
	{Header: "ALLOCATION WEIGHT", Value: func(h Hub) string { return strconv.Itoa(h.AllocationWeight) }},
	{Header: "APPLY ALLOCATION POLICY", Value: func(h Hub) string { return strconv.FormatBool(h.ApplyAllocationPolicy) }},
	{Header: "DEVICES", Value: func(h Hub) string { return strconv.Itoa(h.Devices) }},
}

// DetailColumns are the fields of one hub (link prints them).
var DetailColumns = append(Columns[:1:1],
	output.Column[Hub]{Header: "CONNECTION STRING", Secret: true, Value: func(h Hub) string { return h.ConnectionString }},
	Columns[1], Columns[2], Columns[3],
)

type device = linkedhub.Device

// DeviceColumns are the columns of the device list, as the portal's IoT
// devices explorer shows them.
var DeviceColumns = []output.Column[device]{
	{Header: "DEVICE ID", Value: func(d device) string { return d.DeviceID }, Full: true},
	{Header: "HUB", Value: func(d device) string { return d.HubHostName }},
	{Header: "STATUS", Value: func(d device) string { return d.Status }},
	{Header: "CONNECTION STATE", Value: func(d device) string { return d.ConnectionState }},
	{Header: "AUTHENTICATION", Value: func(d device) string { return AuthenticationType(d) }},
	{Header: "LAST ACTIVITY", Value: func(d device) string { return cmdutil.Timestamp(d.LastActivityTime) }},
	{Header: "C2D MESSAGES", Value: func(d device) string { return strconv.Itoa(d.CloudToDeviceMessageCount) }},
}

// DeviceDetailColumns are the fields "hub device show" prints.
var DeviceDetailColumns = []output.Column[device]{
	DeviceColumns[0],
	DeviceColumns[1],
	DeviceColumns[2],
	{Header: "STATUS UPDATED", Value: func(d device) string { return cmdutil.Timestamp(d.StatusUpdatedTime) }},
	DeviceColumns[3],
	{Header: "CONNECTION STATE UPDATED", Value: func(d device) string { return cmdutil.Timestamp(d.ConnectionStateUpdatedTime) }},
	DeviceColumns[4],
	{Header: "PRIMARY KEY", Secret: true, Value: func(d device) string { return d.PrimaryKey }},
	{Header: "SECONDARY KEY", Secret: true, Value: func(d device) string { return d.SecondaryKey }},
	{Header: "PRIMARY THUMBPRINT", Value: func(d device) string { return d.PrimaryThumbprint }},
	{Header: "SECONDARY THUMBPRINT", Value: func(d device) string { return d.SecondaryThumbprint }},
	DeviceColumns[5],
	DeviceColumns[6],
	{Header: "D2C MESSAGES", Value: func(d device) string { return strconv.FormatInt(d.DeviceToCloudMessageCount, 10) }},
	{Header: "IOT EDGE", Value: func(d device) string { return strconv.FormatBool(d.IoTEdge) }},
	{Header: "TWIN TAGS", Value: func(d device) string { return string(d.Tags) }},
	{Header: "TWIN DESIRED", Value: func(d device) string { return string(d.Desired) }},
	{Header: "TWIN REPORTED", Value: func(d device) string { return string(d.Reported) }},
	{Header: "REGISTRATION ID", Value: func(d device) string { return d.RegistrationID }},
	{Header: "GENERATION ID", Value: func(d device) string { return d.GenerationID }},
	{Header: "CREATED", Value: func(d device) string { return cmdutil.Timestamp(d.CreatedTime) }},
	{Header: "LAST UPDATED", Value: func(d device) string { return cmdutil.Timestamp(d.LastUpdatedTime) }},
}

// AuthenticationType names a device's authentication as the portal does.
func AuthenticationType(d device) string {
	switch d.AuthenticationType {
	case linkedhub.AuthSAS:
		return "Sas"
	case linkedhub.AuthSelfSigned:
		return "SelfSigned"
	}
	return d.AuthenticationType
}

// CompleteHubs completes linked hub host names.
func CompleteHubs(f *cmdutil.Factory, multi bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !multi && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svc, err := f.Hubs(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		hs, err := svc.LinkedHubs(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, h := range hs {
			out = append(out, h.HostName)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// maxCompletedDevices bounds the devices CompleteDevices reads.
const maxCompletedDevices = 1000

// CompleteDevices completes the device IDs of the first devices of every
// hub's registry.
func CompleteDevices(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svc, err := f.Hubs(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		seen := map[string]bool{}
		var out []cobra.Completion
		for d, err := range cmdutil.Limit(svc.HubDevices(cmd.Context(), ""), maxCompletedDevices) {
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
			}
			if !seen[d.DeviceID] {
				seen[d.DeviceID] = true
				out = append(out, d.DeviceID)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
