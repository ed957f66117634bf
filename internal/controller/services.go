package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Config configures the Services reconciler.
type Config struct {
	// ECS reads the records and applies the decisions.
	ECS *ecsapi.Service
	// Store is watched for changes to services, tasks and instances.
	Store store.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Debounce is how long Run waits after a change for more changes
	// before it reconciles (default 50 ms).
	Debounce time.Duration
	// Resync is the longest Run goes without reconciling (default 1 s), so
	// timers (restart delays, lost instances) and anything a watch missed
	// are picked up.
	Resync time.Duration
	// LostAfter is how long Steps must have seen an instance's agent
	// disconnected before its tasks are marked STOPPED (default 500 ms, on
	// top of the agent tracker's heartbeat timeout; always at least one
	// Step after the first that saw it).
	LostAfter time.Duration
	// Policy tunes the plan; zero members take DefaultPolicy's.
	Policy Policy
	// Targets, when set, tells how the load balancer sees the tasks of
	// services with loadBalancers (nil: no load balancer; such tasks are
	// never healthy).
	Targets TargetHealthSource
}

// TargetHealthSource tells how target groups see the tasks of a service
// with loadBalancers.
type TargetHealthSource interface {
	// TargetHealth returns, by task ARN, the health of svc's tasks in its
	// target groups.
	TargetHealth(svc *ecs.Service, tasks []*ecs.Task) map[string]TargetHealth
}

// Services is the service reconciler: it keeps every ECS service's tasks as
// its record asks (see Plan) and marks STOPPED the tasks of container
// instances that lost contact (see PlanLost). Run drives it; tests call
// Step.
type Services struct {
	ecs       *ecsapi.Service
	st        store.Store
	now       func() time.Time
	log       *slog.Logger
	debounce  time.Duration
	resync    time.Duration
	lostAfter time.Duration
	policy    Policy
	targets   TargetHealthSource
	// kick asks Run for a Step now (see Kick).
	kick chan struct{}

	// stepMu makes Steps one at a time and guards the fields below.
	stepMu sync.Mutex
	// seen is, by cluster and instance ARN, when a Step first saw the
	// instance's agent disconnected.
	seen map[string]map[string]time.Time
	// wake is the earliest time the last Step's plans asked to run again.
	wake time.Time
	// completed is, by cluster and service name, the service's last
	// deployment seen COMPLETED: what a circuit breaker rollback goes back
	// to once that deployment has left the record. It is memory only (the
	// service record has no member for it): after a restart, only a
	// COMPLETED deployment still in the record is known.
	completed map[string]map[string]Completed
}

// New returns the reconciler configured by cfg.
func New(cfg Config) *Services {
	c := &Services{ecs: cfg.ECS, st: cfg.Store, now: cfg.Now, log: cfg.Logger, debounce: cfg.Debounce,
		resync: cfg.Resync, lostAfter: cfg.LostAfter, policy: cfg.Policy, seen: map[string]map[string]time.Time{},
		completed: map[string]map[string]Completed{}, targets: cfg.Targets, kick: make(chan struct{}, 1)}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "controller")
	if c.debounce <= 0 {
		c.debounce = 50 * time.Millisecond
	}
	if c.resync <= 0 {
		c.resync = time.Second
	}
	if c.lostAfter <= 0 {
		c.lostAfter = 500 * time.Millisecond
	}
	return c
}

// Run reconciles until ctx ends: after every change to services, tasks or
// container instances (debounced), at least every Resync, and when a plan's
// timer runs out. A Step's error is logged and the next Step tries again;
// Run returns nil when ctx ends.
func (c *Services) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := c.runWatching(ctx)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch ended; watching again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(c.debounce):
		}
	}
	return nil
}

// errWatchLost says a watch channel closed while Run still wanted it: the
// watcher fell behind (or the store closed) and events may be missed.
var errWatchLost = errors.New("controller: store watch closed")

