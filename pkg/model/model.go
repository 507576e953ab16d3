// Package model holds the DPS wire types: the JSON documents the service API
// sends and receives (api-version 2021-10-01), field for field.
//
// Twin collections are kept as raw JSON objects so that user keys such as
// "version" or "count" survive a round trip untouched.
package model

import (
	"encoding/json"
)

// APIVersion is the service API version this package models.
const APIVersion = "2021-10-01"

// DeviceAPIVersion is the device registration API version the SDKs send.
const DeviceAPIVersion = "2019-03-31"

// Attestation types, as spelled on the wire.
const (
	AttestationNone         = "none"
	AttestationTPM          = "tpm"
	AttestationX509         = "x509"
	AttestationSymmetricKey = "symmetricKey"
)

// Provisioning status values.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
)

// Allocation policies.
const (
	AllocationHashed     = "hashed"
	AllocationGeoLatency = "geoLatency"
	AllocationStatic     = "static"
	AllocationCustom     = "custom"
)

// Bulk operation modes.
const (
	BulkCreate            = "create"
	BulkUpdate            = "update"
	BulkUpdateIfMatchETag = "updateIfMatchETag"
	BulkDelete            = "delete"
)

// Registration status values.
const (
	RegUnassigned = "unassigned"
	RegAssigning  = "assigning"
	RegAssigned   = "assigned"
	RegFailed     = "failed"
	RegDisabled   = "disabled"
)

// Query item types sent in the x-ms-item-type header.
const (
	ItemTypeEnrollment         = "Enrollment"
	ItemTypeEnrollmentGroup    = "EnrollmentGroup"
	ItemTypeDeviceRegistration = "DeviceRegistration"
)

// IndividualEnrollment is one device's enrollment.
type IndividualEnrollment struct {
	RegistrationID            string                   `json:"registrationId"`
	DeviceID                  string                   `json:"deviceId,omitempty"`
	RegistrationState         *DeviceRegistrationState `json:"registrationState,omitempty"`
	OptionalDeviceInformation json.RawMessage          `json:"optionalDeviceInformation,omitempty"`
	EnrollmentCommon

	// Unknown are the members this package does not model; see Unknown.
	Unknown Unknown `json:"-"`
}

// EnrollmentGroup is an enrollment shared by many devices.
type EnrollmentGroup struct {
	EnrollmentGroupID string `json:"enrollmentGroupId"`
	EnrollmentCommon

	// Unknown are the members this package does not model; see Unknown.
	Unknown Unknown `json:"-"`
}

// EnrollmentCommon holds the members individual enrollments and enrollment
// groups share. Both types embed it after their own members, which is where
// the wire puts these.
type EnrollmentCommon struct {
	Attestation                *AttestationMechanism       `json:"attestation"`
	Capabilities               *DeviceCapabilities         `json:"capabilities,omitempty"`
	IoTHubHostName             string                      `json:"iotHubHostName,omitempty"`
	InitialTwin                *InitialTwin                `json:"initialTwin,omitempty"`
	ETag                       string                      `json:"etag,omitempty"`
	ProvisioningStatus         string                      `json:"provisioningStatus,omitempty"`
	ReprovisionPolicy          *ReprovisionPolicy          `json:"reprovisionPolicy,omitempty"`
	CreatedDateTimeUTC         string                      `json:"createdDateTimeUtc,omitempty"`
	LastUpdatedDateTimeUTC     string                      `json:"lastUpdatedDateTimeUtc,omitempty"`
	AllocationPolicy           string                      `json:"allocationPolicy,omitempty"`
	IoTHubs                    []string                    `json:"iotHubs,omitempty"`
	CustomAllocationDefinition *CustomAllocationDefinition `json:"customAllocationDefinition,omitempty"`
}

// AttestationMechanism says how a device proves its identity.
type AttestationMechanism struct {
	Type         string                   `json:"type"`
	TPM          *TPMAttestation          `json:"tpm,omitempty"`
	X509         *X509Attestation         `json:"x509,omitempty"`
	SymmetricKey *SymmetricKeyAttestation `json:"symmetricKey,omitempty"`

	// Unknown are the members this package does not model; see Unknown.
	Unknown Unknown `json:"-"`
}

// TPMAttestation carries the base64 TPM2B_PUBLIC of the endorsement key.
type TPMAttestation struct {
	EndorsementKey string `json:"endorsementKey"`
	StorageRootKey string `json:"storageRootKey,omitempty"`
}

// SymmetricKeyAttestation carries base64 keys; the service strips them on read.
type SymmetricKeyAttestation struct {
	PrimaryKey   string `json:"primaryKey,omitempty"`
	SecondaryKey string `json:"secondaryKey,omitempty"`
}

// X509Attestation is the X.509 attestation of an enrollment or group.
type X509Attestation struct {
	ClientCertificates  *X509Certificates `json:"clientCertificates,omitempty"`
	SigningCertificates *X509Certificates `json:"signingCertificates,omitempty"`
	CAReferences        *X509CAReferences `json:"caReferences,omitempty"`
}

// X509Certificates is a primary and optional secondary certificate.
type X509Certificates struct {
	Primary   *X509CertificateWithInfo `json:"primary,omitempty"`
	Secondary *X509CertificateWithInfo `json:"secondary,omitempty"`
}

