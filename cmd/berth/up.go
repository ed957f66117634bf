package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/agent"
	"github.com/berth-io/berth/internal/server"
)

func newUpCmd() *cobra.Command {
	var cfg server.Config
	var verbose bool
	var runtimeName string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local berth: the control plane and an agent for this machine, in one process",
		Long: `Start a local berth: the control plane (ECS and CloudWatch Logs APIs) and an
agent that registers this machine as a container instance of the "default"
cluster, in one process, with all state under --data-dir.

Running it again on the same data dir resumes the same cluster, credentials
and join token. Ctrl-C stops the process; tasks keep running (as with
berth agent) and are re-adopted on the next berth up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(verbose)
			cfg.Out = cmd.OutOrStdout()
			cfg.Logger = log
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("--data-dir: %w", err)
			}
			token, err := server.LoadOrCreateJoinToken(cfg.DataDir, os.Getenv)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			ready := make(chan string, 1)
			cfg.Ready = func(addr string) { ready <- addr }
			srvErr := make(chan error, 1)
			go func() { srvErr <- server.Run(ctx, cfg) }()

			var addr string
			select {
			case addr = <-ready:
			case err := <-srvErr:
				return err
			}
			acfg := agent.DefaultConfig()
			acfg.Server = "http://" + addr
			acfg.JoinToken = agent.Secret(token)
			acfg.DataDir = filepath.Join(cfg.DataDir, "agent")
			agentErr := make(chan error, 1)
			go func() { agentErr <- runAgent(ctx, acfg, runtimeName, log) }()
			fmt.Fprintf(cfg.Out, "berth is up: control plane at http://%s, this machine joined cluster %q.\n", addr, acfg.Cluster)
			fmt.Fprintf(cfg.Out, "Next: aws ecs list-container-instances --endpoint-url http://%s\n", addr)

			select {
			case err := <-srvErr:
				cancel()
				<-agentErr
				return err
			case err := <-agentErr:
				cancel()
				serr := <-srvErr
				if err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("agent: %w", err)
				}
				return serr
			}
		},
	}
	cfg.DataDir = defaultStateDir()
	serverFlags(cmd, &cfg, &verbose)
	cmd.Flags().StringVar(&runtimeName, "runtime", "", "container runtime for this machine's agent: docker or process (default: docker when an engine answers, else process)")
	return cmd
}
