package boundaries

import (
	"errors"
	"fmt"
)

// Errors every part of the domain returns, wrapped with what was being
// done; web maps each to one HTTP status.
var (
	// ErrNotFound: a code, id or name names nothing.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts the stored units (a code that
	// exists, a unit that still has children, a scenario adopted twice).
	ErrConflict = errors.New("conflict")
	// ErrStale: the caller's version is not the current one.
	ErrStale = errors.New("the unit has changed since it was read")
	// ErrDuplicate: a name is already taken.
	ErrDuplicate = errors.New("already exists")
	// ErrRejected: an import rejected a feature; nothing was written.
	ErrRejected = errors.New("import rejected")
	// ErrBusy: too much work is waiting; retry later (503).
	ErrBusy = errors.New("busy")
	// ErrApprovalRequired: a write lacks its approval (批复文号). It is a
	// ValidationError too (422); API clients get a code of its own, since
	// they ask for the document number rather than show the message.
	ErrApprovalRequired = errors.New("approval required")
)

// ValidationError is input the checks refuse; the message says why. Err,
// when set, is the sentinel it is an instance of (errors.Is finds it).
type ValidationError struct {
	Msg string
	Err error
}

func (e *ValidationError) Error() string { return e.Msg }
func (e *ValidationError) Unwrap() error { return e.Err }

// Invalid is a ValidationError with a formatted message.
func Invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// ApprovalRequired is the refusal of a write without its approval: a
// ValidationError that is also ErrApprovalRequired.
func ApprovalRequired() error {
	return &ValidationError{Msg: "approval (批复文号) is required", Err: ErrApprovalRequired}
}

// QueryError is a request parameter the client got wrong, naming it.
type QueryError struct {
	Param string
	Err   error
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }
