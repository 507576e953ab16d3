package cmdutil

import (
	"errors"
	"fmt"
)

// FlagError is a usage error: a bad flag, a wrong number of arguments. It
// exits with code 2 and points at --help.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap turns err into a FlagError (nil stays nil).
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return err
	}
	return &FlagError{err: err}
}

// ErrSilent exits with code 1 and prints nothing: the command already said
// what went wrong.
var ErrSilent = errors.New("silent error")

// ErrCancel reports that the user declined a confirmation (exit code 1).
var ErrCancel = errors.New("cancelled")

// NoResultsError exits with code 0; its message goes to stderr.
type NoResultsError struct{ Message string }

func (e NoResultsError) Error() string { return e.Message }

// VerificationError reports a failed verification or a denied request: an
// invalid certificate chain, a registration the service refused. Exit code 3.
type VerificationError struct{ Err error }

func (e *VerificationError) Error() string { return e.Err.Error() }
func (e *VerificationError) Unwrap() error { return e.Err }

// VerificationErrorf builds a VerificationError.
func VerificationErrorf(format string, args ...any) error {
	return &VerificationError{Err: fmt.Errorf(format, args...)}
}

// AuthError reports that authentication failed or its material is unusable
// (a malformed connection string or SAS token). Exit code 4. Service
// answers 401 and 403 are recognised without wrapping.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// rewordedError carries a clearer message for an error it keeps in the
// chain, so the exit code and the service details still come from it.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

// Reword replaces err's message with a clearer one while keeping err in the
// chain: pkg/cli still finds a *dps.Error in it (status, errorCode,
// trackingId) and picks the exit code from it.
func Reword(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &rewordedError{msg: fmt.Sprintf(format, args...), err: err}
}