// runWatching watches the store from its current revision and reconciles
// until ctx ends or a watch is lost.
func (c *Services) runWatching(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	rev, err := c.st.Revision(ctx)
	if err != nil {
		return fmt.Errorf("read store revision: %w", err)
	}
	changed := make(chan struct{}, 1)
	lost := make(chan struct{}, 1)
	for _, prefix := range []string{state.ServicesPrefix, state.TasksPrefix, state.InstancesPrefix} {
		ch, err := c.st.Watch(wctx, prefix, rev)
		if err != nil {
			return fmt.Errorf("watch %s: %w", prefix, err)
		}
		wg.Go(func() {
			for range ch {
				signal(changed)
			}
			if wctx.Err() == nil {
				signal(lost)
			}
		})
	}
	timer := time.NewTimer(0) // reconcile once at the start
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			return errWatchLost
		case <-c.kick:
		case <-changed:
			if !sleep(ctx, c.debounce) {
				return nil
			}
			select { // changes meanwhile are covered by this Step
			case <-changed:
			default:
			}
		case <-timer.C:
		}
		c.stepLogged(ctx)
		timer.Reset(c.nextDelay())
	}
}

// Kick asks Run for a Step as soon as possible: something the store does
// not hold changed (a target's health).
func (c *Services) Kick() { signal(c.kick) }

// stepLogged runs a Step and logs its error.
func (c *Services) stepLogged(ctx context.Context) {
	if err := c.Step(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("reconcile", "err", err)
	}
}

// nextDelay is how long until the next Step is due: Resync, or sooner if a
// plan's timer runs out first (but not sooner than Debounce).
func (c *Services) nextDelay() time.Duration {
	c.stepMu.Lock()
	wake := c.wake
	c.stepMu.Unlock()
	d := c.resync
	if !wake.IsZero() {
		d = min(d, max(wake.Sub(c.now()), c.debounce))
	}
	return d
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Step reconciles every ACTIVE cluster once: the instance health sweep,
// then every service. An error in one cluster or service does not keep
// the others from being reconciled; all errors are returned together.
func (c *Services) Step(ctx context.Context) error {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	c.wake = time.Time{}
	clusters, err := c.ecs.ActiveClusters(ctx)
	if err != nil {
		return fmt.Errorf("list clusters: %w", err)
	}
	seen := map[string]map[string]time.Time{}
	completed := map[string]map[string]Completed{}
	var errs []error
	for _, name := range clusters {
		seen[name] = c.seen[name]
		completed[name] = map[string]Completed{}
		if err := c.stepClusterLocked(ctx, name, seen, completed[name]); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", name, err))
		}
	}
	c.seen = seen
	c.completed = completed
	return errors.Join(errs...)
}

// wakeAtLocked keeps the earliest wake time asked for.
func (c *Services) wakeAtLocked(t time.Time) {
	if !t.IsZero() && (c.wake.IsZero() || t.Before(c.wake)) {
		c.wake = t
	}
}

