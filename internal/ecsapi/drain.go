package ecsapi

import (
	"context"
	"fmt"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// A task of a service behind a load balancer leaves its target groups
// before its containers are signalled, so no client sees the ECS-on-EC2
// 502s of a SIGTERM that came first:
//
//	RUNNING ──StopTask / the scheduler──▶ DEACTIVATING   desiredStatus STOPPED, but the
//	                                          │          agent is still told RUNNING
//	     targets deregistered, drained (no    │
//	     request in flight, or the target     ▼
//	     group's deregistration delay over)  STOPPING ──▶ agent signals ──▶ STOPPED
//	                                         (ReleaseDrained)
//
// internal/targets drives the middle step. A task that is not RUNNING when
// it is asked to stop, or whose service has no load balancer, goes straight
// to the agent. The agent's own reports cannot move a task back from
// DEACTIVATING (statuses only move forward), and a task that exits on its
// own meanwhile is STOPPED as usual.

const (
	taskStatusDeactivating = "DEACTIVATING"
	taskStatusStopping     = "STOPPING"
)

// drainsFirstLocked reports whether t, about to be asked to stop, must
// first leave its service's load balancers: it is RUNNING and its service
// has loadBalancers.
func (s *Service) drainsFirstLocked(ctx context.Context, cluster string, t *ecs.Task) (bool, error) {
	if t.LastStatus != taskStatusRunning {
		return false, nil
	}
	name, ok := ServiceOfTask(t)
	if !ok {
		return false, nil
	}
	rec, err := state.Get[serviceRecord](ctx, s.st, state.ServiceKey(cluster, name))
	if state.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(rec.Value.LoadBalancers) > 0, nil
}

// agentView is the task as its agent must see it: a task still draining
// from its load balancers is a plain RUNNING task, desired RUNNING, until
// ReleaseDrained. (An agent that restarts while the task drains must not
// take DEACTIVATING for a stop it was in the middle of.)
func agentView(t *ecs.Task) ecs.Task {
	v := *t
	if v.LastStatus == taskStatusDeactivating {
		v.LastStatus, v.DesiredStatus = taskStatusRunning, taskStatusRunning
	}
	return v
}

// ReleaseDrained lets the agent stop a DEACTIVATING task (see above): its
// lastStatus becomes STOPPING. A task in any other status is left alone;
// it reports whether the task was released.
func (s *Service) ReleaseDrained(ctx context.Context, cluster, taskArn string) (bool, error) {
	_, id, err := idRef(taskArn, "task", "taskArn")
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := state.TaskKey(cluster, id)
	for attempt := 1; ; attempt++ {
		rec, err := state.Get[ecs.Task](ctx, s.st, key)
		if state.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		t := rec.Value
		if t.LastStatus != taskStatusDeactivating {
			return false, nil
		}
		t.LastStatus = taskStatusStopping
		t.Version++
		op, err := state.PutOp(key, t, rec.Revision)
		if err != nil {
			return false, err
		}
		_, err = s.st.Txn(ctx, op)
		if isConflict(err) && attempt < maxPlacementAttempts {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("release task %s: %w", taskArn, err)
		}
		return true, nil
	}
}

// beginStopLocked moves t, just asked to stop, to DEACTIVATING when it
// must drain first.
func (s *Service) beginStopLocked(ctx context.Context, cluster string, t *ecs.Task) error {
	drain, err := s.drainsFirstLocked(ctx, cluster, t)
	if err != nil {
		return err
	}
	if drain {
		t.LastStatus = taskStatusDeactivating
	}
	return nil
}
