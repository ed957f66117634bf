package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// The agent side of the ECS semantics: what berth's agent protocol
// (internal/agentapi) does to the records. ECS's own agent uses
// RegisterContainerInstance and SubmitTaskStateChange for the same things.
//
// Task status only moves forward through taskStatusOrder; a report that
// would move a task backwards is ignored for that field. Resource
// bookkeeping on the instance follows the task:
//
//	placed (RunTask)         reserve; pendingTasksCount++
//	first reported RUNNING   pendingTasksCount--, runningTasksCount++
//	reported STOPPED         release; the count it was in--

// taskStatusOrder is the ECS task lifecycle, in order.
func taskStatusOrder() []string {
	return []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}
}

func statusRank(s string) int { return slices.Index(taskStatusOrder(), s) }

// RegisterAgent registers (or re-registers) the host of a berth agent as a
// container instance, creating the cluster if it does not exist. A saved
// instance that is gone or was deregistered meanwhile is replaced by a new
// one; any other failure is returned for the agent to retry.
func (s *Service) RegisterAgent(ctx context.Context, in *agent.RegisterRequest) (*agent.RegisterResponse, error) {
	cluster := in.Cluster
	if cluster == "" {
		cluster = defaultCluster
	}
	if _, _, err := s.activeCluster(ctx, cluster, "cluster"); err != nil {
		var e *awserr.Error
		if !errors.As(err, &e) || e.Code != ecs.ErrClusterNotFound {
			return nil, err
		}
		if _, err := s.CreateCluster(ctx, &ecs.CreateClusterRequest{ClusterName: cluster}); err != nil {
			return nil, err
		}
	}
	if in.CPU <= 0 || in.Memory <= 0 {
		return nil, errInvalidParameter("cpu, memory: an agent must offer positive CPU and memory, got %d and %d", in.CPU, in.Memory)
	}
	req := &ecs.RegisterContainerInstanceRequest{
		Cluster: cluster,
		TotalResources: []ecs.Resource{
			{Name: resourceCPU, Type: resourceInteger, IntegerValue: in.CPU},
			{Name: resourceMemory, Type: resourceInteger, IntegerValue: in.Memory},
		},
		Attributes:  in.Attributes,
		VersionInfo: &ecs.VersionInfo{AgentVersion: in.AgentVersion},
	}
	if in.Hostname != "" {
		req.InstanceIdentityDocument = fmt.Sprintf(`{"instanceId":%q}`, in.Hostname)
	}
	if in.InstanceID != "" {
		// Re-register the saved instance unless it is gone or INACTIVE
		// (deregistered meanwhile): then the host joins afresh. Any other
		// failure is returned, so the agent retries with the same ID.
		rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(cluster, in.InstanceID))
		switch {
		case err == nil && rec.Value.Status != instanceInactive:
			req.ContainerInstanceArn = s.instanceARN(cluster, in.InstanceID)
		case err != nil && !state.IsNotFound(err):
			return nil, errServer(err)
		}
	}
	ci, err := s.registerInstance(ctx, cluster, req)
	if err != nil {
		return nil, err
	}
	return &agent.RegisterResponse{ContainerInstanceArn: ci.ContainerInstanceArn, InstanceID: instanceIDOf(ci), Cluster: cluster}, nil
}

// AgentTasks returns the desired state of one instance: every task placed
// on it that the records do not show STOPPED, with its task definition.
// The tasks share their slices with the cluster index: read only.
// deregistered is true when the instance is gone or INACTIVE.
func (s *Service) AgentTasks(ctx context.Context, cluster, instanceID string) (tasks []agent.AssignedTask, deregistered bool, err error) {
	inst, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(cluster, instanceID))
	if state.IsNotFound(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if inst.Value.Status == instanceInactive {
		return nil, true, nil
	}
	recs, err := s.readInstanceTasks(ctx, cluster, inst.Value.ContainerInstanceArn)
	if err != nil {
		return nil, false, err
	}
	defs := map[string]*ecs.TaskDefinition{}
	tasks = []agent.AssignedTask{}
	for _, r := range recs {
		t := r.Value
		td, ok := defs[t.TaskDefinitionArn]
		if !ok {
			family, rev, err := taskDefRef(t.TaskDefinitionArn, "taskDefinitionArn")
			if err != nil {
				return nil, false, err
			}
			rec, err := state.Get[state.TaskDefinition](ctx, s.st, state.TaskDefKey(family, rev))
			if err != nil {
				return nil, false, fmt.Errorf("task %s: read task definition: %w", t.TaskArn, err)
			}
			td = &rec.Value.TaskDefinition
			defs[t.TaskDefinitionArn] = td
		}
		tasks = append(tasks, agent.AssignedTask{Task: agentView(t), TaskDefinition: *td})
	}
	return tasks, false, nil
}

