package controller

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
)

// Record values the model has no enum for.
const (
	serviceActive   = "ACTIVE"
	serviceDraining = "DRAINING"
	serviceInactive = "INACTIVE"

	deploymentPrimary = "PRIMARY"
	deploymentActive  = "ACTIVE"

	taskRunning = "RUNNING"
	taskStopped = "STOPPED"

	instanceActive   = "ACTIVE"
	instanceDraining = "DRAINING"
)

// Input is everything Plan decides one service from.
type Input struct {
	Now     time.Time
	Service *ecs.Service
	// Tasks are the service's tasks (group "service:NAME"), STOPPED ones
	// included: they are the failure history throttling reads.
	Tasks []*ecs.Task
	// Instances are the cluster's container instances, in any status.
	Instances []Instance
	// HealthChecked says, by task definition ARN, whether the task
	// definition has an essential container with a health check: a task of
	// one is healthy only once its healthStatus is HEALTHY.
	HealthChecked map[string]bool
	// Matches says, by instance ARN, whether the service's and its task
	// definition's memberOf constraints accept the instance (where a DAEMON
	// service runs). nil accepts every instance.
	Matches map[string]bool
	// LastCompleted is the service's last deployment that reached
	// COMPLETED, for a circuit breaker rollback once that deployment has
	// left the record (nil: unknown). One still in the record wins.
	LastCompleted *Completed
	// TargetHealth is, by task ARN, how the target groups of a service with
	// loadBalancers see its tasks (a task missing is not healthy there).
	TargetHealth map[string]TargetHealth
	// ImageDigests are, by deployment ID and container name, the image
	// digests the service's deployments resolved: a rollback to the same
	// task definition is a rollback only if they differ.
	ImageDigests map[string]map[string]string
	Policy       Policy
}

// TargetHealth is how a task's target groups see it.
type TargetHealth struct {
	// Healthy: every target group of the service reports the task healthy.
	Healthy bool
	// Unhealthy names a target group that reports the task unhealthy.
	Unhealthy string
}

// Instance is a container instance as Plan sees it.
type Instance struct {
	ARN       string
	Status    string // ACTIVE, DRAINING or INACTIVE
	Connected bool   // agentConnected
	AZ        string // the ecs.availability-zone attribute
	// OtherTasks counts the instance's tasks that are not STOPPED and
	// belong to no DAEMON service: a DRAINING instance keeps its daemon
	// tasks until those are gone, as ECS does.
	OtherTasks int
}

// Policy tunes the service reconciler. DefaultPolicy gives the defaults.
type Policy struct {
	// RestartDelay is the wait before launching again after the second
	// consecutive failed start of a deployment; it doubles with each
	// further one, up to MaxRestartDelay. The first failure is retried at
	// once. A new deployment starts with a clean slate.
	RestartDelay    time.Duration
	MaxRestartDelay time.Duration
	// CrashWindow: a task that stops on its own (not asked to by a user or
	// the scheduler, and not lost with its instance) before it has run this
	// long counts as a failed start; one that runs this long is a success
	// and resets the count.
	CrashWindow time.Duration
	// SteadyRepeat is how often "has reached a steady state" is repeated
	// while a service stays steady (ECS: every 6 hours).
	SteadyRepeat time.Duration
	// EventRepeat is how long a repeated "was unable to place a task" or
	// "is unable to consistently start tasks" event is held back.
	EventRepeat time.Duration
}

// DefaultPolicy returns the defaults: restart delay 10 s doubling to 5 min,
// crash window 30 s, steady state repeated every 6 h, failure events at
// most every 5 min.
func DefaultPolicy() Policy {
	return Policy{
		RestartDelay:    10 * time.Second,
		MaxRestartDelay: 5 * time.Minute,
		CrashWindow:     30 * time.Second,
		SteadyRepeat:    6 * time.Hour,
		EventRepeat:     5 * time.Minute,
	}
}

