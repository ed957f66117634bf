package cli

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// ExitError ends a command with a status other than 1. main exits with
// Code after printing Err (if any).
type ExitError struct {
	Code int
	Err  error // nil: nothing more to print
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the status the process exits with.
func (e *ExitError) ExitCode() int { return e.Code }

// Silent reports whether there is nothing to print.
func (e *ExitError) Silent() bool { return e.Err == nil }

// Exit statuses (docs/cli.md).
const (
	ExitOK          = 0
	ExitFailed      = 1 // an error, a FAILED deployment, a task that never ran
	ExitRolledBack  = 2
	ExitTimedOut    = 3
	ExitInterrupted = 130
)

// APIError is an error the API answered with, printed plainly:
// "describe services: service not found (ServiceNotFoundException)"
// rather than the SDK's chain of operation details.
type APIError struct {
	Verb    string // what was being done
	Code    string // the exception name
	Message string
	Err     error // the SDK's error
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return e.Verb + ": " + e.Code
	}
	return fmt.Sprintf("%s: %s (%s)", e.Verb, e.Message, e.Code)
}

func (e *APIError) Unwrap() error { return e.Err }

// apiErr wraps an SDK error: API errors as *APIError, others (transport)
// with the verb.
func apiErr(verb string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &APIError{Verb: verb, Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Err: err}
	}
	return fmt.Errorf("%s: %w", verb, err)
}

// isCode reports whether err is an API error with the exception code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
