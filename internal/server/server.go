// Package server wires berth's control plane together: the store, the API
// services and the protocol edge, behind one listener. cmd/berth parses
// flags into a Config and calls Run; tests call it in-process.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/agentapi"
	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/clusterstate"
	"github.com/berth-io/berth/internal/controller"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/elbv2api"
	"github.com/berth-io/berth/internal/execbroker"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/logsapi"
	"github.com/berth-io/berth/internal/logstore"
	"github.com/berth-io/berth/internal/store/bolt"
	"github.com/berth-io/berth/internal/targets"
)

// Config is berth server's configuration. Field comments are the user docs
// of the matching flags.
type Config struct {
	// Listen is the API address (--listen). Default 127.0.0.1:7700: only
	// this machine can reach it unless told otherwise.
	Listen string
	// DataDir holds the state database and generated credentials (--data-dir).
	DataDir string
	// Region goes into ARNs and is the region clients sign for (--region).
	Region string
	// AccountID is the 12-digit account in ARNs (--account-id).
	AccountID string
	// InsecureNoAuth serves the API without signature checks (--insecure-no-auth).
	InsecureNoAuth bool
	// Getenv reads the environment (credentials); nil means os.Getenv.
	Getenv func(string) string
	// Out receives the start-up banner (endpoint, credentials to export).
	Out io.Writer
	// Logger; nil discards.
	Logger *slog.Logger
	// Ready, if set, is called with the bound address once serving.
	Ready func(addr string)
	// HeartbeatTimeout is how long an agent may stay silent before its
	// instance shows agentConnected false (--heartbeat-timeout).
	HeartbeatTimeout time.Duration
	// StoppedTaskRetention is how long STOPPED tasks stay describable
	// (--stopped-task-retention).
	StoppedTaskRetention time.Duration
	// LBBindAddress is the address internet-facing load balancers'
	// listeners bind (--lb-bind-address); default 127.0.0.1. Internal
	// load balancers always bind 127.0.0.1.
	LBBindAddress string
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:7700"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
	// DefaultStoppedTaskRetention keeps stopped tasks describable for an
	// hour, as ECS does.
	DefaultStoppedTaskRetention = time.Hour
)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)

// Validate checks the config; errors name the flag.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("--data-dir: required")
	}
	if !accountRE.MatchString(c.AccountID) {
		return fmt.Errorf("--account-id: %q is not 12 digits", c.AccountID)
	}
	if !regionRE.MatchString(c.Region) {
		return fmt.Errorf("--region: %q is not a region name like us-east-1", c.Region)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if c.HeartbeatTimeout < 0 {
		return errors.New("--heartbeat-timeout: must not be negative")
	}
	if c.StoppedTaskRetention < 0 {
		return errors.New("--stopped-task-retention: must not be negative")
	}
	if c.LBBindAddress != "" && net.ParseIP(c.LBBindAddress) == nil {
		return fmt.Errorf("--lb-bind-address: %q is not an IP address", c.LBBindAddress)
	}
	return nil
}

