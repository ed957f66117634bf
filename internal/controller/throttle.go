package controller

import (
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/ecsapi"
)

// throttleState is what a deployment's task history says about launching.
type throttleState struct {
	// streak counts the failed starts since the last success.
	streak int
	// notBefore is when the deployment may launch again (zero: now).
	notBefore time.Time
	// failedTasks is the deployment's failedTasks as ECS reports it: its
	// failed starts, until it has had a success (then 0).
	failedTasks int
}

// throttle reads a deployment's task history (ECS's service throttle
// logic, derived from the records so it survives a restart and resets with
// a new deployment, whose tasks have a new startedBy):
//
//   - a failed start is a task of the deployment that reached STOPPED on
//     its own (not UserInitiated, ServiceSchedulerInitiated, lost with its
//     instance or interrupted) without running for p.CrashWindow;
//   - a success is a task that ran for p.CrashWindow;
//   - after k ≥ 2 consecutive failed starts (since the last success),
//     launches wait p.RestartDelay·2^(k-2), at most p.MaxRestartDelay,
//     counted from the last failure.
func throttle(tasks []*ecs.Task, deploymentID string, now time.Time, p Policy) throttleState {
	var lastSuccess, lastFailure time.Time
	var failures []time.Time
	succeeded := false
	for _, t := range tasks {
		if t.StartedBy != deploymentID {
			continue
		}
		started := timeOf(t.StartedAt)
		if t.LastStatus != taskStopped {
			if !started.IsZero() && !now.Before(started.Add(p.CrashWindow)) {
				succeeded = true
				lastSuccess = later(lastSuccess, started.Add(p.CrashWindow))
			}
			continue
		}
		stopped := stopTime(t)
		ranLong := !started.IsZero() && !stopped.Before(started.Add(p.CrashWindow))
		switch {
		case ranLong:
			succeeded = true
			lastSuccess = later(lastSuccess, started.Add(p.CrashWindow))
		case countsAsFailure(t):
			failures = append(failures, stopped)
		}
	}
	var st throttleState
	if !succeeded {
		st.failedTasks = len(failures)
	}
	for _, at := range failures {
		if at.After(lastSuccess) || lastSuccess.IsZero() {
			st.streak++
			lastFailure = later(lastFailure, at)
		}
	}
	if st.streak >= 2 {
		delay := p.RestartDelay
		for i := 2; i < st.streak && delay < p.MaxRestartDelay; i++ {
			delay *= 2
		}
		st.notBefore = lastFailure.Add(min(delay, p.MaxRestartDelay))
	}
	return st
}

// countsAsFailure reports whether a STOPPED task stopped on its own. A
// task the server stopped without a code (its instance deregistered with
// force) did not.
func countsAsFailure(t *ecs.Task) bool {
	switch t.StopCode {
	case "", ecs.TaskStopCodeUserInitiated, ecs.TaskStopCodeServiceSchedulerInitiated,
		ecs.TaskStopCodeSpotInterruption, ecsapi.StopCodeInstanceLost:
		return false
	}
	return true
}

// stopTime is when a STOPPED task stopped, as well as the record tells.
func stopTime(t *ecs.Task) time.Time {
	for _, at := range []*ecs.Time{t.StoppedAt, t.ExecutionStoppedAt, t.StoppingAt, t.CreatedAt} {
		if at != nil {
			return at.Time
		}
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
