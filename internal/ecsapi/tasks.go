package ecsapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Tasks are records at state.TaskKey(cluster, id) holding the full ecs.Task.
// This file creates and stops them; the agent moves them along:
//
//	RunTask/StartTask                                  agent reports
//	      │                                            ─────────────▶
//	      ▼
//	PROVISIONING ──▶ PENDING ──▶ ACTIVATING ──▶ RUNNING ──▶ ... ──▶ STOPPED
//	      │
//	      └── StopTask while the instance's agent is disconnected ──▶ STOPPED
//
// Creation places the task (internal/scheduler, see placement.go) and reserves its
// CPU, memory and static host ports on the container instance in the same
// transaction that creates the record: the instance record is written with
// compare-and-swap, so concurrent placements by any writer never overcommit
// an instance. The reservation is released when the task reaches STOPPED
// (releaseOnInstance, called when the agent reports it, see agent.go).
//
// StopTask sets desiredStatus STOPPED; the agent stops the containers and
// reports lastStatus STOPPED. A task still PROVISIONING on an instance whose
// agent is disconnected (or that is gone) is stopped at once, since no agent
// will ever pick it up, and its reservation is released.

// Task lastStatus values (the model has no enum for them).
const (
	taskStatusProvisioning = "PROVISIONING"
	taskStatusRunning      = "RUNNING"
	taskStatusStopped      = "STOPPED"
)

// maxPlacementAttempts bounds the retries of a placement whose instance
// records another writer changed between read and commit.
const maxPlacementAttempts = 5

// Messages ECS uses, word for word.
const (
	msgNoInstances        = "No Container Instances were found in your cluster."
	msgTaskNotFound       = "The referenced task was not found."
	msgDefaultStopReason  = "Task stopped by user"
	msgLaunchTypeAndCP    = "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
	msgOverridesTooLong   = "Container Overrides length must be at most 8192"
	msgTaskDefNotFound    = "TaskDefinition not found."
	msgTaskDefInactive    = "TaskDefinition is inactive"
	msgNetConfigRequired  = "Network Configuration must be provided when networkMode 'awsvpc' is specified."
	msgNetConfigNotValid  = "Network Configuration is not valid for the given networkMode of this task definition."
	msgInvalidTaskID      = "Task Identifier is invalid"
	msgCPNotInCluster     = "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again."
	msgTasksCannotBeEmpty = "Tasks cannot be empty."
)

func (s *Service) addTaskOps(m map[string]awsjson.Op) {
	m["RunTask"] = awsjson.Handle(s.RunTask)
	m["StartTask"] = awsjson.Handle(s.StartTask)
	m["StopTask"] = awsjson.Handle(s.StopTask)
	m["DescribeTasks"] = awsjson.Handle(s.DescribeTasks)
	m["ListTasks"] = awsjson.Handle(s.ListTasks)
}

// RunTask starts count (1-10) tasks of a task definition, placing them on
// the cluster's ACTIVE, agent-connected container instances. Tasks that do
// not fit anywhere come back as failures naming the closest instance and
// the resource it lacked.
//
// Launch types: EC2 and EXTERNAL run on container instances. FARGATE is
// accepted and recorded, but berth has no Fargate, so such tasks are placed
// on container instances like EC2 ones. A capacity provider strategy (given
// or the cluster's default) is recorded as the task's capacityProviderName
// and placed the same way. With neither, the launch type is EC2.
//
// Placement goes through internal/scheduler (placement.go) with the
// request's placementStrategy (random when none) and the task definition's
// and request's constraints. Not done yet: clientToken idempotency
// (validated, not remembered), enableECSManagedTags, volumeConfigurations.
func (s *Service) RunTask(ctx context.Context, in *ecs.RunTaskRequest) (*ecs.RunTaskResponse, error) {
	count := int32(1)
	if in.Count != nil {
		count = *in.Count
	}
	if count < 1 || count > 10 {
		return nil, errInvalidParameter("count: must be between 1 and 10, got %d", count)
	}
	if len(in.ClientToken) > 64 {
		return nil, errInvalidParameter("clientToken: at most 64 characters")
	}
	if in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0 {
		return nil, errInvalidParameter(msgLaunchTypeAndCP)
	}
	switch in.LaunchType {
	case "", ecs.LaunchTypeEC2, ecs.LaunchTypeEXTERNAL, ecs.LaunchTypeFARGATE:
	case ecs.LaunchTypeMANAGEDINSTANCES:
		return nil, errInvalidParameter("launchType: MANAGED_INSTANCES tasks must use capacityProviderStrategy instead of launchType")
	default:
		return nil, errInvalidParameter("launchType: %q is not one of EC2, FARGATE, EXTERNAL", in.LaunchType)
	}
	if err := validateCapacityProviderStrategy(in.CapacityProviderStrategy, "capacityProviderStrategy"); err != nil {
		return nil, err
	}
	opts := runOptions{overrides: in.Overrides, network: in.NetworkConfiguration, group: in.Group, startedBy: in.StartedBy,
		propagateTags: in.PropagateTags, tags: in.Tags, enableExecuteCommand: in.EnableExecuteCommand}
	if err := opts.validate(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	name, crec, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	td, err := s.resolveActiveTaskDef(ctx, in.TaskDefinition, "taskDefinition")
	if err != nil {
		return nil, err
	}
	if err := checkPlacement(in.PlacementConstraints, in.PlacementStrategy, td); err != nil {
		return nil, err
	}
	l, err := s.prepareLaunch(name, td, opts)
	if err != nil {
		return nil, err
	}
	if l.constraints, err = parseTaskConstraints(td, in.PlacementConstraints); err != nil {
		return nil, err
	}
	l.strategies = in.PlacementStrategy
	l.launchType, l.capacityProvider, err = runLaunchType(in.LaunchType, in.CapacityProviderStrategy, crec.Value)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		out, err := s.runTaskOnceLocked(ctx, l, int(count))
		var ce *store.ConflictError
		if errors.As(err, &ce) && attempt < maxPlacementAttempts {
			continue
		}
		if err != nil {
			return nil, errServer(conflictAsServer(err))
		}
		return out, nil
	}
}

