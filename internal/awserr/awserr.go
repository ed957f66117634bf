// Package awserr is the error an AWS-compatible API returns: an error code
// (the exception name that ends up in __type or <Code>), a message, and the
// HTTP status. API implementations return *Error; the protocol edge encodes
// it. Any other error reaching the edge becomes a ServerException (500).
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error with the AWS exception name as Code.
type Error struct {
	Code    string // e.g. "ClusterNotFoundException"
	Message string
	Status  int // HTTP status; 0 means 400
	// Sender marks the fault side for the Query protocol (<Type>Sender</Type>).
	Server bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus returns the status to send.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if e.Server {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// New returns a client-fault error (HTTP 400) with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithStatus returns a client-fault error with an explicit HTTP status.
func WithStatus(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// As returns err as *Error, or a ServerException hiding err's text.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: "ServerException", Message: "internal server error", Server: true}
}

// Common codes shared by every AWS protocol.
const (
	CodeServer                     = "ServerException"
	CodeSerialization              = "SerializationException"
	CodeUnknownOperation           = "UnknownOperationException"
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeRequestEntityTooLarge      = "RequestEntityTooLargeException"
	CodeAccessDenied               = "AccessDeniedException"
)
