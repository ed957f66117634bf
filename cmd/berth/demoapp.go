package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/demo"
)

// newDemoAppCmd is the demo service's program: berth up runs it as the
// berth-demo service's containers (hidden: not for typing).
func newDemoAppCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "demo-app",
		Short:  "Serve the berth up demo on $HOST:$PORT (default :8080)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := newLogger(false)
			host, _ := os.Hostname()
			mdCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			task, err := demo.TaskFromMetadata(mdCtx, os.Getenv)
			cancel()
			if err != nil && !errors.Is(err, demo.ErrNoMetadata) {
				log.Warn("no task metadata; answering without the task ID", "err", err)
			}
			return demo.Run(ctx, demo.Config{
				Addr:     demo.AddrFromEnv(os.Getenv),
				Version:  demo.Version(),
				Hostname: host,
				Task:     task,
				Logger:   log,
			})
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Exit 0 when the demo on $HOST:$PORT answers /health (its container health check)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
			defer cancel()
			return demo.Check(ctx, demo.AddrFromEnv(os.Getenv))
		},
	})
	return cmd
}
