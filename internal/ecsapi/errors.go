package ecsapi

import (
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
)

// Constructors for the ECS exceptions, so every operation words them alike.

func errInvalidParameter(format string, args ...any) error {
	return awserr.New(ecs.ErrInvalidParameter, format, args...)
}

func errClient(format string, args ...any) error {
	return awserr.New(ecs.ErrClient, format, args...)
}

func errClusterNotFound() error {
	return awserr.New(ecs.ErrClusterNotFound, "Cluster not found.")
}

func errServiceNotFound() error {
	return awserr.New(ecs.ErrServiceNotFound, "Service not found.")
}

func errServiceNotActive() error {
	return awserr.New(ecs.ErrServiceNotActive, "Service was not ACTIVE.")
}

// errServer wraps an unexpected (store) error; the edge hides its text.
func errServer(err error) error { return err }

// awsErr builds any ECS exception by code.
func awsErr(code, format string, args ...any) error { return awserr.New(code, format, args...) }
