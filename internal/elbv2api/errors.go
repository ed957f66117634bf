package elbv2api

import (
	"errors"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsquery"
)

// Sentinel errors of the internal (non-API) methods.
var (
	// ErrTargetGroupNotFound: no target group has the ARN.
	ErrTargetGroupNotFound = errors.New("elbv2api: target group not found")
)

// apiErr builds an ELB error by code, with the HTTP status the model gives it.
func apiErr(code, format string, args ...any) error {
	e := awserr.New(code, format, args...)
	if st := elbv2.ErrorStatus(code); st != 0 {
		e.Status = st
		e.Server = st >= 500
	}
	return e
}

// errValidation is ELB's ValidationError; the message names the member.
func errValidation(format string, args ...any) error {
	return apiErr(awsquery.CodeValidation, format, args...)
}

func errConfig(format string, args ...any) error {
	return apiErr(elbv2.ErrInvalidConfigurationRequest, format, args...)
}

func errLBNotFound() error {
	return apiErr(elbv2.ErrLoadBalancerNotFound, "One or more load balancers not found")
}

func errTGNotFound() error {
	return apiErr(elbv2.ErrTargetGroupNotFound, "One or more target groups not found")
}

func errListenerNotFound() error {
	return apiErr(elbv2.ErrListenerNotFound, "One or more listeners not found")
}

func errRuleNotFound() error {
	return apiErr(elbv2.ErrRuleNotFound, "One or more rules not found")
}

// errServer wraps an unexpected (store) error; the edge hides its text.
func errServer(err error) error { return err }

// isCode reports whether err is an API error with the code.
func isCode(err error, code string) bool {
	var e *awserr.Error
	return errors.As(err, &e) && e.Code == code
}