// stepClusterLocked reconciles one cluster. c.stepMu must be held.
// completed collects the services' last COMPLETED deployments (see
// Services.completed).
func (c *Services) stepClusterLocked(ctx context.Context, cluster string, seen map[string]map[string]time.Time, completed map[string]Completed) error {
	now := c.now()
	snap, err := c.ecs.ReadCluster(ctx, cluster)
	if err != nil {
		return err
	}
	lost, next, wake := PlanLost(now, snap.Instances, snap.Tasks, c.seen[cluster], c.lostAfter)
	seen[cluster] = next
	c.wakeAtLocked(wake)
	var errs []error
	marked := 0
	lostEvents := map[string][]string{} // by service name
	for _, l := range lost {
		stopped, err := c.ecs.MarkTasksLost(ctx, cluster, l.ID, l.Reason)
		if err != nil {
			errs = append(errs, fmt.Errorf("mark tasks of instance %s lost: %w", l.ID, err))
			continue
		}
		if len(stopped) > 0 {
			c.log.Info("tasks stopped with their container instance", "cluster", cluster, "instance", l.ID, "tasks", len(stopped), "reason", l.Reason)
		}
		marked += len(stopped)
		byService := map[string][]ecs.Task{}
		var names []string
		for _, t := range stopped {
			if name, ok := ecsapi.ServiceOfTask(&t); ok {
				if byService[name] == nil {
					names = append(names, name)
				}
				byService[name] = append(byService[name], t)
			}
		}
		for _, name := range names {
			lostEvents[name] = append(lostEvents[name], lostEvent(name, l, byService[name]))
		}
	}
	if marked > 0 {
		if snap, err = c.ecs.ReadCluster(ctx, cluster); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	idx := indexCluster(snap)
	for _, svc := range snap.Services {
		if svc.Status == serviceInactive {
			continue
		}
		last, ok := c.completed[cluster][svc.ServiceName]
		if d := lastCompleted(svc); d != nil {
			last, ok = *d, true
		}
		if ok {
			completed[svc.ServiceName] = last
		}
		in, err := c.input(now, snap, idx, svc)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", svc.ServiceName, err))
			continue
		}
		if ok {
			in.LastCompleted = &last
		}
		out := Plan(in)
		c.wakeAtLocked(out.Wake)
		if err := c.apply(ctx, cluster, svc, out, lostEvents[svc.ServiceName]); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", svc.ServiceName, err))
		}
	}
	return errors.Join(errs...)
}

// lastCompleted returns the newest COMPLETED deployment of svc's record.
func lastCompleted(svc *ecs.Service) *Completed {
	var best *ecs.Deployment
	for i := range svc.Deployments {
		d := &svc.Deployments[i]
		if d.RolloutState == ecs.DeploymentRolloutStateCOMPLETED && (best == nil || timeOf(d.CreatedAt).After(timeOf(best.CreatedAt))) {
			best = d
		}
	}
	if best == nil {
		return nil
	}
	return &Completed{DeploymentID: best.Id, TaskDefinition: best.TaskDefinition}
}

// clusterIndex is a cluster's records arranged for building Inputs.
type clusterIndex struct {
	tasks     map[string][]*ecs.Task // by service name
	instances []Instance
	groupsOn  map[string][]string // instance ARN → groups of its tasks not STOPPED
}

func indexCluster(snap *ecsapi.ClusterState) clusterIndex {
	idx := clusterIndex{tasks: map[string][]*ecs.Task{}, groupsOn: map[string][]string{}}
	daemon := map[string]bool{}
	for _, svc := range snap.Services {
		if svc.SchedulingStrategy == ecs.SchedulingStrategyDAEMON {
			daemon[svc.ServiceName] = true
		}
	}
	other := map[string]int{}
	for _, t := range snap.Tasks {
		name, isService := ecsapi.ServiceOfTask(t)
		if isService {
			idx.tasks[name] = append(idx.tasks[name], t)
		}
		if t.LastStatus == taskStopped {
			continue
		}
		idx.groupsOn[t.ContainerInstanceArn] = append(idx.groupsOn[t.ContainerInstanceArn], t.Group)
		if !isService || !daemon[name] {
			other[t.ContainerInstanceArn]++
		}
	}
	for _, ci := range snap.Instances {
		in := Instance{ARN: ci.ContainerInstanceArn, Status: ci.Status, Connected: ci.AgentConnected, OtherTasks: other[ci.ContainerInstanceArn]}
		for _, a := range ci.Attributes {
			if a.Name == "ecs.availability-zone" {
				in.AZ = a.Value
			}
		}
		idx.instances = append(idx.instances, in)
	}
	return idx
}