// runTaskOnceLocked reads the cluster's instances, places the tasks and commits
// tasks and reservations in one transaction.
func (s *Service) runTaskOnceLocked(ctx context.Context, l *taskLaunch, count int) (*ecs.RunTaskResponse, error) {
	recs, err := s.readInstancesToReserve(ctx, l.cluster)
	if err != nil {
		return nil, err
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
	if len(active) == 0 {
		return nil, errInvalidParameter(msgNoInstances)
	}
	out := &ecs.RunTaskResponse{Tasks: []ecs.Task{}, Failures: []ecs.Failure{}}
	if len(cands) == 0 {
		for range count {
			out.Failures = append(out.Failures, ecs.Failure{Arn: active[0].ContainerInstanceArn, Reason: "AGENT"})
		}
		return out, nil
	}
	groups, err := s.groupsByInstance(ctx, l.cluster)
	if err != nil {
		return nil, err
	}
	placed, failures := s.scheduleLocked(l, cands, count, l.strategies, groups)
	out.Failures = append(out.Failures, failures...)
	if len(placed) == 0 {
		return out, nil
	}
	ops, tasks, err := s.placementOps(l, placed, revs)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, err
	}
	out.Tasks = tasks
	return out, nil
}

// placementOps builds the transaction for tasks placed on instances (one
// entry per task; an instance may repeat): a create per task and one
// compare-and-swap put per instance.
func (s *Service) placementOps(l *taskLaunch, placed []*ecs.ContainerInstance, revs map[*ecs.ContainerInstance]int64) ([]store.Op, []ecs.Task, error) {
	now := ecs.NewTime(s.nowUTC())
	var ops []store.Op
	var tasks []ecs.Task
	written := map[*ecs.ContainerInstance]bool{}
	for _, ci := range placed {
		t := s.newTaskRecord(l, ci, now)
		op, err := state.PutOp(state.TaskKey(l.cluster, taskIDOf(t)), t, store.Absent)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, op)
		tasks = append(tasks, *t)
		if written[ci] {
			continue
		}
		written[ci] = true
		op, err = state.PutOp(state.InstanceKey(l.cluster, instanceIDOf(ci)), ci, revs[ci])
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, op)
	}
	return ops, tasks, nil
}

