package model

// Error codes the service puts in ErrorDetails.ErrorCode. HTTP status is
// errorCode/1000.
const (
	ErrBadRequest              = 400000
	ErrInvalidRegistrationID   = 400004
	ErrHubNotSpecified         = 400208
	ErrHubUnauthorized         = 400209
	ErrUnauthorized            = 401002
	ErrEnrollmentNotFound      = 404201
	ErrRegistrationNotFound    = 404202
	ErrEnrollmentGroupNotFound = 404204
	ErrNotFound                = 404000
	ErrMethodNotAllowed        = 405000
	ErrConflict                = 409000
	ErrPreconditionFailed      = 412000
	ErrRequestTooLarge         = 413000
	ErrUnsupportedMediaType    = 415000
	ErrThrottled               = 429001
	ErrInternal                = 500000
	ErrServiceUnavailable      = 503000
)