// Output is what Plan decided for one service.
type Output struct {
	// Stops are applied first, then Launches, then the service changes.
	Stops    []Stop
	Launches []Launch
	// Events are messages to add to the service's events, oldest first.
	Events []string
	// Deployments are changes to deployments, by ID.
	Deployments []DeploymentChange
	// DesiredCount, when set, is the service's (and its PRIMARY
	// deployment's) new desiredCount: DAEMON services run one task per
	// eligible instance.
	DesiredCount *int32
	// Inactive moves a DRAINING service with no task left to INACTIVE.
	Inactive bool
	// Rollback, when set, starts a circuit breaker rollback: a new PRIMARY
	// deployment (applied after Deployments), with its event.
	Rollback *Rollback
	// Wake, when set, is when the plan would decide differently with
	// nothing else changing (a restart delay running out).
	Wake time.Time
}

// Stop asks for one task to stop.
type Stop struct {
	TaskArn, StopCode, Reason string
}

// Launch asks for tasks of one deployment: Count tasks placed by the
// scheduler (REPLICA), or one on each of Instances (DAEMON, instance ARNs).
type Launch struct {
	DeploymentID   string
	TaskDefinition string
	Count          int
	Instances      []string
}

// DeploymentChange changes one deployment. Zero members change nothing.
type DeploymentChange struct {
	ID                 string
	Remove             bool
	DesiredCount       *int32
	FailedTasks        *int32
	RolloutState       string
	RolloutStateReason string
}

// ServiceChanged reports whether o changes the service record beyond
// events.
func (o *Output) ServiceChanged() bool {
	return len(o.Deployments) > 0 || o.DesiredCount != nil || o.Inactive || o.Rollback != nil
}

// Plan decides what to do about one service: which tasks to launch and
// stop, which events to tell, and how its deployments and status move on.
// It does no I/O. The rules:
//
//   - Tasks are live (desiredStatus RUNNING, not STOPPED), stopping
//     (desiredStatus STOPPED, not yet STOPPED) or STOPPED. A task is
//     healthy when live, RUNNING and, if its task definition has a health
//     check, HEALTHY. A RUNNING task reported UNHEALTHY after the service's
//     health check grace period is stopped.
//   - REPLICA: the PRIMARY deployment's live tasks on ACTIVE instances are
//     kept; every other live task (an older deployment's, or on a DRAINING
//     instance) is retired. Missing kept tasks are launched (replacement
//     first), as long as the tasks not STOPPED stay within maximumPercent
//     of desiredCount; retiring tasks that are not healthy are stopped at
//     once, healthy ones only while the healthy tasks left stay at or
//     above minimumHealthyPercent. Kept tasks beyond desiredCount are
//     stopped (scale-in), least desirable first (see chooseStops).
//   - DAEMON: one task of the PRIMARY deployment on every ACTIVE instance
//     the constraints accept, launched when the instance's agent is
//     connected and nothing of the service is left on it. An older
//     deployment's task is stopped first (maximumPercent is at most 100),
//     for as many instances at a time as minimumHealthyPercent allows. Tasks
//     on instances the constraints no longer accept are stopped; on a
//     DRAINING instance, once its other tasks are gone.
//   - Launches of a deployment whose tasks keep failing to start wait
//     (see throttle); the wait ends with a success or a new deployment.
//   - The PRIMARY's circuit breaker, when enabled, fails it (and may roll
//     back) once enough of its tasks failed; a FAILED PRIMARY launches no
//     more tasks (see breaker.go).
//   - Bookkeeping: an older deployment with no task left is removed; the
//     PRIMARY becomes COMPLETED, and the service tells it has reached a
//     steady state, when it is the only deployment and exactly
//     desiredCount tasks run healthy with nothing else left; a DRAINING
//     service with no task left becomes INACTIVE.
func Plan(in Input) Output {
	var out Output
	svc := in.Service
	if svc == nil || svc.Status == serviceInactive {
		return out
	}
	v := newView(in)
	if svc.DeploymentController != nil && svc.DeploymentController.Type != ecs.DeploymentControllerTypeECS {
		// Task sets (CODE_DEPLOY, EXTERNAL) are not berth's to run.
		if svc.Status == serviceDraining && len(v.live)+len(v.stopping) == 0 {
			out.Inactive = true
		}
		return out
	}
	if v.primary == nil && svc.Status == serviceActive {
		return out // nothing to run (not an ECS-controller record)
	}
	v.stopUnhealthy()
	v.checkBreaker()
	var st steadiness
	if svc.SchedulingStrategy == ecs.SchedulingStrategyDAEMON {
		st = v.planDaemon()
	} else {
		st = v.planReplica()
	}
	v.bookkeeping(st)
	return v.out
}

