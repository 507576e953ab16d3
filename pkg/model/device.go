package model

import "encoding/json"

// Device registration API (the API devices call, with an ID scope in the
// path). Field names follow the device API of 2021-10-01 and the SDKs that
// speak 2019-03-31; 2025-07-01-preview adds csr and issuedCertificateChain.

// DeviceAPIVersions are the device API versions the SDKs send. Servers accept
// any of them (and in practice any version string).
var DeviceAPIVersions = []string{"2019-03-31", "2021-06-01", "2021-10-01", "2025-07-01-preview"}

// DeviceKeyName is the skn of every device SAS token.
const DeviceKeyName = "registration"

// Registration substatus values.
const (
	SubstatusInitialAssignment                = "initialAssignment"
	SubstatusDeviceDataMigrated               = "deviceDataMigrated"
	SubstatusDeviceDataReset                  = "deviceDataReset"
	SubstatusReprovisionedToInitialAssignment = "reprovisionedToInitialAssignment"
)

// DeviceRegistration is the body of PUT /{idScope}/registrations/{id}/register
// and of the status lookup POST. Every field is optional: C# over MQTT and
// AMQP sends no body at all, so the registration ID comes from the path.
type DeviceRegistration struct {
	RegistrationID string          `json:"registrationId,omitempty"`
	TPM            *TPMAttestation `json:"tpm,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	// CSR is a base64 DER PKCS#10 request (2025-07-01-preview).
	CSR string `json:"csr,omitempty"`
}

// RegistrationOperationStatus is the answer to register and to the operation
// status lookup: 202 while status is "assigning", 200 once terminal.
type RegistrationOperationStatus struct {
	OperationID       string                    `json:"operationId"`
	Status            string                    `json:"status"`
	RegistrationState *DeviceRegistrationResult `json:"registrationState,omitempty"`
}

// DeviceRegistrationResult is the device's view of its registration. Exactly
// one of TPM, X509 and SymmetricKey is set, after the attestation used.
type DeviceRegistrationResult struct {
	TPM                    *TPMRegistrationResult          `json:"tpm,omitempty"`
	X509                   *X509RegistrationResult         `json:"x509,omitempty"`
	SymmetricKey           *SymmetricKeyRegistrationResult `json:"symmetricKey,omitempty"`
	RegistrationID         string                          `json:"registrationId,omitempty"`
	CreatedDateTimeUTC     string                          `json:"createdDateTimeUtc,omitempty"`
	AssignedHub            string                          `json:"assignedHub,omitempty"`
	DeviceID               string                          `json:"deviceId,omitempty"`
	Status                 string                          `json:"status,omitempty"`
	Substatus              string                          `json:"substatus,omitempty"`
	ErrorCode              int                             `json:"errorCode,omitempty"`
	ErrorMessage           string                          `json:"errorMessage,omitempty"`
	LastUpdatedDateTimeUTC string                          `json:"lastUpdatedDateTimeUtc,omitempty"`
	ETag                   string                          `json:"etag,omitempty"`
	Payload                json.RawMessage                 `json:"payload,omitempty"`
	// IssuedCertificateChain is base64 DER, leaf first (2025-07-01-preview).
	IssuedCertificateChain []string `json:"issuedCertificateChain,omitempty"`
	// GenerationID is a legacy field some SDKs still read.
	GenerationID string `json:"generationId,omitempty"`
}

// TPMRegistrationResult carries the activation blob that wraps the IoT hub
// device key (base64).
type TPMRegistrationResult struct {
	AuthenticationKey string `json:"authenticationKey"`
}

// X509RegistrationResult names the certificate used. It is an empty object
// for an individual enrollment.
type X509RegistrationResult struct {
	CertificateInfo        *X509CertificateInfo `json:"certificateInfo,omitempty"`
	EnrollmentGroupID      string               `json:"enrollmentGroupId,omitempty"`
	SigningCertificateInfo *X509CertificateInfo `json:"signingCertificateInfo,omitempty"`
}

// SymmetricKeyRegistrationResult names the group whose derived key the
// device used; empty for an individual enrollment.
type SymmetricKeyRegistrationResult struct {
	EnrollmentGroupID string `json:"enrollmentGroupId,omitempty"`
}

// TPMChallenge is the body of the 401 answer to a TPM device's first
// register call. It is not the error model: there is no errorCode.
type TPMChallenge struct {
	Message           string `json:"message,omitempty"`
	AuthenticationKey string `json:"authenticationKey"`
	KeyName           string `json:"keyName"`
}

// AllocationRequest is what the service POSTs to a custom allocation
// webhook. One of IndividualEnrollment and EnrollmentGroup is set, rendered
// as the service API reads it (keys and certificate bodies stripped).
type AllocationRequest struct {
	IndividualEnrollment *IndividualEnrollment `json:"individualEnrollment,omitempty"`
	EnrollmentGroup      *EnrollmentGroup      `json:"enrollmentGroup,omitempty"`
	DeviceRuntimeContext DeviceRuntimeContext  `json:"deviceRuntimeContext"`
	// LinkedHubs are the hubs the webhook may choose from.
	LinkedHubs []string `json:"linkedHubs"`
}

// DeviceRuntimeContext describes the registering device to a custom
// allocation webhook. The current hub and device are set on
// re-registration only; one of X509, SymmetricKey and TPM is set after the
// attestation used (SymmetricKey is an empty object).
type DeviceRuntimeContext struct {
	RegistrationID        string                          `json:"registrationId"`
	CurrentIoTHubHostName string                          `json:"currentIotHubHostName,omitempty"`
	CurrentDeviceID       string                          `json:"currentDeviceId,omitempty"`
	X509                  *X509RegistrationResult         `json:"x509,omitempty"`
	SymmetricKey          *SymmetricKeyRegistrationResult `json:"symmetricKey,omitempty"`
	TPM                   *TPMAttestation                 `json:"tpm,omitempty"`
	Payload               json.RawMessage                 `json:"payload,omitempty"`
}

// AllocationResponse is a custom allocation webhook's answer. IoTHubHostName
// must be one of the request's LinkedHubs; InitialTwin replaces the
// enrollment's initial twin; Payload is handed to the device.
type AllocationResponse struct {
	IoTHubHostName string          `json:"iotHubHostName"`
	InitialTwin    *InitialTwin    `json:"initialTwin,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}
