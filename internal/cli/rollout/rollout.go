// Package rollout follows one deployment of an ECS service to its end, as
// `berth deploy`, `berth rollback` and `berth scale --wait` show it. It is
// pure: Watch.Observe takes one look at the service (DescribeServices and
// the service's tasks) and says what to print and whether it is over; the
// caller does the polling, the drawing and the clock.
//
// The deployment it follows (the PRIMARY that the caller's CreateService
// or UpdateService made) ends as:
//
//	IN_PROGRESS ──rolloutState COMPLETED (PRIMARY)──────────────▶ Completed  (exit 0)
//	     │──────rolloutState FAILED, still PRIMARY──────────────▶ Failed     (exit 1)
//	     │──────a new PRIMARY on another task definition:
//	     │         ours FAILED (circuit breaker rollback) ──────▶ RolledBack (exit 2)
//	     │         otherwise (someone deployed over it) ────────▶ Superseded (exit 1)
//	     └──────Retarget (the user asked for a rollback), then
//	            that deployment COMPLETED ──────────────────────▶ RolledBack (exit 2)
//
// Service events are printed once each, oldest first; the events the
// service had before the watch began are not.
package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Outcome is how a watch ended.
type Outcome int

// Outcomes. Pending means not over yet.
const (
	Pending Outcome = iota
	Completed
	Failed
	RolledBack
	Superseded
)

// String names the outcome as the -o json result does.
func (o Outcome) String() string {
	switch o {
	case Completed:
		return "COMPLETED"
	case Failed:
		return "FAILED"
	case RolledBack:
		return "ROLLED_BACK"
	case Superseded:
		return "SUPERSEDED"
	}
	return "IN_PROGRESS"
}

// ExitCode is the exit status of a command that ends with o.
func (o Outcome) ExitCode() int {
	switch o {
	case Completed:
		return 0
	case RolledBack:
		return 2
	}
	return 1
}

// Snapshot is one look at the service.
type Snapshot struct {
	Service types.Service
	// Tasks of the service (desired RUNNING; stopped ones are ignored).
	Tasks []types.Task
}

// Line is the state of one deployment, drawn as one line.
type Line struct {
	Status         string // PRIMARY or ACTIVE
	TaskDefinition string // family:revision
	Desired        int32
	Running        int32
	Pending        int32
	Failed         int32
	// Healthy counts the deployment's RUNNING tasks whose health is
	// HEALTHY; HealthChecked says whether any task of the service reports
	// health at all (else the count is not shown).
	Healthy       int
	HealthChecked bool
	Rollout       string
}

// barWidth is the number of cells of the progress bar.
const barWidth = 10

// Text draws the line. With bar, the PRIMARY gets a progress bar (for a
// terminal); without, it is plain text for logs.
//
//	PRIMARY  web:5  [██████░░░░] running 3/4  healthy 2  pending 1
//	ACTIVE   web:4  draining 2 → 0
func (l Line) Text(bar bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %s", l.Status, l.TaskDefinition)
	if l.Status != "PRIMARY" {
		fmt.Fprintf(&b, "  draining %d → 0", l.Running+l.Pending)
		return b.String()
	}
	if bar {
		filled := 0
		if l.Desired > 0 {
			filled = int(min(l.Running, l.Desired) * barWidth / l.Desired)
		} else if l.Running == 0 {
			filled = barWidth
		}
		b.WriteString("  [" + strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled) + "]")
	} else {
		b.WriteString(" ")
	}
	fmt.Fprintf(&b, " running %d/%d", l.Running, l.Desired)
	if l.HealthChecked {
		fmt.Fprintf(&b, "  healthy %d", l.Healthy)
	}
	if l.Pending > 0 {
		fmt.Fprintf(&b, "  pending %d", l.Pending)
	}
	if l.Failed > 0 {
		fmt.Fprintf(&b, "  failed %d", l.Failed)
	}
	if l.Rollout != "" && l.Rollout != string(types.DeploymentRolloutStateInProgress) {
		fmt.Fprintf(&b, "  %s", l.Rollout)
	}
	return b.String()
}

// Update is what one Observe found.
type Update struct {
	// Events are the service events not printed before, oldest first,
	// as "15:04:05 message" in the watch's time zone.
	Events []string
	// Lines is the state of every deployment, PRIMARY first.
	Lines []Line
	// Changed says whether Lines differ from the previous Update's.
	Changed bool
	// Outcome is Pending until the deployment ended; Reason says why it
	// ended when that is not plain success.
	Outcome Outcome
	Reason  string
}

// Watch follows one deployment. Build it with New.
type Watch struct {
	deployment string // the deployment followed
	taskDef    string // its task definition ARN
	rollback   bool   // the followed deployment is a rollback the user asked for
	reason     string // the followed deployment's last rolloutStateReason seen
	loc        *time.Location
	seen       map[string]bool
	last       []Line
}

