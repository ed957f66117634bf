// Command berth is the one binary of berth, a self-hosted container
// platform in the model of AWS ECS. It only wires: flags into configs,
// configs into the packages that do the work.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		// A command may end with a status of its own (berth run exits
		// with its task's); it has printed what there was to say when it
		// is silent.
		var ec interface {
			ExitCode() int
			Silent() bool
		}
		if errors.As(err, &ec) {
			if !ec.Silent() {
				fmt.Fprintln(os.Stderr, "berth:", err)
			}
			stop()
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

// exitError makes berth exit with code, printing err first when set
// (`berth exec` passes on the remote command's exit code).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// ExitCode and Silent make exitError one of the errors main exits with a
// status of their own.
func (e *exitError) ExitCode() int { return e.code }
func (e *exitError) Silent() bool  { return e.err == nil }