// StartTask starts one task of a task definition on each of the given
// container instances (1-10). An instance that is unknown or INACTIVE is a
// MISSING failure, one that is DRAINING fails with reason DRAINING, one
// whose agent is disconnected with AGENT, and one without room with the
// RESOURCE:* reason RunTask reports. Tasks get launch type EC2.
func (s *Service) StartTask(ctx context.Context, in *ecs.StartTaskRequest) (*ecs.StartTaskResponse, error) {
	switch {
	case len(in.ContainerInstances) == 0:
		return nil, errInvalidParameter("containerInstances: must list at least one container instance")
	case len(in.ContainerInstances) > 10:
		return nil, errInvalidParameter("containerInstances: at most 10 container instances per request, got %d", len(in.ContainerInstances))
	}
	opts := runOptions{overrides: in.Overrides, network: in.NetworkConfiguration, group: in.Group, startedBy: in.StartedBy,
		propagateTags: in.PropagateTags, tags: in.Tags, enableExecuteCommand: in.EnableExecuteCommand}
	if err := opts.validate(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	td, err := s.resolveActiveTaskDef(ctx, in.TaskDefinition, "taskDefinition")
	if err != nil {
		return nil, err
	}
	l, err := s.prepareLaunch(name, td, opts)
	if err != nil {
		return nil, err
	}
	l.launchType = ecs.LaunchTypeEC2

	out := &ecs.StartTaskResponse{Tasks: []ecs.Task{}, Failures: []ecs.Failure{}}
	byID := map[string]*ecs.ContainerInstance{}
	revs := map[*ecs.ContainerInstance]int64{}
	var placed []*ecs.ContainerInstance
	for _, ref := range in.ContainerInstances {
		rec, failure, err := s.lookupInstance(ctx, name, ref)
		if err != nil {
			return nil, err
		}
		if failure == nil {
			// The same instance listed twice gets two tasks: reserve on one copy.
			if ci, ok := byID[instanceIDOf(rec.Value)]; ok {
				rec.Value = ci
			} else {
				byID[instanceIDOf(rec.Value)] = rec.Value
				revs[rec.Value] = rec.Revision
			}
			failure = startTaskFailure(rec.Value, l.need)
		}
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		reserveOnInstance(rec.Value, l.need)
		placed = append(placed, rec.Value)
	}
	if len(placed) == 0 {
		return out, nil
	}
	ops, tasks, err := s.placementOps(l, placed, revs)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	out.Tasks = tasks
	return out, nil
}

// startTaskFailure says why a task cannot start on ci, or nil if it can.
func startTaskFailure(ci *ecs.ContainerInstance, need taskNeed) *ecs.Failure {
	switch {
	case ci.Status == instanceInactive:
		return &ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: "MISSING"}
	case ci.Status != ecs.ContainerInstanceStatusACTIVE:
		return &ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: ci.Status}
	case !ci.AgentConnected:
		return &ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: "AGENT"}
	}
	if reason := fitInstance(ci, need); reason != "" {
		return &ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: reason}
	}
	return nil
}

// StopTask asks a task to stop: desiredStatus STOPPED, stoppingAt, the
// reason (default "Task stopped by user") and stopCode UserInitiated. The
// agent completes the stop; see the notes at the top of this file for the
// task that stops at once. Stopping a task whose desiredStatus is already
// STOPPED returns it unchanged.
func (s *Service) StopTask(ctx context.Context, in *ecs.StopTaskRequest) (*ecs.StopTaskResponse, error) {
	if len(in.Reason) > 255 {
		return nil, errInvalidParameter("reason: at most 255 characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	refCluster, id, err := idRef(in.Task, "task", "task")
	if err != nil {
		return nil, errInvalidParameter(msgInvalidTaskID)
	}
	rec, err := state.Get[ecs.Task](ctx, s.st, state.TaskKey(name, id))
	if (refCluster != "" && refCluster != name) || state.IsNotFound(err) {
		return nil, errInvalidParameter(msgTaskNotFound)
	}
	if err != nil {
		return nil, errServer(err)
	}
	t := rec.Value
	if t.DesiredStatus == taskStatusStopped {
		return &ecs.StopTaskResponse{Task: t}, nil
	}
	instOps, err := s.markStoppingLocked(ctx, name, t, ecs.TaskStopCodeUserInitiated, cmp.Or(in.Reason, msgDefaultStopReason))
	if err != nil {
		return nil, errServer(err)
	}
	op, err := state.PutOp(state.TaskKey(name, id), t, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, append([]store.Op{op}, instOps...)...); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return &ecs.StopTaskResponse{Task: t}, nil
}

// stopOrphanLocked moves a PROVISIONING task straight to STOPPED when no
// agent will pick it up (its instance is gone, INACTIVE or disconnected),
// returning the ops that release its reservation (an empty, non-nil slice
// when there is no instance left to release on). It returns nil when the
// agent is connected and will complete the stop.
func (s *Service) stopOrphanLocked(ctx context.Context, cluster string, t *ecs.Task, now *ecs.Time) ([]store.Op, error) {
	_, instID, err := idRef(t.ContainerInstanceArn, "container-instance", "containerInstanceArn")
	if err != nil {
		markTaskStopped(t, now, "")
		return []store.Op{}, nil
	}
	rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(cluster, instID))
	if state.IsNotFound(err) || (err == nil && rec.Value.Status == instanceInactive) {
		markTaskStopped(t, now, "")
		return []store.Op{}, nil
	}
	if err != nil {
		return nil, errServer(err)
	}
	if rec.Value.AgentConnected {
		return nil, nil
	}
	need := s.taskHold(ctx, t)
	wasRunning := t.LastStatus == taskStatusRunning
	markTaskStopped(t, now, "")
	releaseOnInstance(rec.Value, need, wasRunning)
	op, err := state.PutOp(state.InstanceKey(cluster, instID), rec.Value, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	return []store.Op{op}, nil
}

// markTaskStopped records that t has stopped: desired and last status
// STOPPED, stop times, its containers STOPPED. reason is kept only if the
// task has none yet. The caller bumps the version.
func markTaskStopped(t *ecs.Task, now *ecs.Time, reason string) {
	t.DesiredStatus = taskStatusStopped
	t.LastStatus = taskStatusStopped
	if t.StoppingAt == nil {
		t.StoppingAt = now
	}
	t.StoppedAt = now
	t.ExecutionStoppedAt = now
	if t.StoppedReason == "" {
		t.StoppedReason = reason
	}
	for i := range t.Containers {
		t.Containers[i].LastStatus = taskStatusStopped
	}
}

// DescribeTasks describes up to 100 tasks by ID or ARN; unknown ones come
// back as failures with reason MISSING. Tags only with include TAGS.
func (s *Service) DescribeTasks(ctx context.Context, in *ecs.DescribeTasksRequest) (*ecs.DescribeTasksResponse, error) {
	switch {
	case len(in.Tasks) == 0:
		return nil, errInvalidParameter(msgTasksCannotBeEmpty)
	case len(in.Tasks) > 100:
		return nil, errInvalidParameter("tasks: at most 100 tasks per request, got %d", len(in.Tasks))
	}
	for i, f := range in.Include {
		if !ecs.ValidTaskField(f) {
			return nil, errInvalidParameter("include[%d]: %q is not TAGS", i, f)
		}
	}
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeTasksResponse{Tasks: []ecs.Task{}, Failures: []ecs.Failure{}}
	for _, ref := range in.Tasks {
		refCluster, id, err := idRef(ref, "task", "tasks")
		if err != nil || (refCluster != "" && refCluster != name) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: ref, Reason: "MISSING"})
			continue
		}
		rec, err := state.Get[ecs.Task](ctx, s.st, state.TaskKey(name, id))
		if state.IsNotFound(err) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: s.taskARN(name, id), Reason: "MISSING"})
			continue
		}
		if err != nil {
			return nil, errServer(err)
		}
		t := *rec.Value
		if !slices.Contains(in.Include, ecs.TaskFieldTAGS) {
			t.Tags = nil
		}
		out.Tasks = append(out.Tasks, t)
	}
	return out, nil
}

