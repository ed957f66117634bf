package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/agentapi"
	"github.com/berth-io/berth/internal/server"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth: ECS-compatible container platform on your own machines",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCmd(), newUpCmd(), newAgentCmd(), newDemoAppCmd())
	root.AddCommand(clientCommands()...)
	root.AddCommand(newExecCmd())
	return root
}

// serverFlags binds the flags shared by `berth server` and `berth up`.
func serverFlags(cmd *cobra.Command, cfg *server.Config, verbose *bool) {
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", server.DefaultListen, "API listen address (host:port); 127.0.0.1 keeps it on this machine")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the state database and generated credentials")
	f.StringVar(&cfg.Region, "region", server.DefaultRegion, "region in ARNs and in the clients' signing scope")
	f.StringVar(&cfg.AccountID, "account-id", server.DefaultAccountID, "12-digit account ID in ARNs")
	f.BoolVar(&cfg.InsecureNoAuth, "insecure-no-auth", false, "serve the API WITHOUT signature checks (anyone who can reach it controls the cluster)")
	f.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", agentapi.DefaultHeartbeatTimeout, "mark an agent disconnected after this long without a heartbeat")
	f.DurationVar(&cfg.StoppedTaskRetention, "stopped-task-retention", server.DefaultStoppedTaskRetention, "how long STOPPED tasks stay describable")
	f.StringVar(&cfg.LBBindAddress, "lb-bind-address", "127.0.0.1", "address the listeners of internet-facing load balancers bind (internal ones always bind 127.0.0.1)")
	f.BoolVarP(verbose, "verbose", "v", false, "log every request")
}

func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newServerCmd() *cobra.Command {
	var cfg server.Config
	var verbose bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: the ECS API and the durable state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			cfg.Logger = newLogger(verbose)
			return server.Run(cmd.Context(), cfg)
		},
	}
	cfg.DataDir = "berth-data"
	serverFlags(cmd, &cfg, &verbose)
	return cmd
}

// defaultStateDir is where `berth up` keeps its cluster: $XDG_STATE_HOME/berth,
// else ~/.local/state/berth.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "berth")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "berth")
	}
	return "berth-data"
}
