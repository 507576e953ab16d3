package shared

import (
	"strconv"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
)

type result = model.DeviceRegistrationResult

// Columns are the fields of a registration result in table form.
var Columns = []output.Column[result]{
	{Header: "REGISTRATION ID", Value: func(r result) string { return r.RegistrationID }},
	{Header: "STATUS", Value: func(r result) string { return r.Status }},
	{Header: "SUBSTATUS", Value: func(r result) string { return r.Substatus }},
	{Header: "ASSIGNED HUB", Value: func(r result) string { return r.AssignedHub }},
	{Header: "DEVICE ID", Value: func(r result) string { return r.DeviceID }},
	{Header: "ATTESTATION", Value: Attestation},
	{Header: "GROUP", Value: GroupID},
	{Header: "ERROR", Value: ErrorText},
	{Header: "PAYLOAD", Value: func(r result) string { return string(r.Payload) }},
	{Header: "CREATED", Value: func(r result) string { return cmdutil.Timestamp(r.CreatedDateTimeUTC) }},
	{Header: "LAST UPDATED", Value: func(r result) string { return cmdutil.Timestamp(r.LastUpdatedDateTimeUTC) }},
}

// Attestation names the attestation the result reports.
func Attestation(r result) string {
	switch {
	case r.TPM != nil:
		return model.AttestationTPM
	case r.X509 != nil:
		return model.AttestationX509
	case r.SymmetricKey != nil:
		return model.AttestationSymmetricKey
	}
	return ""
}

// GroupID is the enrollment group the device registered through, if any.
func GroupID(r result) string {
	switch {
	case r.X509 != nil:
		return r.X509.EnrollmentGroupID
	case r.SymmetricKey != nil:
		return r.SymmetricKey.EnrollmentGroupID
	}
	return ""
}

// ErrorText is the error of a failed registration: its code and message.
func ErrorText(r result) string {
	switch {
	case r.ErrorCode != 0 && r.ErrorMessage != "":
		return strconv.Itoa(r.ErrorCode) + " " + r.ErrorMessage
	case r.ErrorCode != 0:
		return strconv.Itoa(r.ErrorCode)
	}
	return r.ErrorMessage
}