// view is one service's tasks, classified, and the plan being built.
type view struct {
	in       Input
	svc      *ecs.Service
	primary  *ecs.Deployment
	inst     map[string]Instance
	live     []*ecs.Task // desiredStatus RUNNING, not STOPPED
	stopping []*ecs.Task // desiredStatus STOPPED, not yet STOPPED
	stopped  map[string]bool
	// tripped: the PRIMARY's circuit breaker trips in this plan.
	tripped bool
	out     Output
}

func newView(in Input) *view {
	v := &view{in: in, svc: in.Service, inst: map[string]Instance{}, stopped: map[string]bool{}}
	for i := range v.svc.Deployments {
		if v.svc.Deployments[i].Status == deploymentPrimary {
			v.primary = &v.svc.Deployments[i]
		}
	}
	for _, ci := range in.Instances {
		v.inst[ci.ARN] = ci
	}
	tasks := slices.Clone(in.Tasks)
	slices.SortFunc(tasks, func(a, b *ecs.Task) int {
		return cmp.Or(timeOf(a.CreatedAt).Compare(timeOf(b.CreatedAt)), strings.Compare(a.TaskArn, b.TaskArn))
	})
	for _, t := range tasks {
		switch {
		case t.LastStatus == taskStopped:
		case t.DesiredStatus == taskStopped:
			v.stopping = append(v.stopping, t)
		default:
			v.live = append(v.live, t)
		}
	}
	return v
}

// policy returns the input's policy with defaults filled in.
func (v *view) policy() Policy {
	p, d := v.in.Policy, DefaultPolicy()
	if p.RestartDelay <= 0 {
		p.RestartDelay = d.RestartDelay
	}
	if p.MaxRestartDelay <= 0 {
		p.MaxRestartDelay = d.MaxRestartDelay
	}
	if p.CrashWindow <= 0 {
		p.CrashWindow = d.CrashWindow
	}
	if p.SteadyRepeat <= 0 {
		p.SteadyRepeat = d.SteadyRepeat
	}
	if p.EventRepeat <= 0 {
		p.EventRepeat = d.EventRepeat
	}
	return p
}

// healthy reports whether t counts toward minimumHealthyPercent.
func (v *view) healthy(t *ecs.Task) bool {
	if v.stopped[t.TaskArn] || t.DesiredStatus == taskStopped || t.LastStatus != taskRunning {
		return false
	}
	if len(v.svc.LoadBalancers) > 0 && !v.in.TargetHealth[t.TaskArn].Healthy {
		return false
	}
	return !v.in.HealthChecked[t.TaskDefinitionArn] || t.HealthStatus == ecs.HealthStatusHEALTHY
}

// awaitingTargetHealth reports whether t, a task of a service behind a
// load balancer, is RUNNING and fine but for its target groups, none of
// which reports it unhealthy: its health is not known yet.
func (v *view) awaitingTargetHealth(t *ecs.Task) bool {
	if len(v.svc.LoadBalancers) == 0 || t.LastStatus != taskRunning || t.DesiredStatus == taskStopped {
		return false
	}
	if v.in.HealthChecked[t.TaskDefinitionArn] && t.HealthStatus != ecs.HealthStatusHEALTHY {
		return false
	}
	th := v.in.TargetHealth[t.TaskArn]
	return !th.Healthy && th.Unhealthy == ""
}

// stop plans a stop of t (once).
func (v *view) stop(t *ecs.Task, code, reason string) {
	if v.stopped[t.TaskArn] {
		return
	}
	v.stopped[t.TaskArn] = true
	v.out.Stops = append(v.out.Stops, Stop{TaskArn: t.TaskArn, StopCode: code, Reason: reason})
}

// alive returns the live tasks not planned to stop.
func (v *view) alive(ts []*ecs.Task) []*ecs.Task {
	return slices.DeleteFunc(slices.Clone(ts), func(t *ecs.Task) bool { return v.stopped[t.TaskArn] })
}

// stopUnhealthy stops RUNNING tasks whose container health check failed,
// or that a target group of the service reports unhealthy, after the
// service's health check grace period.
func (v *view) stopUnhealthy() {
	grace := time.Duration(0)
	if g := v.svc.HealthCheckGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	for _, t := range v.live {
		if t.LastStatus != taskRunning || t.StartedAt == nil || v.in.Now.Before(t.StartedAt.Add(grace)) {
			continue
		}
		switch {
		case t.HealthStatus == ecs.HealthStatusUNHEALTHY && v.in.HealthChecked[t.TaskDefinitionArn]:
			v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, reasonUnhealthy)
		case len(v.svc.LoadBalancers) > 0 && v.in.TargetHealth[t.TaskArn].Unhealthy != "":
			v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, reasonELBUnhealthy(v.in.TargetHealth[t.TaskArn].Unhealthy))
		}
	}
}

// percents returns the deployment configuration's minimumHealthyPercent
// and maximumPercent, with ECS's defaults.
func (v *view) percents(daemon bool) (minimum, maximum int) {
	minimum, maximum = 100, 200
	if daemon {
		minimum, maximum = 0, 100
	}
	if dc := v.svc.DeploymentConfiguration; dc != nil {
		if dc.MinimumHealthyPercent != nil {
			minimum = int(*dc.MinimumHealthyPercent)
		}
		if dc.MaximumPercent != nil {
			maximum = int(*dc.MaximumPercent)
		}
	}
	return minimum, maximum
}

// steadiness is what the strategy planners found, for the bookkeeping.
type steadiness struct {
	// steady: exactly desired tasks of the PRIMARY run healthy where they
	// belong, nothing else is left, and nothing was planned.
	steady bool
}

// planReplica plans a REPLICA service (see Plan).
func (v *view) planReplica() steadiness {
	n := 0
	if v.svc.Status == serviceActive {
		n = int(max(v.svc.DesiredCount, 0))
	}
	minPct, maxPct := v.percents(false)
	lower := (n*minPct + 99) / 100
	upper := n * maxPct / 100

	var keepers, retiring []*ecs.Task
	for _, t := range v.alive(v.live) {
		ci, ok := v.inst[t.ContainerInstanceArn]
		if v.primary != nil && t.StartedBy == v.primary.Id && (!ok || ci.Status != instanceDraining) {
			keepers = append(keepers, t)
		} else {
			retiring = append(retiring, t)
		}
	}
	// Scale-in: kept tasks beyond desiredCount.
	if extra := len(keepers) - n; extra > 0 {
		for _, t := range v.chooseStops(keepers, extra) {
			v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, scalingReason(v.primary.Id))
		}
		keepers = v.alive(keepers)
	}
	// Launch what is missing, within maximumPercent (every task not STOPPED
	// counts, those being stopped too).
	launched := 0
	if v.primary != nil {
		notStopped := len(v.live) + len(v.stopping)
		if want := min(n-len(keepers), upper-notStopped); want > 0 && v.mayLaunch() {
			v.out.Launches = append(v.out.Launches, Launch{DeploymentID: v.primary.Id, TaskDefinition: v.primary.TaskDefinition, Count: want})
			launched = want
		}
	}
	// Retire: not healthy at once; healthy ones within minimumHealthyPercent.
	var healthyRetiring []*ecs.Task
	healthy := 0
	for _, t := range keepers {
		if v.healthy(t) {
			healthy++
		}
	}
	for _, t := range retiring {
		switch {
		case v.healthy(t):
			healthy++
			healthyRetiring = append(healthyRetiring, t)
		case v.awaitingTargetHealth(t):
			// Not known healthy yet, not known failing either (a target
			// still in its first health checks, e.g. after a restart of
			// the data plane): neither counted nor stopped.
		default:
			v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, v.retireReason(t))
		}
	}
	if budget := healthy - lower; budget > 0 {
		for _, t := range v.chooseStops(healthyRetiring, min(budget, len(healthyRetiring))) {
			v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, v.retireReason(t))
		}
	}
	steady := launched == 0 && len(v.out.Stops) == 0 && len(retiring) == 0 && len(v.stopping) == 0 && len(keepers) == n
	for _, t := range keepers {
		steady = steady && v.healthy(t)
	}
	return steadiness{steady: steady}
}