// ListTasks lists the ARNs of a cluster's tasks whose desiredStatus is the
// one asked (RUNNING by default; PENDING matches nothing, as in ECS),
// narrowed by family, service (group "service:NAME"), container instance,
// startedBy and launch type. berth has no daemons, so daemonName matches
// nothing.
func (s *Service) ListTasks(ctx context.Context, in *ecs.ListTasksRequest) (*ecs.ListTasksResponse, error) {
	desired := in.DesiredStatus
	if desired == "" {
		desired = ecs.DesiredStatusRUNNING
	}
	if !ecs.ValidDesiredStatus(desired) {
		return nil, errInvalidParameter("desiredStatus: %q is not one of RUNNING, PENDING, STOPPED", in.DesiredStatus)
	}
	if in.LaunchType != "" && !ecs.ValidLaunchType(in.LaunchType) {
		return nil, errInvalidParameter("launchType: %q is not one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES", in.LaunchType)
	}
	instID := ""
	if in.ContainerInstance != "" {
		var err error
		if _, instID, err = idRef(in.ContainerInstance, "container-instance", "containerInstance"); err != nil {
			return nil, err
		}
	}
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	group := ""
	if in.ServiceName != "" {
		svcCluster, svc, err := serviceName(in.ServiceName, "serviceName")
		if err != nil {
			return nil, err
		}
		if svcCluster != "" && svcCluster != name {
			return nil, errServiceNotFound()
		}
		if _, err := state.Get[ecs.Service](ctx, s.st, state.ServiceKey(name, svc)); state.IsNotFound(err) {
			return nil, errServiceNotFound()
		} else if err != nil {
			return nil, errServer(err)
		}
		group = "service:" + svc
	}
	recs, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(name))
	if err != nil {
		return nil, errServer(err)
	}
	var items []*ecs.Task
	for _, r := range recs {
		t := r.Value
		switch {
		case in.DaemonName != "",
			t.DesiredStatus != desired,
			in.Family != "" && taskFamilyOf(t) != in.Family,
			group != "" && t.Group != group,
			instID != "" && (t.ContainerInstanceArn == "" || t.ContainerInstanceArn[strings.LastIndexByte(t.ContainerInstanceArn, '/')+1:] != instID),
			in.StartedBy != "" && t.StartedBy != in.StartedBy,
			in.LaunchType != "" && t.LaunchType != in.LaunchType:
			continue
		}
		items = append(items, t)
	}
	pg, next, err := page(items, taskIDOf, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListTasksResponse{TaskArns: make([]string, 0, len(pg)), NextToken: next}
	for _, t := range pg {
		out.TaskArns = append(out.TaskArns, t.TaskArn)
	}
	return out, nil
}

// taskIDOf is the ID part of a task's ARN.
func taskIDOf(t *ecs.Task) string { return t.TaskArn[strings.LastIndexByte(t.TaskArn, '/')+1:] }

// taskFamilyOf is the family of a task's task definition.
func taskFamilyOf(t *ecs.Task) string {
	a, ok := parseARN(t.TaskDefinitionArn)
	if !ok || len(a.Path) != 1 {
		return ""
	}
	family, _, _ := strings.Cut(a.Path[0], ":")
	return family
}

// runOptions are the RunTask/StartTask members that shape the task record.
type runOptions struct {
	overrides            *ecs.TaskOverride
	network              *ecs.NetworkConfiguration
	group, startedBy     string
	propagateTags        string
	tags                 []ecs.Tag
	enableExecuteCommand bool
}

// validate checks what needs no task definition.
func (o runOptions) validate() error {
	if len(o.startedBy) > 128 {
		return errInvalidParameter("startedBy: at most 128 characters")
	}
	if len(o.group) > 255 {
		return errInvalidParameter("group: at most 255 characters")
	}
	switch o.propagateTags {
	case "", ecs.PropagateTagsTASKDEFINITION, ecs.PropagateTagsNONE:
	case ecs.PropagateTagsSERVICE:
		return errInvalidParameter("propagateTags: SERVICE is only valid for tasks a service starts")
	default:
		return errInvalidParameter("propagateTags: %q is not one of TASK_DEFINITION, NONE", o.propagateTags)
	}
	if err := validateTags(o.tags, "tags"); err != nil {
		return err
	}
	if o.overrides == nil {
		return nil
	}
	if b, err := json.Marshal(o.overrides); err != nil || len(b) > 8192 {
		return errInvalidParameter(msgOverridesTooLong)
	}
	for i, co := range o.overrides.ContainerOverrides {
		p := fmt.Sprintf("overrides.containerOverrides[%d]", i)
		switch {
		case co.Name == "":
			return errInvalidParameter("%s.name: required", p)
		case co.Cpu != nil && *co.Cpu < 0:
			return errInvalidParameter("%s.cpu: must not be negative", p)
		case co.Memory != nil && *co.Memory < 6:
			return errInvalidParameter("%s.memory: at least 6 MiB", p)
		case co.MemoryReservation != nil && *co.MemoryReservation < 6:
			return errInvalidParameter("%s.memoryReservation: at least 6 MiB", p)
		case co.Memory != nil && co.MemoryReservation != nil && *co.Memory < *co.MemoryReservation:
			return errInvalidParameter("%s.memory: must be at least memoryReservation", p)
		}
	}
	if o.overrides.Cpu != "" {
		if _, err := runtaskCPU(o.overrides.Cpu); err != nil {
			return errInvalidParameter("overrides.cpu: %v", err)
		}
	}
	if o.overrides.Memory != "" {
		if _, err := runtaskMemory(o.overrides.Memory); err != nil {
			return errInvalidParameter("overrides.memory: %v", err)
		}
	}
	return nil
}

// taskLaunch is everything a new task record is built from, validated.
type taskLaunch struct {
	cluster          string
	td               *state.TaskDefinition
	opts             runOptions
	containers       []launchContainer
	need             taskNeed
	group            string
	tags             []ecs.Tag
	launchType       string
	capacityProvider string
	constraints      taskConstraints
	// strategies are the placementStrategy to place with (none: random
	// for RunTask; the controller gives services ECS's default spread).
	strategies []ecs.PlacementStrategy
	// pins are the image digests, by container name, the deployment
	// launching these tasks resolved (see pins.go).
	pins map[string]string
}

// launchContainer is one container of a task after overrides.
type launchContainer struct {
	name, image       string
	cpu               int32
	memory, memoryRes *int32
}