// New follows deployment (its ID) running taskDef. before is the service
// as it was before the change (its events are not shown); loc is the time
// zone of event times.
func New(deployment, taskDef string, before []types.ServiceEvent, loc *time.Location) *Watch {
	w := &Watch{deployment: deployment, taskDef: taskDef, loc: loc, seen: map[string]bool{}}
	for _, e := range before {
		w.seen[aws.ToString(e.Id)] = true
	}
	return w
}

// Deployment is the ID of the deployment followed.
func (w *Watch) Deployment() string { return w.deployment }

// Retarget follows deployment instead: the rollback the user asked for.
// Its completion ends the watch as RolledBack.
func (w *Watch) Retarget(deployment, taskDef string) {
	w.deployment, w.taskDef, w.rollback = deployment, taskDef, true
}

// Primary returns the PRIMARY deployment of svc, if any.
func Primary(svc types.Service) (types.Deployment, bool) {
	i := slices.IndexFunc(svc.Deployments, func(d types.Deployment) bool { return aws.ToString(d.Status) == "PRIMARY" })
	if i < 0 {
		return types.Deployment{}, false
	}
	return svc.Deployments[i], true
}

// Observe takes one look and says what changed and whether it is over.
func (w *Watch) Observe(s Snapshot) Update {
	var u Update
	for _, e := range slices.Backward(s.Service.Events) {
		id := aws.ToString(e.Id)
		if w.seen[id] {
			continue
		}
		w.seen[id] = true
		u.Events = append(u.Events, aws.ToTime(e.CreatedAt).In(w.loc).Format("15:04:05")+" "+aws.ToString(e.Message))
	}
	u.Lines = lines(s)
	u.Changed = !slices.Equal(u.Lines, w.last)
	w.last = u.Lines
	u.Outcome, u.Reason = w.outcome(s.Service)
	return u
}

func (w *Watch) outcome(svc types.Service) (Outcome, string) {
	var ours *types.Deployment
	for i := range svc.Deployments {
		if aws.ToString(svc.Deployments[i].Id) == w.deployment {
			ours = &svc.Deployments[i]
		}
	}
	primary, hasPrimary := Primary(svc)
	if ours != nil && aws.ToString(ours.RolloutStateReason) != "" {
		w.reason = aws.ToString(ours.RolloutStateReason)
	}
	if ours != nil && aws.ToString(ours.Status) == "PRIMARY" {
		switch ours.RolloutState {
		case types.DeploymentRolloutStateCompleted:
			if w.rollback {
				return RolledBack, "rolled back to " + short(w.taskDef) + " as asked"
			}
			return Completed, ""
		case types.DeploymentRolloutStateFailed:
			return Failed, orElse(aws.ToString(ours.RolloutStateReason), "deployment failed")
		}
		return Pending, ""
	}
	if !hasPrimary {
		return Pending, ""
	}
	if ours != nil && ours.RolloutState == types.DeploymentRolloutStateFailed && !w.rollback {
		// The circuit breaker failed ours and started a rollback, maybe on
		// the same revision (a redeploy whose images moved: the rollback
		// returns to the old digests).
		reason := orElse(w.reason, "deployment failed")
		return RolledBack, fmt.Sprintf("%s; rolled back to %s", reason, short(aws.ToString(primary.TaskDefinition)))
	}
	if aws.ToString(primary.TaskDefinition) == w.taskDef {
		// Ours was replaced by another deployment of the same revision
		// (someone forced a new deployment): follow that one.
		w.deployment = aws.ToString(primary.Id)
		return w.outcome(svc)
	}
	failed := ours == nil || ours.RolloutState == types.DeploymentRolloutStateFailed
	if failed && !w.rollback {
		reason := orElse(w.reason, "deployment failed")
		return RolledBack, fmt.Sprintf("%s; rolled back to %s", reason, short(aws.ToString(primary.TaskDefinition)))
	}
	return Superseded, fmt.Sprintf("superseded by deployment %s of %s", aws.ToString(primary.Id), short(aws.ToString(primary.TaskDefinition)))
}

// lines draws every deployment, PRIMARY first, then the others newest
// first.
func lines(s Snapshot) []Line {
	checked := slices.ContainsFunc(s.Tasks, func(t types.Task) bool {
		return t.HealthStatus == types.HealthStatusHealthy || t.HealthStatus == types.HealthStatusUnhealthy
	})
	var out []Line
	for _, d := range s.Service.Deployments {
		l := Line{
			Status: aws.ToString(d.Status), TaskDefinition: short(aws.ToString(d.TaskDefinition)),
			Desired: d.DesiredCount, Running: d.RunningCount, Pending: d.PendingCount, Failed: d.FailedTasks,
			HealthChecked: checked, Rollout: string(d.RolloutState),
		}
		for _, t := range s.Tasks {
			if aws.ToString(t.StartedBy) == aws.ToString(d.Id) && aws.ToString(t.LastStatus) == "RUNNING" && t.HealthStatus == types.HealthStatusHealthy {
				l.Healthy++
			}
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b Line) int {
		if (a.Status == "PRIMARY") != (b.Status == "PRIMARY") {
			if a.Status == "PRIMARY" {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// short is family:revision of a task definition ARN.
func short(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