// X509CertificateWithInfo holds a certificate on input and its info on output.
type X509CertificateWithInfo struct {
	Certificate string               `json:"certificate,omitempty"`
	Info        *X509CertificateInfo `json:"info,omitempty"`
}

// X509CertificateInfo is computed by the service from an uploaded certificate.
type X509CertificateInfo struct {
	SubjectName      string `json:"subjectName"`
	SHA1Thumbprint   string `json:"sha1Thumbprint"`
	SHA256Thumbprint string `json:"sha256Thumbprint"`
	IssuerName       string `json:"issuerName"`
	NotBeforeUTC     string `json:"notBeforeUtc"`
	NotAfterUTC      string `json:"notAfterUtc"`
	SerialNumber     string `json:"serialNumber"`
	Version          int    `json:"version"`
}

// X509CAReferences names CA certificates uploaded to the service.
type X509CAReferences struct {
	Primary   string `json:"primary,omitempty"`
	Secondary string `json:"secondary,omitempty"`
}

// InitialTwin is the twin a device starts with. Tags and desired properties
// are free-form JSON objects.
type InitialTwin struct {
	Tags       json.RawMessage        `json:"tags,omitempty"`
	Properties *InitialTwinProperties `json:"properties,omitempty"`
}

// InitialTwinProperties holds desired properties.
type InitialTwinProperties struct {
	Desired json.RawMessage `json:"desired,omitempty"`
}

// DeviceCapabilities says whether the device is an IoT Edge device.
type DeviceCapabilities struct {
	IoTEdge bool `json:"iotEdge"`
}

// ReprovisionPolicy controls what happens when a device registers again.
type ReprovisionPolicy struct {
	UpdateHubAssignment bool `json:"updateHubAssignment"`
	MigrateDeviceData   bool `json:"migrateDeviceData"`
}

// CustomAllocationDefinition points at a custom allocation webhook.
type CustomAllocationDefinition struct {
	WebhookURL string `json:"webhookUrl"`
	APIVersion string `json:"apiVersion"`
}

// DeviceRegistrationState is the service API's view of a registration.
type DeviceRegistrationState struct {
	RegistrationID         string          `json:"registrationId,omitempty"`
	CreatedDateTimeUTC     string          `json:"createdDateTimeUtc,omitempty"`
	AssignedHub            string          `json:"assignedHub,omitempty"`
	DeviceID               string          `json:"deviceId,omitempty"`
	Status                 string          `json:"status,omitempty"`
	Substatus              string          `json:"substatus,omitempty"`
	ErrorCode              int             `json:"errorCode,omitempty"`
	ErrorMessage           string          `json:"errorMessage,omitempty"`
	LastUpdatedDateTimeUTC string          `json:"lastUpdatedDateTimeUtc,omitempty"`
	ETag                   string          `json:"etag,omitempty"`
	Payload                json.RawMessage `json:"payload,omitempty"`
}

// QuerySpecification is the body of a query call. The service ignores the text.
type QuerySpecification struct {
	Query string `json:"query"`
}

// BulkEnrollmentOperation is the body of POST /enrollments.
type BulkEnrollmentOperation struct {
	Mode        string                 `json:"mode"`
	Enrollments []IndividualEnrollment `json:"enrollments"`
}

// BulkEnrollmentGroupOperation is the body of POST /enrollmentGroups.
type BulkEnrollmentGroupOperation struct {
	Mode             string            `json:"mode"`
	EnrollmentGroups []EnrollmentGroup `json:"enrollmentGroups"`
}

// BulkEnrollmentOperationResult is the answer to a bulk enrollment call.
type BulkEnrollmentOperationResult struct {
	IsSuccessful bool                           `json:"isSuccessful"`
	Errors       []BulkEnrollmentOperationError `json:"errors,omitempty"`
}

// BulkEnrollmentOperationError is one failed item of a bulk call.
type BulkEnrollmentOperationError struct {
	RegistrationID string `json:"registrationId"`
	ErrorCode      int    `json:"errorCode"`
	ErrorStatus    string `json:"errorStatus"`
}

// BulkEnrollmentGroupOperationResult is the answer to a bulk group call.
type BulkEnrollmentGroupOperationResult struct {
	IsSuccessful bool                                `json:"isSuccessful"`
	Errors       []BulkEnrollmentGroupOperationError `json:"errors,omitempty"`
}

// BulkEnrollmentGroupOperationError is one failed item of a bulk group call.
type BulkEnrollmentGroupOperationError struct {
	EnrollmentGroupID string `json:"enrollmentGroupId"`
	ErrorCode         int    `json:"errorCode"`
	ErrorStatus       string `json:"errorStatus"`
}

// ErrorDetails is the DPS error body (ProvisioningServiceErrorDetails).
type ErrorDetails struct {
	ErrorCode    int               `json:"errorCode"`
	TrackingID   string            `json:"trackingId,omitempty"`
	Message      string            `json:"message,omitempty"`
	Info         map[string]string `json:"info,omitempty"`
	TimestampUTC string            `json:"timestampUtc,omitempty"`
}