// prepareLaunch checks the options against the task definition and works
// out the task's containers and what it reserves.
func (s *Service) prepareLaunch(cluster string, td *state.TaskDefinition, o runOptions) (*taskLaunch, error) {
	mode := td.NetworkMode
	switch {
	case mode == ecs.NetworkModeAwsvpc && o.network == nil:
		return nil, errInvalidParameter(msgNetConfigRequired)
	case mode != ecs.NetworkModeAwsvpc && o.network != nil:
		return nil, errInvalidParameter(msgNetConfigNotValid)
	}
	byName := map[string]*ecs.ContainerOverride{}
	if o.overrides != nil {
		for i := range o.overrides.ContainerOverrides {
			co := &o.overrides.ContainerOverrides[i]
			if !slices.ContainsFunc(td.ContainerDefinitions, func(c ecs.ContainerDefinition) bool { return c.Name == co.Name }) {
				return nil, errInvalidParameter("overrides.containerOverrides[%d].name: %q is not a container of task definition %s:%d", i, co.Name, td.Family, td.Revision)
			}
			if _, dup := byName[co.Name]; dup {
				return nil, errInvalidParameter("overrides.containerOverrides[%d].name: container %q is overridden twice", i, co.Name)
			}
			byName[co.Name] = co
		}
	}
	l := &taskLaunch{cluster: cluster, td: td, opts: o, group: o.group, tags: o.tags}
	if l.group == "" {
		l.group = "family:" + td.Family
	}
	if o.propagateTags == ecs.PropagateTagsTASKDEFINITION && len(td.Tags) > 0 {
		l.tags = mergeInstanceTags(td.Tags, o.tags)
		if err := validateTags(l.tags, "tags"); err != nil {
			return nil, err
		}
	}
	var cpuSum, memSum int64
	for _, cd := range td.ContainerDefinitions {
		c := launchContainer{name: cd.Name, image: cd.Image, cpu: cd.Cpu, memory: cd.Memory, memoryRes: cd.MemoryReservation}
		if co := byName[cd.Name]; co != nil {
			if co.Cpu != nil {
				c.cpu = *co.Cpu
			}
			if co.Memory != nil {
				c.memory = co.Memory
			}
			if co.MemoryReservation != nil {
				c.memoryRes = co.MemoryReservation
			}
		}
		cpuSum += int64(c.cpu)
		// ECS reserves the soft limit when there is one, else the hard one.
		switch {
		case c.memoryRes != nil:
			memSum += int64(*c.memoryRes)
		case c.memory != nil:
			memSum += int64(*c.memory)
		}
		l.containers = append(l.containers, c)
	}
	cpuStr, memStr := td.Cpu, td.Memory
	if o.overrides != nil && o.overrides.Cpu != "" {
		cpuStr = o.overrides.Cpu
	}
	if o.overrides != nil && o.overrides.Memory != "" {
		memStr = o.overrides.Memory
	}
	var err error
	if cpuStr != "" {
		if l.need.cpu, err = runtaskCPU(cpuStr); err != nil {
			return nil, errInvalidParameter("taskDefinition: cpu %v", err)
		}
	} else {
		l.need.cpu = int32(min(cpuSum, math.MaxInt32))
	}
	if memStr != "" {
		if l.need.memory, err = runtaskMemory(memStr); err != nil {
			return nil, errInvalidParameter("taskDefinition: memory %v", err)
		}
	} else {
		l.need.memory = int32(min(memSum, math.MaxInt32))
	}
	l.need.tcp, l.need.udp = staticHostPorts(&td.TaskDefinition)
	return l, nil
}

// runtaskCPU parses a task-level cpu value: CPU units ("1024") or vCPUs
// ("1 vCPU", "0.5 vcpu").
func runtaskCPU(v string) (int32, error) {
	s := strings.TrimSpace(v)
	if num, ok := cutSuffixFold(s, "vcpu"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f <= 0 || f > 192 {
			return 0, fmt.Errorf("%q is not a vCPU amount", v)
		}
		return int32(math.Round(f * 1024)), nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number of CPU units", v)
	}
	return int32(n), nil
}