// retireReason says why a retiring task is stopped.
func (v *view) retireReason(t *ecs.Task) string {
	if ci, ok := v.inst[t.ContainerInstanceArn]; ok && ci.Status == instanceDraining {
		return drainingReason(ci.ARN)
	}
	return scalingReason(t.StartedBy)
}

// planDaemon plans a DAEMON service (see Plan).
func (v *view) planDaemon() steadiness {
	active := v.svc.Status == serviceActive
	byInstance := map[string][]*ecs.Task{}
	for _, t := range v.live {
		byInstance[t.ContainerInstanceArn] = append(byInstance[t.ContainerInstanceArn], t)
	}
	stoppingOn := map[string]bool{}
	for _, t := range v.stopping {
		stoppingOn[t.ContainerInstanceArn] = true
	}
	var eligible []Instance
	for _, ci := range v.in.Instances {
		if active && ci.Status == instanceActive && (v.in.Matches == nil || v.in.Matches[ci.ARN]) {
			eligible = append(eligible, ci)
		}
	}
	slices.SortFunc(eligible, func(a, b Instance) int { return strings.Compare(a.ARN, b.ARN) })
	isEligible := map[string]bool{}
	for _, ci := range eligible {
		isEligible[ci.ARN] = true
	}
	n := len(eligible)
	minPct, _ := v.percents(true)
	lower := (n*minPct + 99) / 100

	// Tasks where the service does not belong.
	for arn, ts := range byInstance {
		if isEligible[arn] {
			continue
		}
		ci, ok := v.inst[arn]
		switch {
		case !active:
			for _, t := range ts {
				v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, scalingReason(t.StartedBy))
			}
		case !ok || (ci.Status != instanceActive && ci.Status != instanceDraining):
			// Gone or INACTIVE: the instance health sweep stops these.
		case ci.Status == instanceDraining:
			if ci.OtherTasks == 0 {
				for _, t := range ts {
					v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, drainingReason(arn))
				}
			}
		default:
			for _, t := range ts {
				v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, unmatchedReason(arn))
			}
		}
	}

	healthyInstances := 0
	for _, ci := range eligible {
		if slices.ContainsFunc(byInstance[ci.ARN], v.healthy) {
			healthyInstances++
		}
	}
	budget := healthyInstances - lower
	var launchOn []string
	steady := true
	for _, ci := range eligible {
		var mine, old []*ecs.Task
		for _, t := range v.alive(byInstance[ci.ARN]) {
			if v.primary != nil && t.StartedBy == v.primary.Id {
				mine = append(mine, t)
			} else {
				old = append(old, t)
			}
		}
		switch {
		case len(mine) > 0:
			// Keep the best one; stop duplicates, and older deployments'
			// tasks once the new one is healthy.
			slices.SortStableFunc(mine, func(a, b *ecs.Task) int { return cmpBool(v.healthy(b), v.healthy(a)) })
			for _, t := range mine[1:] {
				v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, scalingReason(t.StartedBy))
			}
			if v.healthy(mine[0]) {
				for _, t := range old {
					v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, scalingReason(t.StartedBy))
				}
			}
			steady = steady && len(mine) == 1 && len(old) == 0 && v.healthy(mine[0]) && !stoppingOn[ci.ARN]
		case len(old) > 0:
			// Replace: stop first (maximumPercent ≤ 100), launch once gone.
			steady = false
			if slices.ContainsFunc(old, v.healthy) {
				if budget <= 0 {
					continue
				}
				budget--
			}
			for _, t := range old {
				v.stop(t, ecs.TaskStopCodeServiceSchedulerInitiated, scalingReason(t.StartedBy))
			}
		case stoppingOn[ci.ARN]:
			steady = false
		default:
			steady = false
			if ci.Connected && v.primary != nil {
				launchOn = append(launchOn, ci.ARN)
			}
		}
	}
	if len(launchOn) > 0 && v.mayLaunch() {
		v.out.Launches = append(v.out.Launches, Launch{DeploymentID: v.primary.Id, TaskDefinition: v.primary.TaskDefinition, Instances: launchOn})
	}
	if active && (int(v.svc.DesiredCount) != n || (v.primary != nil && int(v.primary.DesiredCount) != n)) {
		c := int32(n)
		v.out.DesiredCount = &c
	}
	steady = steady && len(v.out.Stops) == 0 && len(v.out.Launches) == 0
	for arn := range byInstance {
		steady = steady && isEligible[arn]
	}
	return steadiness{steady: steady}
}

