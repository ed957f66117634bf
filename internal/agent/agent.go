package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
)

// Agent is one host's berth agent. Create it with New and call Run.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	clock    Clock
	client   *client
	reporter *reporter

	mu          sync.Mutex
	ran         bool
	id          identity
	heartbeat   time.Duration
	connected   bool
	tasks       *taskManager
	firstPolled chan struct{} // closed once the first poll was applied

	// fingerprint is the desired state's fingerprint from the last poll
	// applied; only the poll loop touches it.
	fingerprint string
}

// New returns an agent for cfg (zero fields take their defaults). It does no
// I/O.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Agent{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "agent"),
		clock:       cfg.Clock,
		client:      newClient(cfg.Server, cfg.JoinToken, cfg.HTTPClient),
		reporter:    newReporter(),
		heartbeat:   DefaultHeartbeatInterval,
		connected:   true,
		firstPolled: make(chan struct{}),
	}, nil
}

// taskManager returns the task manager (nil before Run registered).
func (a *Agent) taskManager() *taskManager {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tasks
}

// InstanceArn returns the ARN the agent registered as ("" before).
func (a *Agent) InstanceArn() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id.ContainerInstanceArn
}

// Run registers the host, then runs the tasks the server assigns to it
// until ctx ends. It returns nil when ctx ends, leaving every task running:
// the next agent on the same data dir re-adopts them. It returns an error
// when the server refuses the join token (ErrJoinTokenRejected) or the data
// dir or runtime cannot be used. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.ran {
		a.mu.Unlock()
		return errors.New("agent: Run called twice")
	}
	a.ran = true
	a.mu.Unlock()

	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	id, err := loadIdentity(a.cfg.DataDir)
	if err != nil {
		return err
	}
	if id.Cluster != a.cfg.Cluster {
		id.InstanceID, id.ContainerInstanceArn = "", "" // another cluster's instance
	}
	a.mu.Lock()
	a.id = id
	a.mu.Unlock()

	// Before touching anything: what this agent left running last time.
	found, err := a.ownContainers(ctx)
	if err != nil {
		return err
	}
	if err := a.register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shipper := newLogShipper(a.cfg.Runtime, a.clock, a.cfg.Logger, a.cfg.DataDir, a.cfg.LogFlushInterval, a.cfg.LogBatchLines, a.sendLogs)
	shipper.retryMin, shipper.retryMax = a.cfg.RetryMin, a.cfg.RetryMax
	if err := shipper.loadOffsets(); err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, cs := range found {
		for _, c := range cs {
			ids[c.ID] = true
		}
	}
	shipper.keepOnly(ids)
	tasks := newTaskManager(runnerDeps{
		rt: a.cfg.Runtime, clock: a.clock, log: a.cfg.Logger.With("component", "task"),
		cluster: a.cfg.Cluster, agentID: id.AgentID, publish: publishAddr(a.cfg.PublishAddress), interval: a.cfg.StatusInterval,
		retryMin: a.cfg.RetryMin, retryMax: a.cfg.RetryMax,
		report: a.reporter.update, follow: shipper.follow,
	}, found)
	tasks.onFinish = a.reporter.forget
	a.mu.Lock()
	a.tasks = tasks
	a.mu.Unlock()
	jan := &janitor{
		rt: a.cfg.Runtime, clock: a.clock, log: a.cfg.Logger.With("component", "janitor"),
		grace: a.cfg.CleanupGrace, labels: a.ownLabels(), active: a.claimed, onRemove: shipper.forget,
		firstSeen: map[string]time.Time{},
	}

	var wg sync.WaitGroup
	errc := make(chan error, 6)
	for _, loop := range []func(context.Context) error{
		a.pollLoop, a.heartbeatLoop, a.reportLoop, shipper.Run, a.execLoop,
		func(ctx context.Context) error {
			select {
			case <-a.firstPolled:
			case <-ctx.Done():
				return nil
			}
			return jan.Run(ctx)
		},
	} {
		wg.Go(func() {
			if err := loop(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	wg.Wait()
	tasks.wait()
	a.log.Info("agent stopped; tasks keep running and are re-adopted by the next start")
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// claimed reports whether the containers of a task must be kept: a runner
// owns the task (or may still, before the first poll), or the server has not
// acknowledged its final status yet (the exit codes are in the containers,
// and a restarted agent would need them).
func (a *Agent) claimed(taskID string) bool {
	return a.taskManager().active(taskID) || a.reporter.holds(taskID)
}

// ownLabels are the labels of every container this agent creates.
func (a *Agent) ownLabels() map[string]string {
	return map[string]string{runtime.LabelCluster: a.cfg.Cluster, LabelAgent: a.id.AgentID}
}

// ownContainers lists this agent's containers, by task ID.
func (a *Agent) ownContainers(ctx context.Context) (map[string][]runtime.Container, error) {
	cs, err := a.cfg.Runtime.List(ctx, a.ownLabels())
	if err != nil {
		return nil, fmt.Errorf("list containers to re-adopt: %w", err)
	}
	found := map[string][]runtime.Container{}
	for _, c := range cs {
		if id := c.Labels[runtime.LabelTask]; id != "" {
			found[id] = append(found[id], c)
		}
	}
	if len(cs) > 0 {
		a.log.Info("found containers from a previous run", "containers", len(cs), "tasks", len(found))
	}
	return found, nil
}

// attributes are the instance attributes the agent registers.
func (a *Agent) attributes() []ecs.Attribute {
	attrs := []ecs.Attribute{
		{Name: "ecs.os-type", Value: goruntime.GOOS},
		{Name: "ecs.cpu-architecture", Value: cpuArchitecture(goruntime.GOARCH)},
		{Name: "berth.runtime", Value: a.cfg.RuntimeName},
	}
	if a.cfg.AvailabilityZone != "" {
		attrs = append(attrs, ecs.Attribute{Name: "ecs.availability-zone", Value: a.cfg.AvailabilityZone})
	}
	for _, u := range a.cfg.Attributes {
		attrs = slices.DeleteFunc(attrs, func(x ecs.Attribute) bool { return x.Name == u.Name })
		attrs = append(attrs, ecs.Attribute{Name: u.Name, Value: u.Value})
	}
	return attrs
}

// cpuArchitecture names GOARCH as ECS's ecs.cpu-architecture does.
func cpuArchitecture(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	}
	return goarch
}

// register registers (or re-registers) the instance, retrying with backoff
// until the server takes it, and saves the identity. It gives up only when
// the server refuses the join token or the registration itself as invalid
// (permanent), or ctx ends.
func (a *Agent) register(ctx context.Context) error {
	bo := backoff{min: a.cfg.RetryMin, max: a.cfg.RetryMax}
	for {
		a.mu.Lock()
		req := &agent.RegisterRequest{
			Cluster: a.cfg.Cluster, InstanceID: a.id.InstanceID, Hostname: a.cfg.Hostname,
			CPU: a.cfg.CPU, Memory: a.cfg.Memory, Attributes: a.attributes(), AgentVersion: a.cfg.AgentVersion,
		}
		a.mu.Unlock()
		out, err := a.client.register(ctx, req)
		if err == nil {
			a.mu.Lock()
			id := a.id
			a.mu.Unlock()
			id.Cluster, id.InstanceID, id.ContainerInstanceArn = out.Cluster, out.InstanceID, out.ContainerInstanceArn
			if err := saveIdentity(a.cfg.DataDir, id); err != nil {
				return err
			}
			a.mu.Lock()
			a.id = id
			if out.HeartbeatIntervalMs > 0 {
				a.heartbeat = time.Duration(out.HeartbeatIntervalMs) * time.Millisecond
			}
			a.mu.Unlock()
			a.log.Info("registered", "container_instance", out.ContainerInstanceArn, "cluster", out.Cluster,
				"reused", req.InstanceID != "" && req.InstanceID == out.InstanceID)
			a.setConnected(true)
			return nil
		}
		if errors.Is(err, ErrJoinTokenRejected) || permanent(err) || ctx.Err() != nil {
			return fmt.Errorf("register: %w", err)
		}
		a.callDone(ctx, err)
		d := bo.next()
		a.log.Warn("register failed; retrying", "err", err, "retry_in", d)
		if sleep(ctx, a.clock, d) != nil {
			return ctx.Err()
		}
	}
}

// instance returns the cluster and instance ID to speak for.
func (a *Agent) instance() (cluster, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id.Cluster, a.id.InstanceID
}

// setConnected records whether the last call reached the server; on a
// reconnect every task's status is sent again.
func (a *Agent) setConnected(ok bool) {
	a.mu.Lock()
	was := a.connected
	a.connected = ok
	a.mu.Unlock()
	switch {
	case ok && !was:
		a.log.Info("server reachable again; reporting every task's status")
		a.reporter.resendAll()
	case !ok && was:
		a.log.Warn("server unreachable; tasks keep running, status is reported on reconnect")
	}
}

// callDone records whether a call reached the server (see reached). A call
// cut short by ctx, or not made for want of an instance ID, says nothing.
func (a *Agent) callDone(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, errNotRegistered) {
		return
	}
	a.setConnected(reached(err))
}

// pollLoop long-polls for the desired tasks and applies each answer. It
// never polls without an instance ID: after a deregistration it registers
// again first (register retries until the server takes it).
func (a *Agent) pollLoop(ctx context.Context) error {
	var rev int64
	bo := backoff{min: a.cfg.RetryMin, max: a.cfg.RetryMax}
	for {
		if _, id := a.instance(); id == "" {
			if err := a.register(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			rev = 0
		}
		next, err := a.pollOnce(ctx, rev)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrJoinTokenRejected) {
			return err
		}
		if err != nil {
			d := bo.next()
			a.log.Debug("poll failed; retrying", "err", err, "retry_in", d)
			if sleep(ctx, a.clock, d) != nil {
				return nil
			}
			continue
		}
		bo.reset()
		rev = next
	}
}

// pollOnce is one poll: it applies the answer and returns the revision to
// poll after.
func (a *Agent) pollOnce(ctx context.Context, rev int64) (int64, error) {
	cluster, id := a.instance()
	resp, err := a.client.poll(ctx, &agent.PollRequest{Cluster: cluster, InstanceID: id, AfterRevision: rev,
		WaitSeconds: pollWaitSeconds(a.cfg.PollWait), Fingerprint: a.fingerprint})
	a.callDone(ctx, err)
	if err != nil {
		return rev, err
	}
	if resp.Deregistered {
		a.log.Warn("the container instance was deregistered: stopping every task and registering again", "instance", id)
		a.tasks.stopAll("", reasonDeregistered)
		a.mu.Lock()
		a.id.InstanceID, a.id.ContainerInstanceArn = "", ""
		a.mu.Unlock()
		a.fingerprint = ""
		return 0, nil // pollLoop registers again before the next poll
	}
	a.tasks.apply(ctx, resp.Tasks)
	a.fingerprint = resp.Fingerprint
	select {
	case <-a.firstPolled:
	default:
		close(a.firstPolled)
	}
	return resp.Revision, nil
}

// pollWaitSeconds is the WaitSeconds of a poll: PollWait in whole seconds,
// at least 1 (0 would make the server answer at once, and the agent poll in
// a tight loop).
func pollWaitSeconds(d time.Duration) int {
	return max(int(d/time.Second), 1)
}

// heartbeatLoop tells the server the agent is alive, at the interval it
// asked for.
func (a *Agent) heartbeatLoop(ctx context.Context) error {
	for {
		a.mu.Lock()
		d := a.heartbeat
		a.mu.Unlock()
		if sleep(ctx, a.clock, d) != nil {
			return nil
		}
		cluster, id := a.instance()
		if id == "" {
			continue // registering again; the registration counts as one
		}
		err := a.client.heartbeat(ctx, &agent.HeartbeatRequest{Cluster: cluster, InstanceID: id})
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrJoinTokenRejected) {
			return err
		}
		a.callDone(ctx, err)
		if err != nil {
			a.log.Debug("heartbeat failed", "err", err)
		}
	}
}

// reportLoop sends task status changes until the server acknowledges them.
func (a *Agent) reportLoop(ctx context.Context) error {
	bo := backoff{min: a.cfg.RetryMin, max: a.cfg.RetryMax}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.reporter.wake:
		}
		for {
			err := a.reportOnce(ctx)
			if err == nil {
				bo.reset()
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrJoinTokenRejected) {
				return err
			}
			d := bo.next()
			a.log.Debug("status report failed; retrying", "err", err, "retry_in", d)
			if sleep(ctx, a.clock, d) != nil {
				return nil
			}
		}
	}
}

