// Package shared holds what the registration verbs (and "group
// registrations") share: the listed type and its columns, the listings
// themselves, ID completion and error messages.
package shared

import (
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

// Registration is a listed registration state: the wire state plus the
// enrollment group it was listed through, when known. Its JSON form is the
// wire state with "enrollmentGroupId" added (left out when unknown).
type Registration struct {
	model.DeviceRegistrationState
	EnrollmentGroupID string `json:"enrollmentGroupId,omitempty"`
}

type state = model.DeviceRegistrationState

// Columns are the list columns of registration states.
var Columns = []output.Column[Registration]{
	{Header: "REGISTRATION ID", Value: func(r Registration) string { return r.RegistrationID }},
	{Header: "STATUS", Value: func(r Registration) string { return r.Status }},
	{Header: "ASSIGNED HUB", Value: func(r Registration) string { return r.AssignedHub }},
	{Header: "DEVICE ID", Value: func(r Registration) string { return r.DeviceID }},
	{Header: "GROUP", Value: func(r Registration) string { return r.EnrollmentGroupID }},
	{Header: "LAST UPDATED", Value: func(r Registration) string { return cmdutil.Timestamp(r.LastUpdatedDateTimeUTC) }},
	{Header: "ERROR", Value: func(r Registration) string { return ErrorText(r.DeviceRegistrationState) }},
}

// DetailColumns are the fields "registration show" prints in table form.
var DetailColumns = []output.Column[state]{
	{Header: "REGISTRATION ID", Value: func(s state) string { return s.RegistrationID }},
	{Header: "STATUS", Value: func(s state) string { return s.Status }},
	{Header: "SUBSTATUS", Value: func(s state) string { return s.Substatus }},
	{Header: "ASSIGNED HUB", Value: func(s state) string { return s.AssignedHub }},
	{Header: "DEVICE ID", Value: func(s state) string { return s.DeviceID }},
	{Header: "ERROR", Value: func(s state) string { return ErrorText(s) }},
	{Header: "PAYLOAD", Value: func(s state) string { return string(s.Payload) }},
	{Header: "ETAG", Value: func(s state) string { return s.ETag }},
	{Header: "CREATED", Value: func(s state) string { return cmdutil.Timestamp(s.CreatedDateTimeUTC) }},
	{Header: "LAST UPDATED", Value: func(s state) string { return cmdutil.Timestamp(s.LastUpdatedDateTimeUTC) }},
}

// ErrorText is the error of a failed registration: its code and message.
func ErrorText(s model.DeviceRegistrationState) string {
	switch {
	case s.ErrorCode != 0 && s.ErrorMessage != "":
		return strconv.Itoa(s.ErrorCode) + " " + s.ErrorMessage
	case s.ErrorCode != 0:
		return strconv.Itoa(s.ErrorCode)
	}
	return s.ErrorMessage
}