// input builds the Plan input of one service.
func (c *Services) input(now time.Time, snap *ecsapi.ClusterState, idx clusterIndex, svc *ecs.Service) (Input, error) {
	in := Input{Now: now, Service: svc, Tasks: idx.tasks[svc.ServiceName], Instances: idx.instances,
		HealthChecked: map[string]bool{}, Policy: c.policy}
	for arn, td := range snap.TaskDefinitions {
		in.HealthChecked[arn] = hasHealthCheck(td)
	}
	if len(svc.LoadBalancers) > 0 && c.targets != nil {
		in.TargetHealth = c.targets.TargetHealth(svc, in.Tasks)
	}
	in.ImageDigests = snap.ImageDigests[svc.ServiceName]
	for _, t := range in.Tasks {
		if _, ok := in.HealthChecked[t.TaskDefinitionArn]; !ok {
			// A task of a deployment already gone: judge it by its status.
			in.HealthChecked[t.TaskDefinitionArn] = t.HealthStatus == ecs.HealthStatusHEALTHY || t.HealthStatus == ecs.HealthStatusUNHEALTHY
		}
	}
	if svc.SchedulingStrategy != ecs.SchedulingStrategyDAEMON {
		return in, nil
	}
	var exprs []string
	for _, d := range svc.Deployments {
		if td := snap.TaskDefinitions[d.TaskDefinition]; d.Status == deploymentPrimary && td != nil {
			for _, pc := range td.PlacementConstraints {
				if pc.Type == ecs.PlacementConstraintTypeMemberOf {
					exprs = append(exprs, pc.Expression)
				}
			}
		}
	}
	for _, pc := range svc.PlacementConstraints {
		if pc.Type == ecs.PlacementConstraintTypeMemberOf {
			exprs = append(exprs, pc.Expression)
		}
	}
	if len(exprs) == 0 {
		return in, nil
	}
	var parsed []clusterquery.Expr
	for _, e := range exprs {
		p, err := clusterquery.Parse(e)
		if err != nil {
			return in, fmt.Errorf("memberOf expression %q: %w", e, err)
		}
		parsed = append(parsed, p)
	}
	in.Matches = map[string]bool{}
	for _, ci := range snap.Instances {
		facts := ecsapi.InstanceFacts(ci, idx.groupsOn[ci.ContainerInstanceArn])
		in.Matches[ci.ContainerInstanceArn] = !slices.ContainsFunc(parsed, func(e clusterquery.Expr) bool { return !e.Eval(facts) })
	}
	return in, nil
}

// hasHealthCheck reports whether an essential container of td has a health
// check (then its tasks report HEALTHY or UNHEALTHY).
func hasHealthCheck(td *ecs.TaskDefinition) bool {
	return slices.ContainsFunc(td.ContainerDefinitions, func(cd ecs.ContainerDefinition) bool {
		return cd.HealthCheck != nil && (cd.Essential == nil || *cd.Essential)
	})
}

// apply carries out a plan for svc: stops, then launches, then one write of
// the service record with the events and changes. before are events of
// what happened before the plan (tasks lost with their instance).
func (c *Services) apply(ctx context.Context, cluster string, svc *ecs.Service, out Output, before []string) error {
	var errs []error
	events := append(slices.Clone(before), out.Events...)
	if len(out.Stops) > 0 {
		stops := make([]ecsapi.TaskStop, 0, len(out.Stops))
		for _, s := range out.Stops {
			stops = append(stops, ecsapi.TaskStop{TaskArn: s.TaskArn, StopCode: s.StopCode, Reason: s.Reason})
		}
		if err := c.ecs.StopTasks(ctx, cluster, stops); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range out.Launches {
		var tasks []ecs.Task
		var failures []ecs.Failure
		var err error
		if l.Instances != nil {
			ids := make([]string, 0, len(l.Instances))
			for _, arn := range l.Instances {
				ids = append(ids, lastPart(arn))
			}
			tasks, failures, err = c.ecs.LaunchDaemonTasks(ctx, cluster, svc.ServiceName, l.DeploymentID, ids)
		} else {
			tasks, failures, err = c.ecs.LaunchServiceTasks(ctx, cluster, svc.ServiceName, l.DeploymentID, l.Count)
		}
		if errors.Is(err, ecsapi.ErrStaleLaunch) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("launch tasks of deployment %s: %w", l.DeploymentID, err))
			continue
		}
		if len(tasks) > 0 {
			events = append(events, startedEvent(svc.ServiceName, tasks))
		}
		if len(failures) > 0 {
			events = append(events, placementEvent(svc.ServiceName, failures[0]))
		}
	}
	if len(events) == 0 && !out.ServiceChanged() {
		return errors.Join(errs...)
	}
	now := c.now()
	repeat := c.policy.EventRepeat
	if repeat <= 0 {
		repeat = DefaultPolicy().EventRepeat
	}
	err := c.ecs.UpdateServiceRecordWithPins(ctx, cluster, svc.ServiceName, func(cur *ecs.Service, pins map[string]map[string]string) bool {
		changed := applyToService(cur, svc, &out, now)
		if out.Rollback != nil && changed {
			// A rollback returns to the very images the completed
			// deployment ran, not to whatever its tags name now; in the
			// same write, so no launch ever sees the new deployment
			// without them.
			if i := slices.IndexFunc(cur.Deployments, func(d ecs.Deployment) bool { return d.Status == deploymentPrimary }); i >= 0 && cur.Deployments[i].Id != out.Rollback.Failed {
				ecsapi.InheritPins(pins, out.Rollback.To.DeploymentID, cur.Deployments[i].Id)
			}
		}
		return addEvents(cur, now, events, repeat) || changed
	})
	if err != nil && !state.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("update service record: %w", err))
	}
	return errors.Join(errs...)
}

