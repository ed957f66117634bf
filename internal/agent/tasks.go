package agent

import (
	"context"
	"slices"
	"sync"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/internal/runtime"
)

// Reasons for stops the agent decides on its own.
const (
	reasonWithdrawn    = "Task is no longer assigned to this container instance"
	reasonUnknown      = "The server has no record of this task on this container instance"
	reasonDeregistered = "Container instance deregistered"
)

// pollPlan is what applying one PollResponse does to the tasks.
type pollPlan struct {
	// Start are assigned tasks without a runner: each gets one.
	Start []agent.AssignedTask
	// Update are assigned tasks with a runner: its desired state is
	// replaced.
	Update []agent.AssignedTask
	// Withdraw are ARNs of runners whose task the server no longer
	// assigns: they stop.
	Withdraw []string
	// Forget are ARNs of finished tasks the server no longer lists.
	Forget []string
	// Orphans are task IDs with containers found at start-up that the
	// server does not assign: their containers are stopped.
	Orphans []string
}

// planPoll decides how to apply the desired state in assigned. live are
// the ARNs with a runner, finished those whose runner reached STOPPED (the
// server may list them until it has taken in the report), found the task
// IDs that have containers from before the agent started (only for the
// first poll; nil after).
func planPoll(assigned []agent.AssignedTask, live, finished map[string]bool, found []string) pollPlan {
	var p pollPlan
	listed := map[string]bool{}
	listedIDs := map[string]bool{}
	for _, at := range assigned {
		arn := at.Task.TaskArn
		listed[arn] = true
		listedIDs[taskIDOf(arn)] = true
		switch {
		case live[arn]:
			p.Update = append(p.Update, at)
		case finished[arn]:
		default:
			p.Start = append(p.Start, at)
		}
	}
	for _, arn := range sortedKeys(live) {
		if !listed[arn] {
			p.Withdraw = append(p.Withdraw, arn)
		}
	}
	for _, arn := range sortedKeys(finished) {
		if !listed[arn] {
			p.Forget = append(p.Forget, arn)
		}
	}
	for _, id := range found {
		if !listedIDs[id] {
			p.Orphans = append(p.Orphans, id)
		}
	}
	return p
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// taskManager keeps one runner per task and applies the desired state to
// them.
type taskManager struct {
	deps runnerDeps
	// onFinish is called when a runner reached STOPPED.
	onFinish func(arn string)

	mu       sync.Mutex
	runners  map[string]*runnerHandle // by task ARN
	finished map[string]bool
	found    map[string][]runtime.Container // by task ID, until the first poll
	adopted  bool                           // the first poll was applied
	wg       sync.WaitGroup
}

type runnerHandle struct {
	box    *desiredBox
	taskID string
}

func newTaskManager(d runnerDeps, found map[string][]runtime.Container) *taskManager {
	return &taskManager{deps: d, runners: map[string]*runnerHandle{}, finished: map[string]bool{}, found: found}
}

// apply applies one PollResponse's tasks.
func (m *taskManager) apply(ctx context.Context, tasks []agent.AssignedTask) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := make(map[string]bool, len(m.runners))
	for arn := range m.runners {
		live[arn] = true
	}
	var found []string
	if !m.adopted {
		for id := range m.found {
			found = append(found, id)
		}
		slices.Sort(found)
	}
	p := planPoll(tasks, live, m.finished, found)
	for _, at := range p.Start {
		var adopt []runtime.Container
		if !m.adopted {
			adopt = m.found[taskIDOf(at.Task.TaskArn)]
		}
		m.startLocked(ctx, at, adopt)
	}
	for _, at := range p.Update {
		m.runners[at.Task.TaskArn].box.set(at)
	}
	for _, arn := range p.Withdraw {
		m.runners[arn].box.stop("", reasonWithdrawn)
	}
	for _, arn := range p.Forget {
		delete(m.finished, arn)
	}
	for _, id := range p.Orphans {
		for _, c := range m.found[id] {
			if c.State != runtime.StateRunning {
				continue
			}
			m.deps.log.Info("stopping container of a task the server does not assign", "task", id, "container", c.Name, "id", c.ID)
			m.wg.Go(func() {
				if err := m.deps.rt.Stop(ctx, c.ID, 0); err != nil && ctx.Err() == nil {
					m.deps.log.Warn("stop orphan container", "id", c.ID, "err", err)
				}
			})
		}
	}
	m.adopted = true
	m.found = nil
}

func (m *taskManager) startLocked(ctx context.Context, at agent.AssignedTask, adopt []runtime.Container) {
	r := newTaskRunner(m.deps, at, adopt)
	arn := at.Task.TaskArn
	m.runners[arn] = &runnerHandle{box: r.box, taskID: r.taskID}
	m.wg.Go(func() {
		stopped := r.run(ctx)
		m.mu.Lock()
		delete(m.runners, arn)
		if stopped {
			m.finished[arn] = true
		}
		m.mu.Unlock()
		if stopped && m.onFinish != nil {
			m.onFinish(arn)
		}
	})
}

// stop makes the listed tasks stop whatever the server wants, and forgets
// finished ones. It returns the ARNs that have no runner (any more).
func (m *taskManager) stop(arns []string, code, reason string) (idle []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, arn := range arns {
		if h, ok := m.runners[arn]; ok {
			h.box.stop(code, reason)
		} else {
			idle = append(idle, arn)
		}
		delete(m.finished, arn)
	}
	return idle
}

// stopAll stops every task.
func (m *taskManager) stopAll(code, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.runners {
		h.box.stop(code, reason)
	}
	m.finished = map[string]bool{}
}

// active reports whether a task ID has a runner, or might still get one
// (before the first poll, every task found at start-up might).
func (m *taskManager) active(taskID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.adopted {
		return true
	}
	for _, h := range m.runners {
		if h.taskID == taskID {
			return true
		}
	}
	return false
}

// wait waits for every runner to return (after ctx ended).
func (m *taskManager) wait() { m.wg.Wait() }
