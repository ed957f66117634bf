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