// InstanceARN returns the ARN of a container instance of cluster.
func (s *Service) InstanceARN(cluster, id string) string { return s.instanceARN(cluster, id) }

// SetAgentConnected records whether an instance's agent is connected.
func (s *Service) SetAgentConnected(ctx context.Context, cluster, instanceID string, connected bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := state.InstanceKey(cluster, instanceID)
	rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, key)
	if err != nil {
		return err
	}
	if rec.Value.AgentConnected == connected || rec.Value.Status == instanceInactive {
		return nil
	}
	rec.Value.AgentConnected = connected
	rec.Value.Version++
	op, err := state.PutOp(key, rec.Value, rec.Revision)
	if err != nil {
		return err
	}
	_, err = s.st.Txn(ctx, op)
	return err
}

// ReportTaskStatus merges an agent's observed task status into the task
// records, and keeps the instance's resources and counts in step. Tasks
// the server has no record of on that instance come back as unknown: the
// agent must stop them.
func (s *Service) ReportTaskStatus(ctx context.Context, in *agent.StatusReport) (*agent.StatusResponse, error) {
	out := &agent.StatusResponse{}
	s.mu.Lock()
	defer s.mu.Unlock()
	instKey := state.InstanceKey(in.Cluster, in.InstanceID)
	instanceArn := s.instanceARN(in.Cluster, in.InstanceID)
	// Validate the whole report before applying any of it.
	ids := make([]string, len(in.Tasks))
	for i, ts := range in.Tasks {
		if statusRank(ts.LastStatus) < 0 {
			return nil, errInvalidParameter("tasks[%d].lastStatus: %q is not a task status", i, ts.LastStatus)
		}
		_, id, err := idRef(ts.TaskArn, "task", fmt.Sprintf("tasks[%d].taskArn", i))
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	for i, ts := range in.Tasks {
		key := state.TaskKey(in.Cluster, ids[i])
		rec, err := state.Get[ecs.Task](ctx, s.st, key)
		if state.IsNotFound(err) {
			out.Unknown = append(out.Unknown, ts.TaskArn)
			continue
		}
		if err != nil {
			return nil, errServer(err)
		}
		t := rec.Value
		if t.ContainerInstanceArn != instanceArn {
			out.Unknown = append(out.Unknown, ts.TaskArn)
			continue
		}
		if t.LastStatus == taskStatusStopped {
			continue // already final (stopped by the server while the agent was away)
		}
		wasRunning := countedRunning(t)
		wasStopped := t.LastStatus == taskStatusStopped
		digests := digestCount(t)
		if !mergeTaskStatus(t, &ts) {
			continue
		}
		t.Version++
		ops := make([]store.Op, 0, 3)
		op, err := state.PutOp(key, t, rec.Revision)
		if err != nil {
			return nil, errServer(err)
		}
		ops = append(ops, op)
		if digestCount(t) > digests {
			pinOp, ok, err := s.recordPinsOp(ctx, in.Cluster, t)
			if err != nil {
				return nil, errServer(err)
			}
			if ok {
				ops = append(ops, pinOp)
			}
		}
		nowRunning := countedRunning(t)
		nowStopped := t.LastStatus == taskStatusStopped
		if (nowStopped && !wasStopped) || (nowRunning && !wasRunning) {
			inst, err := state.Get[ecs.ContainerInstance](ctx, s.st, instKey)
			if err == nil {
				ci := inst.Value
				if nowStopped {
					releaseOnInstance(ci, s.taskHold(ctx, t), wasRunning)
				} else {
					ci.PendingTasksCount = max(ci.PendingTasksCount-1, 0)
					ci.RunningTasksCount++
					ci.Version++
				}
				op, err := state.PutOp(instKey, ci, inst.Revision)
				if err != nil {
					return nil, errServer(err)
				}
				ops = append(ops, op)
			} else if !state.IsNotFound(err) {
				return nil, errServer(err)
			}
		}
		if _, err := s.st.Txn(ctx, ops...); err != nil {
			return nil, errServer(conflictAsServer(err))
		}
	}
	return out, nil
}

// countedRunning reports whether t is counted in its instance's
// runningTasksCount: it reached RUNNING and has not stopped.
func countedRunning(t *ecs.Task) bool {
	return t.StartedAt != nil && t.LastStatus != taskStatusStopped
}

// mergeTaskStatus applies an observed status to t. It never moves
// lastStatus backwards; it reports whether anything changed.
func mergeTaskStatus(t *ecs.Task, ts *agent.TaskStatus) bool {
	changed := false
	if statusRank(ts.LastStatus) > statusRank(t.LastStatus) {
		t.LastStatus = ts.LastStatus
		changed = true
	}
	if ts.HealthStatus != "" && ts.HealthStatus != t.HealthStatus {
		t.HealthStatus = ts.HealthStatus
		changed = true
	}
	if ts.StopCode != "" && t.StopCode == "" {
		t.StopCode = ts.StopCode
		changed = true
	}
	if ts.StoppedReason != "" && t.StoppedReason == "" {
		t.StoppedReason = ts.StoppedReason
		changed = true
	}
	for _, f := range []struct {
		dst **ecs.Time
		src *ecs.Time
	}{
		{&t.PullStartedAt, ts.PullStartedAt}, {&t.PullStoppedAt, ts.PullStoppedAt},
		{&t.StartedAt, ts.StartedAt}, {&t.StoppingAt, ts.StoppingAt},
		{&t.ExecutionStoppedAt, ts.ExecutionStoppedAt}, {&t.StoppedAt, ts.StoppedAt},
	} {
		if *f.dst == nil && f.src != nil {
			*f.dst = f.src
			changed = true
		}
	}
	if t.LastStatus == taskStatusStopped {
		t.DesiredStatus = taskStatusStopped
		if t.StoppedAt == nil {
			t.StoppedAt = ts.ExecutionStoppedAt
		}
		if t.StopCode == "" {
			t.StopCode = ecs.TaskStopCodeEssentialContainerExited
		}
	}
	if t.LastStatus == taskStatusRunning && t.Connectivity == "" {
		t.Connectivity = "CONNECTED"
		t.ConnectivityAt = t.StartedAt
	}
	for _, cs := range ts.Containers {
		i := slices.IndexFunc(t.Containers, func(c ecs.Container) bool { return c.Name == cs.Name })
		if i < 0 {
			continue
		}
		c := &t.Containers[i]
		if statusRank(cs.LastStatus) > statusRank(c.LastStatus) {
			c.LastStatus = cs.LastStatus
			changed = true
		}
		if cs.RuntimeID != "" && c.RuntimeId != cs.RuntimeID {
			c.RuntimeId = cs.RuntimeID
			changed = true
		}
		if cs.ExitCode != nil && (c.ExitCode == nil || *c.ExitCode != *cs.ExitCode) {
			c.ExitCode = cs.ExitCode
			changed = true
		}
		if cs.Reason != "" && c.Reason != cs.Reason {
			c.Reason = cs.Reason
			changed = true
		}
		if cs.HealthStatus != "" && c.HealthStatus != cs.HealthStatus {
			c.HealthStatus = cs.HealthStatus
			changed = true
		}
		if cs.ImageDigest != "" && c.ImageDigest != cs.ImageDigest {
			c.ImageDigest = cs.ImageDigest
			changed = true
		}
		if cs.NetworkBindings != nil && !slices.EqualFunc(c.NetworkBindings, cs.NetworkBindings, sameBinding) {
			c.NetworkBindings = cs.NetworkBindings
			changed = true
		}
	}
	return changed
}

func sameBinding(a, b ecs.NetworkBinding) bool {
	return a.BindIP == b.BindIP && ptrEq(a.ContainerPort, b.ContainerPort) && ptrEq(a.HostPort, b.HostPort) && a.Protocol == b.Protocol
}

func ptrEq[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// StoppedTaskExpired reports whether a task record is STOPPED and was
// stopped before cutoff (epoch seconds); the retention sweep deletes those.
func StoppedTaskExpired(t *ecs.Task, cutoff int64) bool {
	if t.LastStatus != taskStatusStopped {
		return false
	}
	at := t.StoppedAt
	if at == nil {
		at = t.ExecutionStoppedAt
	}
	if at == nil {
		at = t.CreatedAt
	}
	return at != nil && at.Unix() < cutoff
}

// SweepStoppedTasks deletes STOPPED task records older than cutoff (epoch
// seconds) from every cluster, and returns how many it deleted.
func (s *Service) SweepStoppedTasks(ctx context.Context, cutoff int64) (int, error) {
	recs, err := state.List[ecs.Task](ctx, s.st, state.TasksPrefix)
	if err != nil {
		return 0, err
	}
	var ops []store.Op
	for _, r := range recs {
		if StoppedTaskExpired(r.Value, cutoff) {
			cluster, id, err := idRef(r.Value.TaskArn, "task", "taskArn")
			if err != nil || cluster == "" {
				continue
			}
			ops = append(ops, store.DeleteIf(state.TaskKey(cluster, id), r.Revision))
		}
	}
	n := 0
	for len(ops) > 0 {
		batch := ops[:min(len(ops), 500)]
		ops = ops[len(batch):]
		if _, err := s.st.Txn(ctx, batch...); err != nil {
			var ce *store.ConflictError
			if errors.As(err, &ce) {
				continue // changed meanwhile; the next sweep sees it
			}
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}
