package controller

import (
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
)

// LostInstance is a container instance whose tasks are to be marked
// STOPPED: it lost contact, was deregistered, or is gone.
type LostInstance struct {
	ID, ARN string
	// Reason is the stoppedReason of its tasks; Why says what happened to
	// the instance, for the services' events.
	Reason, Why string
}

// PlanLost decides which container instances have lost their tasks. It
// does no I/O. seen holds, by instance ARN, when a Step first saw the
// instance's agent disconnected; PlanLost returns the new map to keep (an
// instance seen connected is forgotten, one newly seen disconnected is
// remembered from now).
//
//   - An ACTIVE or DRAINING instance whose agent is disconnected loses its
//     tasks once an earlier Step saw it disconnected too, at least after
//     before: the tracker has already waited its heartbeat timeout, and this
//     keeps a blip from costing the tasks. wake is when that will be (zero
//     if nothing waits).
//   - An INACTIVE instance, or one with no record, loses its tasks at once.
//
// Only instances with tasks that are not STOPPED are returned, so a lost
// instance is acted on once: MarkTasksLost leaves nothing behind to count
// again, however the agent flaps.
func PlanLost(now time.Time, instances []*ecs.ContainerInstance, tasks []*ecs.Task, seen map[string]time.Time, after time.Duration) (lost []LostInstance, next map[string]time.Time, wake time.Time) {
	next = map[string]time.Time{}
	hasTasks := map[string]bool{}
	for _, t := range tasks {
		if t.LastStatus != taskStopped && t.ContainerInstanceArn != "" {
			hasTasks[t.ContainerInstanceArn] = true
		}
	}
	known := map[string]bool{}
	for _, ci := range instances {
		arn := ci.ContainerInstanceArn
		known[arn] = true
		switch {
		case ci.Status != instanceActive && ci.Status != instanceDraining:
			if hasTasks[arn] {
				lost = append(lost, LostInstance{ID: lastPart(arn), ARN: arn, Reason: goneReason(arn), Why: whyGone})
			}
		case ci.AgentConnected:
		default:
			since, ok := seen[arn]
			if !ok || since.After(now) {
				since = now
			}
			next[arn] = since
			if !hasTasks[arn] {
				continue
			}
			due := since.Add(after)
			if ok && !now.Before(due) {
				lost = append(lost, LostInstance{ID: lastPart(arn), ARN: arn, Reason: lostReason(arn), Why: whyLost})
				continue
			}
			if !ok && !due.After(now) {
				// Seen for the first time: act at the next Step.
				due = now
			}
			if wake.IsZero() || due.Before(wake) {
				wake = due
			}
		}
	}
	for arn := range hasTasks {
		if !known[arn] && strings.Contains(arn, ":container-instance/") {
			lost = append(lost, LostInstance{ID: lastPart(arn), ARN: arn, Reason: goneReason(arn), Why: whyGone})
		}
	}
	slices.SortFunc(lost, func(a, b LostInstance) int { return strings.Compare(a.ARN, b.ARN) })
	return lost, next, wake
}
