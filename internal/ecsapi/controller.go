package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/scheduler"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// The service controller's side of the records. internal/controller decides
// what to do with pure functions; these methods apply its decisions, so the
// record semantics (reservations, counts, stop bookkeeping, deployments)
// stay in this package:
//
//	controller                       records
//	ReadCluster            ◀──────── services, tasks, instances, task definitions
//	MarkTasksLost          ────────▶ tasks on a lost instance STOPPED, reservations released
//	StopTasks              ────────▶ desiredStatus STOPPED (+ stopCode, reason)
//	LaunchServiceTasks     ────────▶ tasks placed with reservations (REPLICA)
//	LaunchDaemonTasks      ────────▶ one task on each given instance (DAEMON)
//	UpdateServiceRecord    ────────▶ events, deployments, status (compare-and-swap)
//
// Every write takes s.mu, like the API operations, and re-checks what it
// depends on: a launch for a deployment that is gone, or a lost-instance
// sweep for an agent that came back, does nothing.

// ErrStaleLaunch is returned by LaunchServiceTasks and LaunchDaemonTasks when
// the cluster or service is no longer ACTIVE or the deployment is gone: the
// plan was made on records that have changed since, and the next reconcile
// sees the change.
var ErrStaleLaunch = errors.New("ecsapi: the service or its deployment is no longer active")

// deploymentIDPrefix starts every deployment ID (see newDeploymentID).
const deploymentIDPrefix = "ecs-svc/"

// StopCodeInstanceLost is the stop code of tasks whose container instance
// lost contact (agent disconnected) or was deregistered. ECS's model has no
// code for an unhealthy host; TerminationNotice ("the host is going away")
// is the closest.
const StopCodeInstanceLost = ecs.TaskStopCodeTerminationNotice

// ClusterState is one cluster's records as the service controller reads
// them. Tasks are shared with the cluster index: read only.
type ClusterState struct {
	Name      string
	Services  []*ecs.Service
	Tasks     []*ecs.Task
	Instances []*ecs.ContainerInstance
	// TaskDefinitions are the task definitions the services' deployments
	// run, by ARN (those that still exist, whatever their status).
	TaskDefinitions map[string]*ecs.TaskDefinition
	// ImageDigests are, by service name, deployment ID and container
	// name, the image digests each deployment resolved (see pins.go).
	ImageDigests map[string]map[string]map[string]string
}

// ActiveClusters returns the names of the ACTIVE clusters, in name order.
func (s *Service) ActiveClusters(ctx context.Context) ([]string, error) {
	recs, err := state.List[ecs.Cluster](ctx, s.st, state.ClustersPrefix)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if r.Value.Status == clusterActive {
			out = append(out, r.Value.ClusterName)
		}
	}
	return out, nil
}

// ReadCluster reads a cluster's services, tasks and container instances,
// and the task definitions of the services' deployments. It takes no lock:
// like the Describe operations, it sees each prefix as committed.
func (s *Service) ReadCluster(ctx context.Context, cluster string) (*ClusterState, error) {
	out, err := s.ReadServicesAndTasks(ctx, cluster)
	if err != nil {
		return nil, err
	}
	for _, svc := range out.Services {
		for _, d := range svc.Deployments {
			if _, ok := out.TaskDefinitions[d.TaskDefinition]; ok || d.TaskDefinition == "" {
				continue
			}
			td, err := s.currentServiceTaskDef(ctx, d.TaskDefinition)
			if err != nil {
				return nil, fmt.Errorf("read task definition %s: %w", d.TaskDefinition, err)
			}
			if td != nil {
				out.TaskDefinitions[d.TaskDefinition] = &td.TaskDefinition
			}
		}
	}
	insts, err := state.List[ecs.ContainerInstance](ctx, s.st, state.InstancesOf(cluster))
	if err != nil {
		return nil, fmt.Errorf("read container instances of %s: %w", cluster, err)
	}
	for _, r := range insts {
		out.Instances = append(out.Instances, r.Value)
	}
	return out, nil
}

