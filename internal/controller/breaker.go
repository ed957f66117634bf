package controller

import (
	"crypto/rand"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/berth-io/berth/api/ecs"
)

// The deployment circuit breaker (deploymentConfiguration.
// deploymentCircuitBreaker), as ECS runs it for rolling updates:
//
//	PRIMARY IN_PROGRESS ──(failed tasks ≥ threshold)──▶ FAILED
//	    rollback off, or nothing completed before: the FAILED PRIMARY stays
//	        and launches no more tasks (its running ones are kept) until a
//	        new deployment (UpdateService) replaces it;
//	    rollback on: a new PRIMARY on the task definition of the last
//	        COMPLETED deployment; the FAILED one becomes ACTIVE and its
//	        tasks are retired within minimumHealthyPercent/maximumPercent
//	        like any older deployment's.
//
// threshold = ⌈0.5 × desiredCount⌉, at least 3, at most 200. Failed tasks
// are the deployment's tasks that failed to start or stopped on their own
// before running CrashWindow (see throttle), and those stopped for failing
// their health checks. Unlike failedTasks, the count does not reset when a
// task succeeds; a new deployment starts from zero (its tasks have a new
// startedBy).

// Wording of a tripped breaker, as ECS words it.
const breakerReason = "ECS deployment circuit breaker: tasks failed to start."

func deploymentFailedEvent(service, deploymentID string) string {
	return "(service " + service + ") (deployment " + deploymentID + ") deployment failed: tasks failed to start."
}

func rollingBackEvent(service, deploymentID string) string {
	return "(service " + service + ") rolling back to deployment " + deploymentID + "."
}

// Completed is a deployment that reached COMPLETED: what a rollback goes
// back to.
type Completed struct {
	DeploymentID   string
	TaskDefinition string
}

// Rollback asks for a new PRIMARY deployment on To's task definition,
// replacing the PRIMARY deployment Failed (which becomes ACTIVE, keeping
// rolloutState FAILED). Base, when set, is the completed deployment still
// in the record, whose configuration (launch type, network, …) the new
// deployment copies; otherwise it copies the failed one's.
type Rollback struct {
	Failed string
	To     Completed
	Base   *ecs.Deployment
}

// breakerThreshold is the number of failed tasks that trips the breaker of
// a deployment of desired tasks.
func breakerThreshold(desired int32) int {
	return min(max((int(max(desired, 0))+1)/2, 3), 200)
}

// breakerEnabled reports whether the service's circuit breaker is on, and
// whether it rolls back.
func (v *view) breakerEnabled() (enabled, rollback bool) {
	dc := v.svc.DeploymentConfiguration
	if dc == nil || dc.DeploymentCircuitBreaker == nil || !dc.DeploymentCircuitBreaker.Enable {
		return false, false
	}
	return true, dc.DeploymentCircuitBreaker.Rollback
}

// breakerFailures counts the failed tasks of deployment id (see above),
// the stops planned so far included.
func (v *view) breakerFailures(id string, crashWindow time.Duration) int {
	n := 0
	for _, t := range v.in.Tasks {
		if t.StartedBy != id {
			continue
		}
		switch {
		case t.DesiredStatus == taskStopped && t.StopCode == ecs.TaskStopCodeServiceSchedulerInitiated && failedHealthChecks(t.StoppedReason):
			n++
		case v.stopped[t.TaskArn] && slices.ContainsFunc(v.out.Stops, func(s Stop) bool { return s.TaskArn == t.TaskArn && failedHealthChecks(s.Reason) }):
			n++
		case t.LastStatus == taskStopped && countsAsFailure(t):
			started, stopped := timeOf(t.StartedAt), stopTime(t)
			if started.IsZero() || stopped.Before(started.Add(crashWindow)) {
				n++
			}
		}
	}
	return n
}