// mayLaunch reports whether the PRIMARY deployment may launch now, and
// plans the wait and the event when it may not.
func (v *view) mayLaunch() bool {
	if v.tripped || v.primary.RolloutState == ecs.DeploymentRolloutStateFAILED {
		return false // a FAILED deployment launches no more (circuit breaker)
	}
	p := v.policy()
	th := throttle(v.in.Tasks, v.primary.Id, v.in.Now, p)
	if th.notBefore.IsZero() || !v.in.Now.Before(th.notBefore) {
		return true
	}
	v.out.Wake = th.notBefore
	v.out.Events = append(v.out.Events, unableToStartEvent(v.svc.ServiceName))
	return false
}

// bookkeeping plans the deployments' and the service's own changes.
func (v *view) bookkeeping(st steadiness) {
	svc := v.svc
	staying := map[string]int{} // live, not planned to stop
	for _, t := range v.alive(v.live) {
		staying[t.StartedBy]++
	}
	leftAfter := map[string]int{} // not STOPPED, stops planned now included
	for _, t := range append(slices.Clone(v.live), v.stopping...) {
		leftAfter[t.StartedBy]++
	}
	others := 0
	for _, d := range svc.Deployments {
		if d.Status == deploymentPrimary {
			continue
		}
		if leftAfter[d.Id] == 0 {
			v.out.Deployments = append(v.out.Deployments, DeploymentChange{ID: d.Id, Remove: true})
			continue
		}
		others++
		if c := int32(staying[d.Id]); c != d.DesiredCount {
			v.out.Deployments = append(v.out.Deployments, DeploymentChange{ID: d.Id, DesiredCount: &c})
		}
	}
	if p := v.primary; p != nil {
		ch := DeploymentChange{ID: p.Id}
		th := throttle(v.in.Tasks, p.Id, v.in.Now, v.policy())
		if f := int32(th.failedTasks); f != p.FailedTasks {
			ch.FailedTasks = &f
		}
		if v.tripped {
			ch.RolloutState = ecs.DeploymentRolloutStateFAILED
			ch.RolloutStateReason = breakerReason
		} else if st.steady && others == 0 && svc.Status == serviceActive && p.RolloutState == ecs.DeploymentRolloutStateINPROGRESS {
			ch.RolloutState = ecs.DeploymentRolloutStateCOMPLETED
			ch.RolloutStateReason = "ECS deployment " + p.Id + " completed."
			v.out.Events = append(v.out.Events, deploymentCompletedEvent(svc.ServiceName, p.Id))
		}
		if ch != (DeploymentChange{ID: p.Id}) {
			v.out.Deployments = append(v.out.Deployments, ch)
		}
	}
	if st.steady && others == 0 && svc.Status == serviceActive && v.announceSteady() {
		v.out.Events = append(v.out.Events, steadyStateEvent(svc.ServiceName))
	}
	if stops := v.out.Stops; len(stops) > 0 {
		for _, st := range stops {
			if tg, ok := strings.CutPrefix(st.Reason, reasonELBPrefix+"(target-group "); ok {
				v.out.Events = append(v.out.Events, targetUnhealthyEvent(svc.ServiceName, st.TaskArn, strings.TrimSuffix(tg, ")")))
			}
		}
		v.out.Events = append(v.out.Events, stoppedEvent(svc.ServiceName, stops))
	}
	if svc.Status == serviceDraining && len(v.live)+len(v.stopping) == 0 {
		v.out.Inactive = true
		v.out.Events = append(v.out.Events, "(service "+svc.ServiceName+") was deleted.")
	}
}

// announceSteady reports whether a steady service should say so: its
// newest event says something else, or said it longer ago than
// SteadyRepeat.
func (v *view) announceSteady() bool {
	if len(v.svc.Events) == 0 {
		return true
	}
	ev := v.svc.Events[0]
	if ev.Message != steadyStateEvent(v.svc.ServiceName) {
		return true
	}
	return ev.CreatedAt == nil || !v.in.Now.Before(ev.CreatedAt.Add(v.policy().SteadyRepeat))
}

// timeOf returns t's time, or the zero time.
func timeOf(t *ecs.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
