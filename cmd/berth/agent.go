package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/agent"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/docker"
	"github.com/berth-io/berth/internal/runtime/process"
)

// joinTokenEnv is where the agent looks for its join token when
// --join-token is not given.
const joinTokenEnv = "BERTH_JOIN_TOKEN"

func newAgentCmd() *cobra.Command {
	cfg := agent.DefaultConfig()
	var (
		joinToken   string
		runtimeName string
		attributes  []string
		verbose     bool
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: register this host with a berth server and run the tasks placed on it",
		Long: `Run the agent: register this host as a container instance of a cluster and
run the tasks the server places on it, reporting their status and shipping
their output.

Stopping the agent (Ctrl-C, SIGTERM) does NOT stop its tasks: they keep
running, and the next agent started on the same --data-dir re-adopts them
without restarting any. To stop the tasks, stop them through the API (or
deregister the instance) before stopping the agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(verbose)
			ctx := cmd.Context()
			if joinToken == "" {
				joinToken = os.Getenv(joinTokenEnv)
			}
			if joinToken == "" { // checked before the runtime is opened
				return fmt.Errorf("--join-token: required (or set %s); the server prints it at start", joinTokenEnv)
			}
			cfg.JoinToken = agent.Secret(joinToken)
			attrs, err := parseAttributes(attributes)
			if err != nil {
				return err
			}
			cfg.Attributes = attrs
			return runAgent(ctx, cfg, runtimeName, log)
		},
	}
	cfg.DataDir = filepath.Join(defaultStateDir(), "agent")
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", cfg.Server, "URL of the berth server's API")
	f.StringVar(&joinToken, "join-token", "", "join token the server printed at start (default $"+joinTokenEnv+")")
	f.StringVar(&cfg.Cluster, "cluster", cfg.Cluster, "cluster to join; created if it does not exist")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the agent's identity and state; keep it across restarts to re-adopt running tasks")
	f.StringVar(&runtimeName, "runtime", "", "container runtime: docker or process (default: docker when an engine answers, else process)")
	f.StringVar(&cfg.Hostname, "hostname", "", "host name reported for the instance (default: this host's name)")
	f.StringVar(&cfg.AvailabilityZone, "availability-zone", "", "value of the instance's ecs.availability-zone attribute")
	f.StringVar(&cfg.PublishAddress, "publish-address", "", "host address task ports bind and report (default 127.0.0.1; on a fleet, this host's address the server can reach, so the load balancer reaches its tasks)")
	f.StringArrayVar(&attributes, "attribute", nil, "instance attribute as key=value (repeatable)")
	f.Int32Var(&cfg.CPU, "cpu", 0, "CPU units to offer, 1024 per core (default: 1024 × this host's cores)")
	f.Int32Var(&cfg.Memory, "memory", 0, "memory to offer, in MiB (default: this host's RAM minus a reserve for the system)")
	f.DurationVar(&cfg.CleanupGrace, "cleanup-grace", cfg.CleanupGrace, "how long to keep the exited containers of stopped tasks (for debugging) before removing them")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every status change and retry")
	return cmd
}

// runAgent runs the agent of this host until ctx ends.
func runAgent(ctx context.Context, cfg agent.Config, runtimeName string, log *slog.Logger) error {
	a, _, closeRT, err := newHostAgent(ctx, cfg, runtimeName, log)
	if err != nil {
		return err
	}
	defer closeRT()
	return a.Run(ctx)
}

// newHostAgent fills what cfg leaves to the host (name, CPU, memory), opens
// the runtime and builds the agent. It returns the runtime's name and how
// to close it once the agent is done. berth agent and berth up share it.
func newHostAgent(ctx context.Context, cfg agent.Config, runtimeName string, log *slog.Logger) (*agent.Agent, string, func(), error) {
	var err error
	if cfg.Hostname == "" {
		if cfg.Hostname, err = os.Hostname(); err != nil {
			return nil, "", nil, fmt.Errorf("--hostname: cannot read the host name (%w); set it", err)
		}
	}
	if cfg.CPU == 0 {
		cfg.CPU = int32(1024 * goruntime.NumCPU())
	}
	if cfg.Memory == 0 {
		if cfg.Memory, err = hostMemoryMiB(); err != nil {
			return nil, "", nil, fmt.Errorf("--memory: %w; set it", err)
		}
	}
	rt, name, closeRT, err := openRuntime(ctx, runtimeName, cfg.DataDir, log)
	if err != nil {
		return nil, "", nil, err
	}
	cfg.Runtime, cfg.RuntimeName = rt, name
	cfg.Logger = log
	a, err := agent.New(cfg)
	if err != nil {
		closeRT()
		return nil, "", nil, err
	}
	log.Info("starting agent", "server", cfg.Server, "cluster", cfg.Cluster, "runtime", name,
		"cpu", cfg.CPU, "memory_mib", cfg.Memory, "data_dir", cfg.DataDir)
	return a, name, closeRT, nil
}

// parseAttributes turns key=value flags into attributes.
func parseAttributes(kvs []string) ([]ecs.Attribute, error) {
	var out []ecs.Attribute
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--attribute: %q is not key=value", kv)
		}
		out = append(out, ecs.Attribute{Name: k, Value: v})
	}
	return out, nil
}

// openRuntime opens the runtime name says; "" picks docker when an engine
// answers, else process. It returns the runtime, its name and how to close
// it (containers keep running after the close).
func openRuntime(ctx context.Context, name, dataDir string, log *slog.Logger) (runtime.Runtime, string, func(), error) {
	switch name {
	case agent.RuntimeDocker, "":
		d, err := docker.New(docker.Config{Logger: log})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = d.Ping(pctx)
			cancel()
			if err == nil {
				return d, agent.RuntimeDocker, func() { _ = d.Close() }, nil
			}
			_ = d.Close()
		}
		if name == agent.RuntimeDocker {
			return nil, "", nil, fmt.Errorf("--runtime docker: %w", err)
		}
		log.Info("no Docker engine answers; using the process runtime", "reason", err)
		fallthrough
	case agent.RuntimeProcess:
		p, err := process.New(process.Config{DataDir: filepath.Join(dataDir, "process"), Logger: log})
		if err != nil {
			return nil, "", nil, fmt.Errorf("--runtime process: %w", err)
		}
		return p, agent.RuntimeProcess, func() { _ = p.Close() }, nil
	default:
		return nil, "", nil, fmt.Errorf("--runtime: %q is not docker or process", name)
	}
}

// hostMemoryMiB is the memory the agent offers by default: MemTotal from
// /proc/meminfo, less a reserve for the system and the agent (5%, at least
// 256 MiB, at most half).
func hostMemoryMiB() (int32, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("cannot read the host's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot read the host's memory: MemTotal %q: %w", rest, err)
		}
		total := kb / 1024
		reserve := min(max(total/20, 256), total/2)
		return int32(min(total-reserve, 1<<31-1)), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("cannot read the host's memory: %w", err)
	}
	return 0, errors.New("cannot read the host's memory: no MemTotal in /proc/meminfo")
}