// Run serves until ctx ends, then shuts down cleanly (in-flight requests
// finish, the store is closed).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = agentapi.DefaultHeartbeatTimeout
	}
	if cfg.StoppedTaskRetention == 0 {
		cfg.StoppedTaskRetention = DefaultStoppedTaskRetention
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}

	// A watcher must hold a whole group commit's events (up to 16,384), or
	// the cluster index would be dropped and re-list on every bulk write.
	st, err := bolt.Open(filepath.Join(cfg.DataDir, "state.db"), bolt.Options{WatchBuffer: 16384})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	logSt, err := logstore.Open(filepath.Join(cfg.DataDir, "logs.db"), logstore.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open log store: %w", err)
	}
	defer logSt.Close()
	logsSvc := logsapi.New(logsapi.Config{Store: logSt, Region: cfg.Region, AccountID: cfg.AccountID, Logger: log})

	// The in-memory cluster index serves the read-only scans (counts, the
	// agents' desired tasks, the controller's view of a cluster).
	index := clusterstate.New(st, log)
	indexCtx, stopIndex := context.WithCancel(ctx)
	defer stopIndex()
	go func() {
		if err := index.Run(indexCtx); err != nil {
			log.Error("cluster index stopped; reads fall back to the store", "err", err)
		}
	}()
	execSessions := execbroker.New(execbroker.Config{Logger: log})
	defer execSessions.Close()
	// The load balancer's data plane runs in this process; the ELBv2 API
	// configures it.
	dataPlane := lb.New(lb.Options{Logger: log.With("component", "lb")})
	defer dataPlane.Close()
	elbSvc := elbv2api.New(elbv2api.Config{Store: st, Region: cfg.Region, AccountID: cfg.AccountID,
		BindAddress: cfg.LBBindAddress, Health: dataPlane, Logger: log})
	ecsSvc := ecsapi.New(ecsapi.Config{Store: st, Region: cfg.Region, AccountID: cfg.AccountID, Logger: log.With("component", "ecs"), Cache: index,
		TargetGroups: targetGroupChecker{elbSvc}, Exec: execSessions})
	edgeCfg := apiserver.Config{
		NoAuth: cfg.InsecureNoAuth,
		JSON: []*awsjson.Service{
			{TargetPrefix: ecs.TargetPrefix, Ops: ecsSvc.Ops()},
			{TargetPrefix: logs.TargetPrefix, Ops: logsSvc.Ops()},
		},
		Query:  []apiserver.QueryService{elbSvc.Query()},
		Logger: log,
	}
	var creds Credentials
	if !cfg.InsecureNoAuth {
		var created bool
		creds, created, err = LoadOrCreateCredentials(cfg.DataDir, cfg.Getenv)
		if err != nil {
			return err
		}
		if created {
			log.Info("generated API credentials", "file", filepath.Join(cfg.DataDir, credentialsFile))
		}
		edgeCfg.Auth = newAuthenticator(creds, cfg.Region)
	}
	edge, err := apiserver.New(edgeCfg)
	if err != nil {
		return err
	}
	joinToken, err := LoadOrCreateJoinToken(cfg.DataDir, cfg.Getenv)
	if err != nil {
		return err
	}
	agents, err := agentapi.New(agentapi.Config{
		JoinToken:        joinToken,
		Records:          ecsSvc,
		Store:            st,
		Logs:             logSink{logSt},
		Exec:             execSessions,
		HeartbeatTimeout: cfg.HeartbeatTimeout,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	if err := agents.Tracker().Load(ctx, st); err != nil {
		return fmt.Errorf("load agent liveness: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/agent/", agents)
	mux.Handle(exec.SessionPath, execSessions)
	mux.Handle("/", execbroker.WithRequestBase(edge))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	// Requests run under reqCtx, cancelled when shutdown starts, so agents'
	// long-polls end at once instead of holding Shutdown for their wait.
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           mux,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(cfg.Out, addr, cfg.Region, creds, cfg.InsecureNoAuth)
	fmt.Fprintf(cfg.Out, "join token: %s\n", joinToken)
	fmt.Fprintf(cfg.Out, "  (agents join with: berth agent --server http://%s --join-token %s)\n\n", addr, joinToken)
	log.Info("serving", "addr", addr, "data_dir", cfg.DataDir, "auth", !cfg.InsecureNoAuth)

	loops, stopLoops := context.WithCancel(ctx)
	// The loops end before the deferred closes of the stores and the data
	// plane run (defers run last-in first-out).
	var loopsDone sync.WaitGroup
	defer func() {
		stopLoops()
		loopsDone.Wait()
	}()
	// Check liveness four times per timeout, so a silent agent is noticed
	// within timeout + timeout/4, not a whole extra tick later.
	loopsDone.Go(func() { _ = agents.Tracker().Run(loops, max(cfg.HeartbeatTimeout/4, 100*time.Millisecond)) })
	loopsDone.Go(func() { sweepStoppedTasks(loops, ecsSvc, cfg.StoppedTaskRetention, log) })
	// Restore the listeners before anything else runs, so a restart
	// serves again at once; Run keeps the data plane in step after.
	if err := elbSvc.Sync(ctx, dataPlane); err != nil {
		log.Error("restore load balancers", "err", err)
	}
	loopsDone.Go(func() { _ = dataPlane.Run(loops) })
	loopsDone.Go(func() { _ = elbSvc.Run(loops, dataPlane) })
	var services *controller.Services
	tgts := targets.New(targets.Config{ECS: ecsSvc, ELB: elbTargets{elbSvc}, DataPlane: dataPlane, Store: st,
		Kick: func() { services.Kick() }, Logger: log})
	services = controller.New(controller.Config{ECS: ecsSvc, Store: st, Logger: log, Targets: tgts})
	loopsDone.Go(func() { _ = services.Run(loops) })
	loopsDone.Go(func() { _ = tgts.Run(loops) })
	loopsDone.Go(func() { _ = logSt.Run(loops) })

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	cancelRequests()
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// sweepStoppedTasks deletes STOPPED tasks older than the retention, once a
// minute (or every retention/10 when that is shorter).
func sweepStoppedTasks(ctx context.Context, svc *ecsapi.Service, retention time.Duration, log *slog.Logger) {
	every := min(time.Minute, max(retention/10, time.Second))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			n, err := svc.SweepStoppedTasks(ctx, now.Add(-retention).Unix())
			if err != nil {
				log.Warn("sweep stopped tasks", "err", err)
			} else if n > 0 {
				log.Info("swept stopped tasks", "deleted", n, "retention", retention)
			}
		}
	}
}

func printBanner(w io.Writer, addr, region string, c Credentials, noAuth bool) {
	endpoint := "http://" + addr
	fmt.Fprintf(w, "berth server listening on %s\n", endpoint)
	if noAuth {
		fmt.Fprintln(w, "WARNING: --insecure-no-auth: API requests are NOT authenticated; anyone who can reach", endpoint, "controls this cluster.")
		fmt.Fprintf(w, "\n  aws ecs list-clusters --endpoint-url %s --region %s --no-sign-request\n\n", endpoint, region)
		return
	}
	fmt.Fprintf(w, "\nTo use it with the aws CLI or an AWS SDK:\n\n")
	fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=%s\n", c.AccessKeyID)
	fmt.Fprintf(w, "  export AWS_SECRET_ACCESS_KEY=%s\n", c.SecretAccessKey)
	fmt.Fprintf(w, "  export AWS_DEFAULT_REGION=%s\n", region)
	fmt.Fprintf(w, "  export AWS_ENDPOINT_URL=%s\n", endpoint)
	fmt.Fprintf(w, "  aws ecs list-clusters --endpoint-url %s\n\n", endpoint)
}