// checkBreaker trips the PRIMARY deployment's circuit breaker when its
// failed tasks reach the threshold. It runs after the unhealthy tasks are
// planned to stop and before anything is launched.
func (v *view) checkBreaker() {
	p := v.primary
	enabled, rollback := v.breakerEnabled()
	if p == nil || !enabled || v.svc.Status != serviceActive || p.RolloutState != ecs.DeploymentRolloutStateINPROGRESS {
		return
	}
	if v.breakerFailures(p.Id, v.policy().CrashWindow) < breakerThreshold(v.svc.DesiredCount) {
		return
	}
	v.tripped = true
	v.out.Events = append(v.out.Events, deploymentFailedEvent(v.svc.ServiceName, p.Id))
	if !rollback {
		return
	}
	target, base := v.rollbackTarget()
	if target == nil || target.TaskDefinition == "" || (target.TaskDefinition == p.TaskDefinition && !v.otherImages(target.DeploymentID, p.Id)) {
		// Nothing completed before, or the failed deployment already runs
		// what completed (it was a rollback itself, or a redeploy of the
		// same images): stay FAILED.
		return
	}
	v.out.Rollback = &Rollback{Failed: p.Id, To: *target, Base: base}
	v.out.Events = append(v.out.Events, rollingBackEvent(v.svc.ServiceName, target.DeploymentID))
}

// otherImages reports whether deployments a and b resolved their images
// to different digests (a redeploy of the same task definition after a tag
// moved). Unknown digests count as the same: nothing to go back to.
func (v *view) otherImages(a, b string) bool {
	pa, pb := v.in.ImageDigests[a], v.in.ImageDigests[b]
	if len(pa) == 0 || len(pb) == 0 {
		return false
	}
	return !maps.Equal(pa, pb)
}

// newDeploymentID returns an ID of ECS's form: "ecs-svc/" and 19 digits
// (as internal/ecsapi makes them).
func newDeploymentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	const lo, span = 1_000_000_000_000_000_000, 9_000_000_000_000_000_000
	return "ecs-svc/" + strconv.FormatUint(lo+binary.BigEndian.Uint64(b[:])%span, 10)
}

// startRollback applies r to cur (whose deployments sameShape checked):
// the failed PRIMARY becomes ACTIVE, a new PRIMARY runs r.To's task
// definition, and so does the service. It reports whether cur changed.
func startRollback(cur *ecs.Service, r *Rollback, at *ecs.Time) bool {
	i := slices.IndexFunc(cur.Deployments, func(d ecs.Deployment) bool { return d.Id == r.Failed && d.Status == deploymentPrimary })
	if i < 0 {
		return false
	}
	failed := &cur.Deployments[i]
	base := *failed
	if r.Base != nil {
		base = *r.Base
	}
	id := newDeploymentID()
	d := ecs.Deployment{
		Id:                          id,
		Status:                      deploymentPrimary,
		TaskDefinition:              r.To.TaskDefinition,
		DesiredCount:                cur.DesiredCount,
		CreatedAt:                   at,
		UpdatedAt:                   at,
		LaunchType:                  base.LaunchType,
		CapacityProviderStrategy:    base.CapacityProviderStrategy,
		PlatformVersion:             base.PlatformVersion,
		PlatformFamily:              base.PlatformFamily,
		NetworkConfiguration:        base.NetworkConfiguration,
		ServiceConnectConfiguration: base.ServiceConnectConfiguration,
		VolumeConfigurations:        base.VolumeConfigurations,
		VpcLatticeConfigurations:    base.VpcLatticeConfigurations,
	}
	if failed.RolloutState != "" {
		d.RolloutState = ecs.DeploymentRolloutStateINPROGRESS
		d.RolloutStateReason = "ECS deployment " + id + " in progress."
	}
	failed.Status, failed.UpdatedAt = deploymentActive, at
	cur.Deployments = append([]ecs.Deployment{d}, cur.Deployments...)
	cur.TaskDefinition = r.To.TaskDefinition
	return true
}

// rollbackTarget returns the last COMPLETED deployment: the newest one in
// the record that is not the PRIMARY, else the one Input remembers.
func (v *view) rollbackTarget() (*Completed, *ecs.Deployment) {
	var best *ecs.Deployment
	for i := range v.svc.Deployments {
		d := &v.svc.Deployments[i]
		if d.Status == deploymentPrimary || d.RolloutState != ecs.DeploymentRolloutStateCOMPLETED {
			continue
		}
		if best == nil || timeOf(d.CreatedAt).After(timeOf(best.CreatedAt)) {
			best = d
		}
	}
	if best != nil {
		return &Completed{DeploymentID: best.Id, TaskDefinition: best.TaskDefinition}, best
	}
	if c := v.in.LastCompleted; c != nil && c.DeploymentID != v.primary.Id {
		return c, nil
	}
	return nil, nil
}