// runtaskMemory parses a task-level memory value: MiB ("512") or GB ("2 GB").
func runtaskMemory(v string) (int32, error) {
	s := strings.TrimSpace(v)
	if num, ok := cutSuffixFold(s, "gb"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f <= 0 || f > 2048 {
			return 0, fmt.Errorf("%q is not a GB amount", v)
		}
		return int32(math.Round(f * 1024)), nil
	}
	if num, ok := cutSuffixFold(s, "mb"); ok {
		s = strings.TrimSpace(num)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a number of MiB", v)
	}
	return int32(n), nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// staticHostPorts lists the host ports a task holds: in host mode every
// mapping's host port (the container port when none is given), in bridge
// mode the mappings with a host port other than 0. awsvpc and none hold no
// host ports; dynamic ports are not reserved.
func staticHostPorts(td *ecs.TaskDefinition) (tcp, udp []string) {
	mode := td.NetworkMode
	if mode == ecs.NetworkModeAwsvpc || mode == ecs.NetworkModeNone {
		return nil, nil
	}
	for _, cd := range td.ContainerDefinitions {
		for _, pm := range cd.PortMappings {
			var port int32
			switch {
			case pm.HostPort != nil && *pm.HostPort != 0:
				port = *pm.HostPort
			case mode == ecs.NetworkModeHost && pm.ContainerPort != nil:
				port = *pm.ContainerPort
			default:
				continue
			}
			p := strconv.Itoa(int(port))
			if strings.EqualFold(pm.Protocol, ecs.TransportProtocolUdp) {
				if !slices.Contains(udp, p) {
					udp = append(udp, p)
				}
			} else if !slices.Contains(tcp, p) {
				tcp = append(tcp, p)
			}
		}
	}
	return tcp, udp
}

// runLaunchType decides a RunTask task's launch type or capacity provider.
func runLaunchType(launchType string, strategy []ecs.CapacityProviderStrategyItem, c *ecs.Cluster) (string, string, error) {
	if launchType != "" {
		return launchType, "", nil
	}
	if len(strategy) > 0 {
		for i, it := range strategy {
			if !slices.Contains(c.CapacityProviders, it.CapacityProvider) {
				return "", "", errInvalidParameter("capacityProviderStrategy[%d]: %s", i, msgCPNotInCluster)
			}
		}
	} else {
		strategy = c.DefaultCapacityProviderStrategy
	}
	if len(strategy) == 0 {
		return ecs.LaunchTypeEC2, "", nil
	}
	// The provider that gets the first task: the one with a base, else the
	// heaviest (the first on a tie).
	best := 0
	for i, it := range strategy {
		if it.Base > 0 {
			best = i
			break
		}
		if it.Weight > strategy[best].Weight {
			best = i
		}
	}
	return "", strategy[best].CapacityProvider, nil
}

// newTaskRecord builds the record of a task placed on ci.
func (s *Service) newTaskRecord(l *taskLaunch, ci *ecs.ContainerInstance, now *ecs.Time) *ecs.Task {
	id := newID()
	arn := s.taskARN(l.cluster, id)
	t := &ecs.Task{
		TaskArn:              arn,
		ClusterArn:           s.clusterARN(l.cluster),
		TaskDefinitionArn:    s.taskDefARN(l.td.Family, l.td.Revision),
		ContainerInstanceArn: ci.ContainerInstanceArn,
		Containers:           make([]ecs.Container, 0, len(l.containers)),
		Overrides:            taskOverridesView(l.opts.overrides),
		LastStatus:           taskStatusProvisioning,
		DesiredStatus:        ecs.DesiredStatusRUNNING,
		HealthStatus:         ecs.HealthStatusUNKNOWN,
		Cpu:                  strconv.Itoa(int(l.need.cpu)),
		Memory:               strconv.Itoa(int(l.need.memory)),
		CreatedAt:            now,
		Group:                l.group,
		StartedBy:            l.opts.startedBy,
		LaunchType:           l.launchType,
		CapacityProviderName: l.capacityProvider,
		Version:              1,
		Tags:                 slices.Clone(l.tags),
		EnableExecuteCommand: l.opts.enableExecuteCommand,
		Attachments:          []ecs.Attachment{},
	}
	for _, a := range ci.Attributes {
		if a.Name == "ecs.availability-zone" {
			t.AvailabilityZone = a.Value
		}
	}
	for _, c := range l.containers {
		tc := ecs.Container{
			ContainerArn:    s.arn("container/" + l.cluster + "/" + id + "/" + newUUID()),
			TaskArn:         arn,
			Name:            c.name,
			Image:           c.image,
			ImageDigest:     l.pins[c.name],
			LastStatus:      "PENDING",
			HealthStatus:    ecs.HealthStatusUNKNOWN,
			NetworkBindings: []ecs.NetworkBinding{},
			Cpu:             strconv.Itoa(int(c.cpu)),
		}
		if c.memory != nil {
			tc.Memory = strconv.Itoa(int(*c.memory))
		}
		if c.memoryRes != nil {
			tc.MemoryReservation = strconv.Itoa(int(*c.memoryRes))
		}
		t.Containers = append(t.Containers, tc)
	}
	return t
}

// taskOverridesView is the overrides a task records: as given, with the
// lists ECS always returns present.
func taskOverridesView(o *ecs.TaskOverride) *ecs.TaskOverride {
	v := ecs.TaskOverride{}
	if o != nil {
		v = *o
	}
	if v.ContainerOverrides == nil {
		v.ContainerOverrides = []ecs.ContainerOverride{}
	}
	if v.InferenceAcceleratorOverrides == nil {
		v.InferenceAcceleratorOverrides = []ecs.InferenceAcceleratorOverride{}
	}
	return &v
}

// newUUID returns a random UUID in its 8-4-4-4-12 form (ECS container IDs).
func newUUID() string {
	h := newID()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// taskNeed is what one task reserves on its container instance.
type taskNeed struct {
	cpu, memory int32
	tcp, udp    []string // static host ports
}

// taskHold works out what a placed task holds on its instance: the CPU and
// memory totals recorded on the task, and the static host ports of its task
// definition.
func (s *Service) taskHold(ctx context.Context, t *ecs.Task) taskNeed {
	var n taskNeed
	if v, err := strconv.ParseInt(t.Cpu, 10, 32); err == nil {
		n.cpu = int32(v)
	}
	if v, err := strconv.ParseInt(t.Memory, 10, 32); err == nil {
		n.memory = int32(v)
	}
	family, rev, err := taskDefRef(t.TaskDefinitionArn, "taskDefinitionArn")
	if err != nil || rev == 0 {
		s.log.Warn("task holds unknown ports", "task", t.TaskArn, "taskDefinition", t.TaskDefinitionArn)
		return n
	}
	rec, err := state.Get[state.TaskDefinition](ctx, s.st, state.TaskDefKey(family, rev))
	if err != nil {
		s.log.Warn("task holds unknown ports", "task", t.TaskArn, "taskDefinition", t.TaskDefinitionArn, "err", err)
		return n
	}
	n.tcp, n.udp = staticHostPorts(&rec.Value.TaskDefinition)
	return n
}

// placementReasons are the RESOURCE failures in the order they are checked;
// the later a candidate fails, the closer it came.
func placementReasons() []string {
	return []string{"RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:PORTS", "RESOURCE:PORTS_UDP"}
}

// fitInstance returns "" if need fits in ci's remaining resources, else the
// first resource that does not fit (RESOURCE:CPU, RESOURCE:MEMORY,
// RESOURCE:PORTS for TCP, RESOURCE:PORTS_UDP for UDP host ports).
func fitInstance(ci *ecs.ContainerInstance, need taskNeed) string {
	rem := ci.RemainingResources
	reasons := placementReasons()
	switch {
	case resourceInt(rem, resourceCPU) < need.cpu:
		return reasons[0]
	case resourceInt(rem, resourceMemory) < need.memory:
		return reasons[1]
	}
	for i, set := range []struct {
		name  string
		ports []string
	}{{resourcePorts, need.tcp}, {resourcePortsUDP, need.udp}} {
		r := findResource(rem, set.name)
		if r == nil {
			continue
		}
		for _, p := range set.ports {
			if slices.Contains(r.StringSetValue, p) {
				return reasons[2+i]
			}
		}
	}
	return ""
}

// reserveOnInstance takes need from ci's remaining resources and counts a
// new (pending) task on it.
func reserveOnInstance(ci *ecs.ContainerInstance, need taskNeed) {
	if r := findResource(ci.RemainingResources, resourceCPU); r != nil {
		r.IntegerValue -= need.cpu
	}
	if r := findResource(ci.RemainingResources, resourceMemory); r != nil {
		r.IntegerValue -= need.memory
	}
	addPorts(ci, resourcePorts, need.tcp)
	addPorts(ci, resourcePortsUDP, need.udp)
	ci.PendingTasksCount++
	ci.Version++
}

// releaseOnInstance gives back what a stopped task held on ci. wasRunning
// says whether it was counted as running (lastStatus RUNNING) or pending.
func releaseOnInstance(ci *ecs.ContainerInstance, need taskNeed, wasRunning bool) {
	for _, x := range []struct {
		name string
		n    int32
	}{{resourceCPU, need.cpu}, {resourceMemory, need.memory}} {
		if r := findResource(ci.RemainingResources, x.name); r != nil {
			r.IntegerValue = min(r.IntegerValue+x.n, max(resourceInt(ci.RegisteredResources, x.name), r.IntegerValue))
		}
	}
	removePorts(ci, resourcePorts, need.tcp)
	removePorts(ci, resourcePortsUDP, need.udp)
	if wasRunning {
		ci.RunningTasksCount = max(ci.RunningTasksCount-1, 0)
	} else {
		ci.PendingTasksCount = max(ci.PendingTasksCount-1, 0)
	}
	ci.Version++
}

func addPorts(ci *ecs.ContainerInstance, name string, ports []string) {
	if len(ports) == 0 {
		return
	}
	r := findResource(ci.RemainingResources, name)
	if r == nil {
		ci.RemainingResources = append(ci.RemainingResources, ecs.Resource{Name: name, Type: resourceStringSet})
		r = &ci.RemainingResources[len(ci.RemainingResources)-1]
	}
	r.StringSetValue = append(r.StringSetValue, ports...)
}

// removePorts frees ports in ci's remaining set, except those the instance
// reserved at registration.
func removePorts(ci *ecs.ContainerInstance, name string, ports []string) {
	r := findResource(ci.RemainingResources, name)
	if r == nil || len(ports) == 0 {
		return
	}
	var reserved []string
	if reg := findResource(ci.RegisteredResources, name); reg != nil {
		reserved = reg.StringSetValue
	}
	for _, p := range ports {
		if slices.Contains(reserved, p) {
			continue
		}
		if i := slices.Index(r.StringSetValue, p); i >= 0 {
			r.StringSetValue = slices.Delete(r.StringSetValue, i, i+1)
		}
	}
}