// reportOnce sends what waits in the reporter, if anything. A failed
// report is kept whole for the next attempt: the server never moves a task
// backwards, so a report it applied in part is safe to send again.
func (a *Agent) reportOnce(ctx context.Context) error {
	batch, versions := a.reporter.pending()
	if len(batch) == 0 {
		return nil
	}
	cluster, id := a.instance()
	if id == "" {
		return errNotRegistered
	}
	return a.sendReport(ctx, cluster, id, batch, versions)
}

// sendReport sends one batch of task status and records what the server
// acknowledged. A batch the server refuses as invalid (permanent) is split
// in halves until the statuses it refuses are alone; only those are
// dropped, so one bad status never costs the others.
func (a *Agent) sendReport(ctx context.Context, cluster, id string, batch []agent.TaskStatus, versions map[string]uint64) error {
	resp, err := a.client.status(ctx, &agent.StatusReport{Cluster: cluster, InstanceID: id, Tasks: batch})
	a.callDone(ctx, err)
	switch {
	case err == nil:
	case permanent(err) && len(batch) > 1:
		half := len(batch) / 2
		if err := a.sendReport(ctx, cluster, id, batch[:half], versions); err != nil {
			return err
		}
		return a.sendReport(ctx, cluster, id, batch[half:], versions)
	case permanent(err):
		a.log.Error("the server refuses this task status; dropping it", "task", batch[0].TaskArn,
			"last_status", batch[0].LastStatus, "err", err)
		a.reporter.acked(versionsOf(batch, versions), nil)
		return nil
	default:
		return err
	}
	// Mark unknown tasks dropped before stopping their runners, so that a
	// runner finishing meanwhile clears the mark (reporter.forget).
	a.reporter.acked(versionsOf(batch, versions), resp.Unknown)
	if len(resp.Unknown) > 0 {
		a.log.Warn("the server does not know some reported tasks: stopping them", "tasks", resp.Unknown)
		for _, arn := range a.tasks.stop(resp.Unknown, "", reasonUnknown) {
			a.reporter.forget(arn) // no runner left to report it again
		}
	}
	return nil
}

// versionsOf returns the versions of the statuses in batch.
func versionsOf(batch []agent.TaskStatus, versions map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(batch))
	for _, ts := range batch {
		out[ts.TaskArn] = versions[ts.TaskArn]
	}
	return out
}

// sendLogs ships a batch of container output. A batch the server refuses
// as invalid is dropped (and logged); any other failure is returned, for
// the shipper to retry.
func (a *Agent) sendLogs(ctx context.Context, streams []agent.LogStream) error {
	cluster, id := a.instance()
	if id == "" {
		return errNotRegistered
	}
	err := a.client.logs(ctx, &agent.LogBatch{Cluster: cluster, InstanceID: id, Streams: streams})
	if permanent(err) {
		a.log.Error("container output refused; dropping it", "err", err)
		return nil
	}
	return err
}

// publishAddr parses a validated Config.PublishAddress ("" gives the
// invalid Addr: the runtime's default).
func publishAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