// ReadServicesAndTasks is ReadCluster without the container instances
// and task definitions: what the target reconciler needs, at a fraction of
// the cost on a large cluster.
func (s *Service) ReadServicesAndTasks(ctx context.Context, cluster string) (*ClusterState, error) {
	out := &ClusterState{Name: cluster, TaskDefinitions: map[string]*ecs.TaskDefinition{}, ImageDigests: map[string]map[string]map[string]string{}}
	svcs, err := state.List[serviceRecord](ctx, s.st, state.ServicesOf(cluster))
	if err != nil {
		return nil, fmt.Errorf("read services of %s: %w", cluster, err)
	}
	for _, r := range svcs {
		svc := &r.Value.Service
		out.Services = append(out.Services, svc)
		if len(r.Value.ImageDigests) > 0 {
			out.ImageDigests[svc.ServiceName] = r.Value.ImageDigests
		}
	}
	tasks, err := s.readTasks(ctx, cluster)
	if err != nil {
		return nil, fmt.Errorf("read tasks of %s: %w", cluster, err)
	}
	// Key order, as a store listing gives: the controller's decisions stay
	// deterministic.
	slices.SortFunc(tasks, func(a, b state.Record[ecs.Task]) int { return strings.Compare(a.Value.TaskArn, b.Value.TaskArn) })
	for _, r := range tasks {
		out.Tasks = append(out.Tasks, r.Value)
	}
	return out, nil
}

// InstanceFacts is what the cluster query language sees of ci, given the
// groups of its tasks that are not STOPPED (for memberOf evaluation outside
// this package).
func InstanceFacts(ci *ecs.ContainerInstance, groups []string) *clusterquery.Facts {
	return instanceFacts(ci, groups)
}

// AddServiceEvent puts an event first in svc's events (keeping the newest
// 100, as ECS does), with a new event ID.
func AddServiceEvent(svc *ecs.Service, at time.Time, msg string) {
	addServiceEvent(svc, ecs.NewTime(at.UTC().Truncate(time.Millisecond)), msg)
}

// UpdateServiceRecord applies f to the stored service and writes it back
// with compare-and-swap, retrying when another writer got there first. f
// may run more than once; it returns false to leave the record as it is.
// A missing service is store.ErrNotFound. The record's other members (the
// CreateService client token) are kept.
func (s *Service) UpdateServiceRecord(ctx context.Context, cluster, name string, f func(*ecs.Service) bool) error {
	return s.UpdateServiceRecordWithPins(ctx, cluster, name, func(svc *ecs.Service, _ map[string]map[string]string) bool { return f(svc) })
}

// UpdateServiceRecordWithPins is UpdateServiceRecord with the service's
// image digests by deployment (see pins.go) for f to change in the same
// write: a rollback gives its new deployment the digests of the one it
// returns to. f gets a copy it may change; it is stored when f returns
// true.
func (s *Service) UpdateServiceRecordWithPins(ctx context.Context, cluster, name string, f func(*ecs.Service, map[string]map[string]string) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := state.ServiceKey(cluster, name)
	for attempt := 1; ; attempt++ {
		rec, err := state.Get[serviceRecord](ctx, s.st, key)
		if err != nil {
			return err
		}
		pins := make(map[string]map[string]string, len(rec.Value.ImageDigests))
		for id, p := range rec.Value.ImageDigests {
			pins[id] = maps.Clone(p)
		}
		if !f(&rec.Value.Service, pins) {
			return nil
		}
		rec.Value.ImageDigests = pins
		if len(pins) == 0 {
			rec.Value.ImageDigests = nil
		}
		op, err := state.PutOp(key, rec.Value, rec.Revision)
		if err != nil {
			return err
		}
		_, err = s.st.Txn(ctx, op)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		return err
	}
}

// TaskStop asks for one task to stop.
type TaskStop struct {
	TaskArn  string
	StopCode string
	Reason   string
}