// applyToService applies a plan's service changes to cur, the record as it
// is now. planned is the record Plan decided from: the changes apply only
// if cur still has its status, desiredCount and deployments (IDs and
// statuses); otherwise the service changed meanwhile and the next Step
// decides again. It reports whether cur changed.
func applyToService(cur, planned *ecs.Service, out *Output, now time.Time) bool {
	if !out.ServiceChanged() || !sameShape(cur, planned) {
		return false
	}
	at := ecs.NewTime(now.UTC().Truncate(time.Millisecond))
	changed := false
	for _, ch := range out.Deployments {
		i := slices.IndexFunc(cur.Deployments, func(d ecs.Deployment) bool { return d.Id == ch.ID })
		if i < 0 {
			continue
		}
		if ch.Remove {
			cur.Deployments = slices.Delete(cur.Deployments, i, i+1)
			changed = true
			continue
		}
		d := &cur.Deployments[i]
		dc := false
		if ch.DesiredCount != nil && d.DesiredCount != *ch.DesiredCount {
			d.DesiredCount, dc = *ch.DesiredCount, true
		}
		if ch.FailedTasks != nil && d.FailedTasks != *ch.FailedTasks {
			d.FailedTasks, dc = *ch.FailedTasks, true
		}
		if ch.RolloutState != "" && (d.RolloutState != ch.RolloutState || d.RolloutStateReason != ch.RolloutStateReason) {
			d.RolloutState, d.RolloutStateReason, dc = ch.RolloutState, ch.RolloutStateReason, true
		}
		if dc {
			d.UpdatedAt = at
			changed = true
		}
	}
	if n := out.DesiredCount; n != nil && cur.DesiredCount != *n {
		cur.DesiredCount = *n
		changed = true
	}
	if n := out.DesiredCount; n != nil {
		for i := range cur.Deployments {
			if d := &cur.Deployments[i]; d.Status == deploymentPrimary && d.DesiredCount != *n {
				d.DesiredCount, d.UpdatedAt = *n, at
				changed = true
			}
		}
	}
	if r := out.Rollback; r != nil && startRollback(cur, r, at) {
		changed = true
	}
	if out.Inactive && cur.Status == serviceDraining {
		cur.Status = serviceInactive
		changed = true
	}
	return changed
}

// sameShape reports whether two versions of a service agree on what a plan
// depends on.
func sameShape(a, b *ecs.Service) bool {
	key := func(s *ecs.Service) string {
		var k strings.Builder
		fmt.Fprintf(&k, "%s/%d/%s", s.Status, s.DesiredCount, s.SchedulingStrategy)
		for _, d := range s.Deployments {
			fmt.Fprintf(&k, "/%s=%s:%s", d.Id, d.Status, d.TaskDefinition)
		}
		return k.String()
	}
	return key(a) == key(b)
}