// StopTasks sets desiredStatus STOPPED on each task, with stoppingAt, the
// stop code and the reason, as StopTask does: the agent completes the stop,
// and a task still PROVISIONING on an instance whose agent is disconnected
// (or that is gone) is STOPPED at once, its reservation released. Tasks that
// are gone or already asked to stop are left alone.
func (s *Service) StopTasks(ctx context.Context, cluster string, stops []TaskStop) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, st := range stops {
		if err := s.stopTaskLocked(ctx, cluster, st); err != nil {
			errs = append(errs, fmt.Errorf("stop task %s: %w", st.TaskArn, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) stopTaskLocked(ctx context.Context, cluster string, st TaskStop) error {
	_, id, err := idRef(st.TaskArn, "task", "taskArn")
	if err != nil {
		return err
	}
	key := state.TaskKey(cluster, id)
	for attempt := 1; ; attempt++ {
		rec, err := state.Get[ecs.Task](ctx, s.st, key)
		if state.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		t := rec.Value
		if t.DesiredStatus == taskStatusStopped || t.LastStatus == taskStatusStopped {
			return nil
		}
		instOps, err := s.markStoppingLocked(ctx, cluster, t, st.StopCode, st.Reason)
		if err != nil {
			return err
		}
		op, err := state.PutOp(key, t, rec.Revision)
		if err != nil {
			return err
		}
		_, err = s.st.Txn(ctx, append([]store.Op{op}, instOps...)...)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		return err
	}
}

// markStoppingLocked asks t to stop, as StopTask and the controller do:
// desiredStatus STOPPED, stoppingAt, the stop code and reason, and the
// next version. A task behind a load balancer drains first (see
// drain.go); a PROVISIONING task no agent will pick up is STOPPED at once,
// and the ops returned release its reservation.
func (s *Service) markStoppingLocked(ctx context.Context, cluster string, t *ecs.Task, code, reason string) ([]store.Op, error) {
	now := ecs.NewTime(s.nowUTC())
	t.DesiredStatus = taskStatusStopped
	t.StoppingAt = now
	t.StoppedReason = reason
	t.StopCode = code
	t.Version++
	if err := s.beginStopLocked(ctx, cluster, t); err != nil {
		return nil, err
	}
	if t.LastStatus != taskStatusProvisioning {
		return nil, nil
	}
	return s.stopOrphanLocked(ctx, cluster, t, now)
}

// MarkTasksLost records that the tasks on a container instance are gone
// because the instance lost contact: every task placed on it that is not
// STOPPED becomes STOPPED (desired and last status, stop times, containers),
// with stop code StopCodeInstanceLost and reason (a task already being
// stopped keeps its own), and its reservation is released. It returns the
// tasks it stopped, as they are now.
//
// It does nothing if the instance's agent is connected again (a blip, or
// the agent came back between the controller's decision and this call), so
// a flapping agent loses its tasks at most once per disconnection. An
// instance that is gone or INACTIVE has its remaining tasks stopped too.
func (s *Service) MarkTasksLost(ctx context.Context, cluster, instanceID, reason string) ([]ecs.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		stopped, err := s.markTasksLostLocked(ctx, cluster, instanceID, reason)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		return stopped, err
	}
}

func (s *Service) markTasksLostLocked(ctx context.Context, cluster, instanceID, reason string) ([]ecs.Task, error) {
	instKey := state.InstanceKey(cluster, instanceID)
	inst, err := state.Get[ecs.ContainerInstance](ctx, s.st, instKey)
	var ci *ecs.ContainerInstance
	switch {
	case state.IsNotFound(err):
	case err != nil:
		return nil, err
	case inst.Value.Status != instanceInactive && inst.Value.AgentConnected:
		return nil, nil
	case inst.Value.Status != instanceInactive:
		ci = inst.Value // INACTIVE instances hold nothing any more
	}
	arn := s.instanceARN(cluster, instanceID)
	tasks, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(cluster))
	if err != nil {
		return nil, err
	}
	now := ecs.NewTime(s.nowUTC())
	var ops []store.Op
	var stopped []ecs.Task
	for _, r := range tasks {
		t := r.Value
		if t.ContainerInstanceArn != arn || t.LastStatus == taskStatusStopped {
			continue
		}
		if ci != nil {
			releaseOnInstance(ci, s.taskHold(ctx, t), countedRunning(t))
		}
		if t.StopCode == "" {
			t.StopCode = StopCodeInstanceLost
		}
		markTaskStopped(t, now, reason)
		t.Version++
		op, err := state.PutOp(state.TaskKey(cluster, taskIDOf(t)), t, r.Revision)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		stopped = append(stopped, *t)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	if ci != nil {
		op, err := state.PutOp(instKey, ci, inst.Revision)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, err
	}
	return stopped, nil
}

// LaunchServiceTasks starts count tasks of a REPLICA service's deployment:
// task records with group "service:NAME", startedBy the deployment ID, the
// deployment's task definition, launch type or capacity provider and
// network configuration, and the service's tags when it propagates them.
// They are placed (see placeForService) on the cluster's ACTIVE,
// agent-connected instances that satisfy the service's and the task
// definition's placement constraints, with their reservations made in the
// same transaction. Tasks that fit nowhere come back as failures, as
// RunTask reports them; with no ACTIVE instance at all, each failure has no
// ARN and the reason "No Container Instances were found in your cluster.".
//
// It returns ErrStaleLaunch when the service is not ACTIVE or has no such
// deployment any more.
func (s *Service) LaunchServiceTasks(ctx context.Context, cluster, service, deploymentID string, count int) ([]ecs.Task, []ecs.Failure, error) {
	if count <= 0 {
		return nil, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, rec, err := s.serviceLaunchLocked(ctx, cluster, service, deploymentID)
	if err != nil {
		return nil, nil, err
	}
	if count, err = s.pinLaunchLocked(ctx, rec, l, deploymentID, count); err != nil || count == 0 {
		return nil, nil, err
	}
	for attempt := 1; ; attempt++ {
		tasks, failures, err := s.launchReplicaOnceLocked(ctx, l, count)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		return tasks, failures, err
	}
}

// LaunchDaemonTasks starts one task of a DAEMON service's deployment on
// each of the given container instances (IDs), built as LaunchServiceTasks
// builds them. An instance that is gone or INACTIVE fails with MISSING, one
// that is DRAINING with DRAINING, one whose agent is disconnected with
// AGENT, one a memberOf constraint rejects with "MemberOf constraint", and
// one without room with the RESOURCE:* reason.
func (s *Service) LaunchDaemonTasks(ctx context.Context, cluster, service, deploymentID string, instanceIDs []string) ([]ecs.Task, []ecs.Failure, error) {
	if len(instanceIDs) == 0 {
		return nil, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, rec, err := s.serviceLaunchLocked(ctx, cluster, service, deploymentID)
	if err != nil {
		return nil, nil, err
	}
	n, err := s.pinLaunchLocked(ctx, rec, l, deploymentID, len(instanceIDs))
	if err != nil || n == 0 {
		return nil, nil, err
	}
	if n < len(instanceIDs) {
		// Resolving the deployment's images: one task, on the first of the
		// instances that takes it.
		var failures []ecs.Failure
		for _, id := range instanceIDs {
			tasks, fs, err := s.launchDaemonRetryingLocked(ctx, l, []string{id})
			if err != nil || len(tasks) > 0 {
				return tasks, failures, err
			}
			failures = append(failures, fs...)
		}
		return nil, failures, nil
	}
	return s.launchDaemonRetryingLocked(ctx, l, instanceIDs)
}

// launchDaemonRetryingLocked is launchDaemonOnceLocked, tried again when
// another writer got to the store first.
func (s *Service) launchDaemonRetryingLocked(ctx context.Context, l *taskLaunch, instanceIDs []string) ([]ecs.Task, []ecs.Failure, error) {
	for attempt := 1; ; attempt++ {
		tasks, failures, err := s.launchDaemonOnceLocked(ctx, l, instanceIDs)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		return tasks, failures, err
	}
}

// serviceLaunchLocked builds the launch of a service deployment's tasks,
// with the service's placement strategies (ECS's default spread when it
// has none) and constraints.
func (s *Service) serviceLaunchLocked(ctx context.Context, cluster, service, deploymentID string) (*taskLaunch, *serviceRecord, error) {
	crec, err := state.Get[ecs.Cluster](ctx, s.st, state.ClusterKey(cluster))
	if state.IsNotFound(err) || (err == nil && crec.Value.Status != clusterActive) {
		return nil, nil, ErrStaleLaunch
	}
	if err != nil {
		return nil, nil, err
	}
	rec, err := state.Get[serviceRecord](ctx, s.st, state.ServiceKey(cluster, service))
	if state.IsNotFound(err) || (err == nil && rec.Value.Status != serviceActive) {
		return nil, nil, ErrStaleLaunch
	}
	if err != nil {
		return nil, nil, err
	}
	svc := &rec.Value.Service
	// Only the PRIMARY deployment launches: a plan made before an
	// UpdateService may name the deployment that has just become ACTIVE.
	i := slices.IndexFunc(svc.Deployments, func(d ecs.Deployment) bool { return d.Id == deploymentID })
	if i < 0 || svc.Deployments[i].Status != "PRIMARY" {
		return nil, nil, ErrStaleLaunch
	}
	d := &svc.Deployments[i]
	td, err := s.currentServiceTaskDef(ctx, d.TaskDefinition)
	if err != nil {
		return nil, nil, err
	}
	if td == nil {
		return nil, nil, fmt.Errorf("deployment %s: task definition %s no longer exists", d.Id, d.TaskDefinition)
	}
	opts := runOptions{network: d.NetworkConfiguration, group: "service:" + svc.ServiceName, startedBy: d.Id,
		enableExecuteCommand: svc.EnableExecuteCommand}
	switch svc.PropagateTags {
	case ecs.PropagateTagsSERVICE:
		opts.tags = svc.Tags
	case ecs.PropagateTagsTASKDEFINITION:
		opts.propagateTags = ecs.PropagateTagsTASKDEFINITION
	}
	l, err := s.prepareLaunch(cluster, td, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s: %w", d.Id, err)
	}
	if l.constraints, err = parseTaskConstraints(td, svc.PlacementConstraints); err != nil {
		return nil, nil, fmt.Errorf("deployment %s: %w", d.Id, err)
	}
	l.strategies = svc.PlacementStrategy
	if len(l.strategies) == 0 {
		// ECS's default for services: spread over zones, then instances.
		for _, st := range scheduler.ServiceDefaultStrategies() {
			l.strategies = append(l.strategies, ecs.PlacementStrategy{Type: st.Type, Field: st.Field})
		}
	}
	switch {
	case d.LaunchType != "":
		l.launchType = d.LaunchType
	case len(d.CapacityProviderStrategy) > 0:
		_, cp, err := runLaunchType("", d.CapacityProviderStrategy, crec.Value)
		if err != nil {
			cp = d.CapacityProviderStrategy[0].CapacityProvider
		}
		l.capacityProvider = cp
	default:
		l.launchType = ecs.LaunchTypeEC2
	}
	return l, rec.Value, nil
}

// launchReplicaOnceLocked places count tasks of l and commits them with
// their reservations.
func (s *Service) launchReplicaOnceLocked(ctx context.Context, l *taskLaunch, count int) ([]ecs.Task, []ecs.Failure, error) {
	recs, err := s.readInstancesToReserve(ctx, l.cluster)
	if err != nil {
		return nil, nil, err
	}
	revs := map[*ecs.ContainerInstance]int64{}
	var active, cands []*ecs.ContainerInstance
	for _, r := range recs {
		if r.Value.Status != ecs.ContainerInstanceStatusACTIVE {
			continue
		}
		revs[r.Value] = r.Revision
		active = append(active, r.Value)
		if r.Value.AgentConnected {
			cands = append(cands, r.Value)
		}
	}
	var failures []ecs.Failure
	fail := func(f ecs.Failure) ([]ecs.Task, []ecs.Failure, error) {
		for range count {
			failures = append(failures, f)
		}
		return nil, failures, nil
	}
	switch {
	case len(active) == 0:
		return fail(ecs.Failure{Reason: msgNoInstances})
	case len(cands) == 0:
		return fail(ecs.Failure{Arn: active[0].ContainerInstanceArn, Reason: "AGENT"})
	}
	groups, err := s.groupsByInstance(ctx, l.cluster)
	if err != nil {
		return nil, nil, err
	}
	placed, failures := s.scheduleLocked(l, cands, count, l.strategies, groups)
	if len(placed) == 0 {
		return nil, failures, nil
	}
	ops, out, err := s.placementOps(l, placed, revs)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, nil, err
	}
	return out, failures, nil
}

// launchDaemonOnceLocked places one task of l on each instance and commits
// them with their reservations.
func (s *Service) launchDaemonOnceLocked(ctx context.Context, l *taskLaunch, instanceIDs []string) ([]ecs.Task, []ecs.Failure, error) {
	counts, err := s.groupsByInstance(ctx, l.cluster)
	if err != nil {
		return nil, nil, err
	}
	var failures []ecs.Failure
	var placed []*ecs.ContainerInstance
	revs := map[*ecs.ContainerInstance]int64{}
	seen := map[string]bool{}
	for _, id := range instanceIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(l.cluster, id))
		if state.IsNotFound(err) {
			failures = append(failures, ecs.Failure{Arn: s.instanceARN(l.cluster, id), Reason: "MISSING"})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		ci := rec.Value
		g := counts[ci.ContainerInstanceArn]
		if g[l.group] > 0 {
			// The instance runs a task of the service already: never a
			// second daemon task, whatever view the caller planned from.
			failures = append(failures, ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: reasonDistinct, Detail: "already runs a task of " + l.group})
			continue
		}
		groups := make([]string, 0, len(g))
		for name := range g {
			groups = append(groups, name)
		}
		failure := startTaskFailure(ci, l.need)
		if failure == nil && !l.constraints.accepts(ci, groups) {
			failure = &ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: reasonMemberOf}
		}
		if failure != nil {
			failures = append(failures, *failure)
			continue
		}
		reserveOnInstance(ci, l.need)
		revs[ci] = rec.Revision
		placed = append(placed, ci)
	}
	if len(placed) == 0 {
		return nil, failures, nil
	}
	ops, out, err := s.placementOps(l, placed, revs)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, nil, err
	}
	return out, failures, nil
}

// accepts reports whether every memberOf expression accepts ci, running
// tasks of the given groups.
func (c taskConstraints) accepts(ci *ecs.ContainerInstance, groups []string) bool {
	facts := instanceFacts(ci, groups)
	return !slices.ContainsFunc(c.memberOf, func(e clusterquery.Expr) bool { return !e.Eval(facts) })
}

// isConflict reports whether err is a compare-and-swap conflict.
func isConflict(err error) bool {
	var ce *store.ConflictError
	return errors.As(err, &ce)
}

// ServiceOfTask returns the name of the service that started a task, and
// whether one did: its group is "service:NAME" and its startedBy is a
// deployment ID ("ecs-svc/..."). A task someone ran by hand in a service's
// group is not the service's.
func ServiceOfTask(t *ecs.Task) (string, bool) {
	name, ok := strings.CutPrefix(t.Group, "service:")
	return name, ok && strings.HasPrefix(t.StartedBy, deploymentIDPrefix)
}
