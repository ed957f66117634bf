package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/ecsapi"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	tdV1 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
	tdV2 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
	tdHC = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3" // with a health check
)

func instARN(id string) string {
	return "arn:aws:ecs:us-east-1:123456789012:container-instance/c/" + id
}
func taskARN(id string) string { return "arn:aws:ecs:us-east-1:123456789012:task/c/" + id }

// inst is an ACTIVE, connected instance in availability zone az.
func inst(id, az string) Instance {
	return Instance{ARN: instARN(id), Status: instanceActive, Connected: true, AZ: az}
}

func draining(i Instance) Instance     { i.Status = instanceDraining; return i }
func disconnected(i Instance) Instance { i.Connected = false; return i }

// dep is a deployment running td.
func dep(id, status, td string, desired int32) ecs.Deployment {
	return ecs.Deployment{Id: id, Status: status, TaskDefinition: td, DesiredCount: desired,
		RolloutState: ecs.DeploymentRolloutStateINPROGRESS}
}

// replica is an ACTIVE REPLICA service with the given deployments (the
// first one's desiredCount is the service's).
func replica(minPct, maxPct int32, deps ...ecs.Deployment) *ecs.Service {
	return &ecs.Service{ServiceName: "web", Status: serviceActive, SchedulingStrategy: ecs.SchedulingStrategyREPLICA,
		DesiredCount: deps[0].DesiredCount, Deployments: deps,
		DeploymentConfiguration: &ecs.DeploymentConfiguration{MinimumHealthyPercent: &minPct, MaximumPercent: &maxPct}}
}

func daemon(minPct int32, deps ...ecs.Deployment) *ecs.Service {
	s := replica(minPct, 100, deps...)
	s.SchedulingStrategy = ecs.SchedulingStrategyDAEMON
	return s
}

func at(d time.Duration) *ecs.Time { return ecs.NewTime(t0.Add(d)) }

// task is a task of deployment d on instance i, created at t0-age.
type taskOpt func(*ecs.Task)

func task(id, d, i, lastStatus string, opts ...taskOpt) *ecs.Task {
	t := &ecs.Task{TaskArn: taskARN(id), StartedBy: d, ContainerInstanceArn: instARN(i), LastStatus: lastStatus,
		DesiredStatus: ecs.DesiredStatusRUNNING, TaskDefinitionArn: tdV1, Group: "service:web", CreatedAt: at(-time.Hour)}
	if lastStatus == taskRunning {
		t.StartedAt = at(-time.Hour)
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func created(d time.Duration) taskOpt { return func(t *ecs.Task) { t.CreatedAt = at(d) } }
func taskDef(td string) taskOpt       { return func(t *ecs.Task) { t.TaskDefinitionArn = td } }
func health(h string) taskOpt         { return func(t *ecs.Task) { t.HealthStatus = h } }
func beingStopped() taskOpt           { return func(t *ecs.Task) { t.DesiredStatus = taskStopped } }

// failedAt: the task stopped on its own at t0+d without running long.
func failedAt(d time.Duration) taskOpt {
	return func(t *ecs.Task) {
		t.LastStatus, t.DesiredStatus, t.StopCode = taskStopped, taskStopped, ecs.TaskStopCodeTaskFailedToStart
		t.StartedAt, t.StoppedAt = nil, at(d)
	}
}

// exitedAfterRun: the task ran an hour, then its essential container exited at t0+d.
func exitedAfterRun(d time.Duration) taskOpt {
	return func(t *ecs.Task) {
		t.LastStatus, t.DesiredStatus, t.StopCode = taskStopped, taskStopped, ecs.TaskStopCodeEssentialContainerExited
		t.StartedAt, t.StoppedAt = at(d-time.Hour), at(d)
	}
}

func tasks(ts ...*ecs.Task) []*ecs.Task { return ts }

func i32(v int32) *int32 { return &v }

func scaleStop(id, d string) Stop {
	return Stop{TaskArn: taskARN(id), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: scalingReason(d)}
}

func TestPlanReplica(t *testing.T) {
	a, b, c := inst("a", "az1"), inst("b", "az2"), inst("c", "az1")
	steadyEvents := []string{deploymentCompletedEvent("web", "d1"), steadyStateEvent("web")}
	completed := []DeploymentChange{{ID: "d1", RolloutState: ecs.DeploymentRolloutStateCOMPLETED, RolloutStateReason: "ECS deployment d1 completed."}}
	tests := []struct {
		name      string
		svc       *ecs.Service
		tasks     []*ecs.Task
		instances []Instance
		want      Output
	}{
		{
			name:      "scale up from nothing",
			svc:       replica(100, 200, dep("d1", "PRIMARY", tdV1, 3)),
			instances: []Instance{a, b},
			want:      Output{Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Count: 3}}},
		},
		{
			name:      "desired count running: completed and steady",
			svc:       replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			want:      Output{Events: steadyEvents, Deployments: completed},
		},
		{
			name:      "pending tasks are not steady",
			svc:       replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "PENDING")),
			instances: []Instance{a, b},
			want:      Output{},
		},
		{
			name: "replaces a task that stopped unexpectedly",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdV1, 3)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d1", "c", "STOPPED", exitedAfterRun(-time.Second))),
			instances: []Instance{a, b, c},
			want:      Output{Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Count: 1}}},
		},
		{
			// az1 runs 3 (a: 2, c: 1), az2 runs 1: both stops come from
			// az1, the first from a (the busier instance), leaving 1 and 1.
			name: "scale-in keeps the spread balanced",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING", created(-3*time.Hour)), task("t2", "d1", "a", "RUNNING"),
				task("t3", "d1", "c", "RUNNING", created(-2*time.Hour)), task("t4", "d1", "b", "RUNNING")),
			instances: []Instance{a, b, c},
			want: Output{Stops: []Stop{scaleStop("t2", "d1"), scaleStop("t3", "d1")},
				Events: []string{"(service web) has stopped 2 running tasks: (task t2) (task t3)."}},
		},
		{
			name: "scale-in stops tasks on a disconnected instance first",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "a", "RUNNING"),
				task("t3", "d1", "b", "RUNNING")),
			instances: []Instance{a, disconnected(b)},
			want: Output{Stops: []Stop{scaleStop("t3", "d1")},
				Events: []string{"(service web) has stopped 1 running tasks: (task t3)."}},
		},
		{
			name: "scale-in stops a pending task before a running one on a tie",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdV1, 1)),
			tasks: tasks(task("t1", "d1", "a", "PENDING", created(-2*time.Hour)),
				task("t2", "d1", "a", "RUNNING")),
			instances: []Instance{a},
			want: Output{Stops: []Stop{scaleStop("t1", "d1")},
				Events: []string{"(service web) has stopped 1 running tasks: (task t1)."}},
		},
		{
			name:      "scale to zero stops everything at once",
			svc:       replica(100, 200, dep("d1", "PRIMARY", tdV1, 0)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			want: Output{Stops: []Stop{scaleStop("t1", "d1"), scaleStop("t2", "d1")},
				Events: []string{"(service web) has stopped 2 running tasks: (task t1) (task t2)."}},
		},
		{
			name:      "rolling 100/200: new tasks start before any old one stops",
			svc:       replica(100, 200, dep("d2", "PRIMARY", tdV2, 2), dep("d1", "ACTIVE", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			want:      Output{Launches: []Launch{{DeploymentID: "d2", TaskDefinition: tdV2, Count: 2}}},
		},
		{
			name: "rolling 100/200: a RUNNING task with a health check counts only once HEALTHY",
			svc:  replica(100, 200, dep("d2", "PRIMARY", tdHC, 2), dep("d1", "ACTIVE", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("n1", "d2", "a", "RUNNING", taskDef(tdHC), health("UNKNOWN")),
				task("n2", "d2", "b", "RUNNING", taskDef(tdHC), health("HEALTHY"))),
			instances: []Instance{a, b},
			// healthy: t1 t2 n2 = 3, minimum 2: one old task may go.
			want: Output{Stops: []Stop{scaleStop("t1", "d1")},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: i32(1)}},
				Events:      []string{"(service web) has stopped 1 running tasks: (task t1)."}},
		},
		{
			name: "rolling 100/200: old tasks stop once the new ones are healthy",
			svc:  replica(100, 200, dep("d2", "PRIMARY", tdV2, 2), dep("d1", "ACTIVE", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("n1", "d2", "a", "RUNNING"), task("n2", "d2", "b", "RUNNING")),
			instances: []Instance{a, b},
			want: Output{Stops: []Stop{scaleStop("t1", "d1"), scaleStop("t2", "d1")},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: i32(0)}},
				Events:      []string{"(service web) has stopped 2 running tasks: (task t1) (task t2)."}},
		},
		{
			name: "rolling 50/100: stop half first, no room to start",
			svc:  replica(50, 100, dep("d2", "PRIMARY", tdV2, 4), dep("d1", "ACTIVE", tdV1, 4)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d1", "a", "RUNNING"), task("t4", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			// One from each instance, keeping the spread.
			want: Output{Stops: []Stop{scaleStop("t1", "d1"), scaleStop("t2", "d1")},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: i32(2)}},
				Events:      []string{"(service web) has stopped 2 running tasks: (task t1) (task t2)."}},
		},
		{
			name: "rolling 50/100: room again once stopped",
			svc:  replica(50, 100, dep("d2", "PRIMARY", tdV2, 4), dep("d1", "ACTIVE", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d1", "a", "STOPPED", beingStopped()), task("t4", "d1", "b", "RUNNING", beingStopped())),
			instances: []Instance{a, b},
			// t4 is still being stopped and counts against maximumPercent.
			want: Output{Launches: []Launch{{DeploymentID: "d2", TaskDefinition: tdV2, Count: 1}}},
		},
		{
			name:      "old deployment drained: removed, primary completed",
			svc:       replica(100, 200, dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 0)),
			tasks:     tasks(task("t1", "d1", "a", "STOPPED", beingStopped()), task("n1", "d2", "a", "RUNNING")),
			instances: []Instance{a},
			want: Output{
				Deployments: []DeploymentChange{{ID: "d1", Remove: true},
					{ID: "d2", RolloutState: ecs.DeploymentRolloutStateCOMPLETED, RolloutStateReason: "ECS deployment d2 completed."}},
				Events: []string{deploymentCompletedEvent("web", "d2"), steadyStateEvent("web")}},
		},
		{
			name:      "draining instance: the replacement starts first",
			svc:       replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, draining(b), c},
			want:      Output{Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Count: 1}}},
		},
		{
			name: "draining instance: the old task stops once the replacement is healthy",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d1", "c", "RUNNING")),
			instances: []Instance{a, draining(b), c},
			want: Output{Stops: []Stop{{TaskArn: taskARN("t2"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: drainingReason(instARN("b"))}},
				Events: []string{"(service web) has stopped 1 running tasks: (task t2)."}},
		},
		{
			name:      "draining instance with 50/100: stop first, within the minimum",
			svc:       replica(50, 100, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "b", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, draining(b)},
			want: Output{Stops: []Stop{{TaskArn: taskARN("t1"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: drainingReason(instARN("b"))}},
				Events: []string{"(service web) has stopped 1 running tasks: (task t1)."}},
		},
		{
			name: "unhealthy task is stopped and replaced",
			svc:  replica(100, 200, dep("d1", "PRIMARY", tdHC, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING", taskDef(tdHC), health("HEALTHY")),
				task("t2", "d1", "b", "RUNNING", taskDef(tdHC), health("UNHEALTHY"))),
			instances: []Instance{a, b},
			want: Output{Stops: []Stop{{TaskArn: taskARN("t2"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: reasonUnhealthy}},
				Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdHC, Count: 1}},
				Events:   []string{"(service web) has stopped 1 running tasks: (task t2)."}},
		},
		{
			name: "draining service: every task stopped",
			svc: func() *ecs.Service {
				s := replica(100, 200, dep("d1", "PRIMARY", tdV1, 0))
				s.Status = serviceDraining
				return s
			}(),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING")),
			instances: []Instance{a},
			want: Output{Stops: []Stop{scaleStop("t1", "d1")},
				Events: []string{"(service web) has stopped 1 running tasks: (task t1)."}},
		},
		{
			name: "draining service with no task left becomes INACTIVE",
			svc: func() *ecs.Service {
				s := replica(100, 200, dep("d1", "PRIMARY", tdV1, 0))
				s.Status = serviceDraining
				return s
			}(),
			tasks:     tasks(task("t1", "d1", "a", "STOPPED", exitedAfterRun(0))),
			instances: []Instance{a},
			want:      Output{Inactive: true, Events: []string{"(service web) was deleted."}},
		},
		{
			name: "external deployment controller: nothing to run",
			svc: func() *ecs.Service {
				s := replica(100, 200, dep("d1", "PRIMARY", tdV1, 2))
				s.DeploymentController = &ecs.DeploymentController{Type: ecs.DeploymentControllerTypeEXTERNAL}
				return s
			}(),
			instances: []Instance{a},
			want:      Output{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(Input{Now: t0, Service: tt.svc, Tasks: tt.tasks, Instances: tt.instances,
				HealthChecked: map[string]bool{tdHC: true}})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanSteadyStateAnnouncedOnce(t *testing.T) {
	svc := replica(100, 200, dep("d1", "PRIMARY", tdV1, 1))
	svc.Deployments[0].RolloutState = ecs.DeploymentRolloutStateCOMPLETED
	in := Input{Now: t0, Service: svc, Tasks: tasks(task("t1", "d1", "a", "RUNNING")), Instances: []Instance{inst("a", "")}}

	svc.Events = []ecs.ServiceEvent{{Message: steadyStateEvent("web"), CreatedAt: at(-time.Hour)}}
	if got := Plan(in); len(got.Events) != 0 {
		t.Errorf("announced an hour ago: got events %q, want none", got.Events)
	}
	svc.Events[0].CreatedAt = at(-7 * time.Hour)
	if got, want := Plan(in).Events, []string{steadyStateEvent("web")}; !cmp.Equal(got, want) {
		t.Errorf("announced 7 hours ago: got events %q, want %q", got, want)
	}
	svc.Events = append([]ecs.ServiceEvent{{Message: "(service web) has started 1 tasks: (task t1).", CreatedAt: at(-time.Minute)}}, svc.Events...)
	if got, want := Plan(in).Events, []string{steadyStateEvent("web")}; !cmp.Equal(got, want) {
		t.Errorf("after a change: got events %q, want %q", got, want)
	}
}

func TestPlanThrottle(t *testing.T) {
	a := inst("a", "")
	p := DefaultPolicy() // restart delay 10 s doubling, at most 5 min
	launch := []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Count: 1}}
	unable := unableToStartEvent("web")
	tests := []struct {
		name       string
		deps       []ecs.Deployment
		tasks      []*ecs.Task
		wantLaunch bool
		wantWake   time.Time
		wantFailed int32
	}{
		{
			name:       "first failure is retried at once",
			tasks:      tasks(task("f1", "d1", "a", "", failedAt(-time.Second))),
			wantLaunch: true, wantFailed: 1,
		},
		{
			name:     "second consecutive failure waits the restart delay",
			tasks:    tasks(task("f1", "d1", "a", "", failedAt(-20*time.Second)), task("f2", "d1", "a", "", failedAt(-time.Second))),
			wantWake: t0.Add(9 * time.Second), wantFailed: 2,
		},
		{
			name: "the wait doubles with each failure",
			tasks: tasks(task("f1", "d1", "a", "", failedAt(-90*time.Second)), task("f2", "d1", "a", "", failedAt(-60*time.Second)),
				task("f3", "d1", "a", "", failedAt(-30*time.Second)), task("f4", "d1", "a", "", failedAt(-time.Second))),
			wantWake: t0.Add(39 * time.Second), wantFailed: 4,
		},
		{
			name: "after the wait it launches again",
			tasks: tasks(task("f1", "d1", "a", "", failedAt(-120*time.Second)), task("f2", "d1", "a", "", failedAt(-100*time.Second)),
				task("f3", "d1", "a", "", failedAt(-80*time.Second)), task("f4", "d1", "a", "", failedAt(-41*time.Second))),
			wantLaunch: true, wantFailed: 4,
		},
		{
			name: "the wait is capped",
			tasks: func() []*ecs.Task {
				var ts []*ecs.Task
				for i := range 12 {
					ts = append(ts, task(string(rune('a'+i)), "d1", "a", "", failedAt(-time.Duration(12-i)*time.Second)))
				}
				return ts
			}(),
			wantWake: t0.Add(-time.Second + 5*time.Minute), wantFailed: 12,
		},
		{
			name: "a crash soon after starting is a failure too",
			tasks: tasks(task("f1", "d1", "a", "", failedAt(-20*time.Second)),
				task("f2", "d1", "a", "", func(t *ecs.Task) {
					t.LastStatus, t.DesiredStatus, t.StopCode = taskStopped, taskStopped, ecs.TaskStopCodeEssentialContainerExited
					t.StartedAt, t.StoppedAt = at(-3*time.Second), at(-time.Second)
				})),
			wantWake: t0.Add(9 * time.Second), wantFailed: 2,
		},
		{
			name: "a success resets the count",
			tasks: tasks(task("f1", "d1", "a", "", failedAt(-3*time.Hour)), task("f2", "d1", "a", "", failedAt(-3*time.Hour)),
				task("ok", "d1", "a", "", exitedAfterRun(-time.Minute)), task("f3", "d1", "a", "", failedAt(-time.Second))),
			wantLaunch: true,
		},
		{
			name: "stops by a user, the scheduler or a lost instance are no failures",
			tasks: tasks(
				task("u", "d1", "a", "", failedAt(-3*time.Second), func(t *ecs.Task) { t.StopCode = ecs.TaskStopCodeUserInitiated }),
				task("s", "d1", "a", "", failedAt(-2*time.Second), func(t *ecs.Task) { t.StopCode = ecs.TaskStopCodeServiceSchedulerInitiated }),
				task("l", "d1", "a", "", failedAt(-time.Second), func(t *ecs.Task) { t.StopCode = ecsapi.StopCodeInstanceLost })),
			wantLaunch: true,
		},
		{
			name:       "a new deployment starts afresh",
			deps:       []ecs.Deployment{dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 0)},
			tasks:      tasks(task("f1", "d1", "a", "", failedAt(-20*time.Second)), task("f2", "d1", "a", "", failedAt(-time.Second))),
			wantLaunch: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := tt.deps
			if deps == nil {
				deps = []ecs.Deployment{dep("d1", "PRIMARY", tdV1, 1)}
			}
			got := Plan(Input{Now: t0, Service: replica(100, 200, deps...), Tasks: tt.tasks, Instances: []Instance{a}, Policy: p})
			wantLaunches := []Launch(nil)
			if tt.wantLaunch {
				wantLaunches = launch
				if deps[0].Id == "d2" {
					wantLaunches = []Launch{{DeploymentID: "d2", TaskDefinition: tdV2, Count: 1}}
				}
			}
			if diff := cmp.Diff(wantLaunches, got.Launches); diff != "" {
				t.Errorf("launches (-want +got):\n%s", diff)
			}
			if !got.Wake.Equal(tt.wantWake) {
				t.Errorf("got wake %v, want %v", got.Wake, tt.wantWake)
			}
			hasUnable := false
			for _, e := range got.Events {
				hasUnable = hasUnable || e == unable
			}
			if want := !tt.wantWake.IsZero(); hasUnable != want {
				t.Errorf("got events %q; want the unable-to-start event: %v", got.Events, want)
			}
			var failed int32
			for _, d := range got.Deployments {
				if d.ID == deps[0].Id && d.FailedTasks != nil {
					failed = *d.FailedTasks
				}
			}
			if failed != tt.wantFailed {
				t.Errorf("got failedTasks %d, want %d", failed, tt.wantFailed)
			}
		})
	}
}

func TestPlanDaemon(t *testing.T) {
	a, b, c := inst("a", ""), inst("b", ""), inst("c", "")
	daemonStop := func(id, reason string) Stop {
		return Stop{TaskArn: taskARN(id), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: reason}
	}
	tests := []struct {
		name      string
		svc       *ecs.Service
		tasks     []*ecs.Task
		instances []Instance
		matches   map[string]bool
		want      Output
	}{
		{
			name:      "one task on every instance, including one that just joined",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b, c},
			want: Output{Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Instances: []string{instARN("c")}}},
				DesiredCount: i32(3)},
		},
		{
			name:      "steady with one healthy task per instance",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			want: Output{Events: []string{deploymentCompletedEvent("web", "d1"), steadyStateEvent("web")},
				Deployments: []DeploymentChange{{ID: "d1", RolloutState: ecs.DeploymentRolloutStateCOMPLETED, RolloutStateReason: "ECS deployment d1 completed."}}},
		},
		{
			name:      "a disconnected instance gets nothing new but still counts",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING")),
			instances: []Instance{a, disconnected(b)},
			want:      Output{},
		},
		{
			name:      "a duplicate on one instance is stopped",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 1)),
			tasks:     tasks(task("t1", "d1", "a", "PENDING", created(-2*time.Hour)), task("t2", "d1", "a", "RUNNING")),
			instances: []Instance{a},
			want: Output{Stops: []Stop{scaleStop("t1", "d1")},
				Events: []string{"(service web) has stopped 1 running tasks: (task t1)."}},
		},
		{
			name:  "a DRAINING instance keeps its daemon task while other tasks run there",
			svc:   daemon(0, dep("d1", "PRIMARY", tdV1, 1)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, func() Instance {
				i := draining(b)
				i.OtherTasks = 1
				return i
			}()},
			want: Output{},
		},
		{
			name:      "a DRAINING instance loses its daemon task last",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 1)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, draining(b)},
			want: Output{Stops: []Stop{daemonStop("t2", drainingReason(instARN("b")))},
				Events: []string{"(service web) has stopped 1 running tasks: (task t2)."}},
		},
		{
			name:      "an instance the constraints no longer accept loses its task",
			svc:       daemon(0, dep("d1", "PRIMARY", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			matches:   map[string]bool{instARN("a"): true},
			want: Output{Stops: []Stop{daemonStop("t2", unmatchedReason(instARN("b")))},
				DesiredCount: i32(1),
				Events:       []string{"(service web) has stopped 1 running tasks: (task t2)."}},
		},
		{
			name:  "an instance that left (INACTIVE) is the instance sweep's",
			svc:   daemon(0, dep("d1", "PRIMARY", tdV1, 2)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, func() Instance {
				i := b
				i.Status = "INACTIVE"
				return i
			}()},
			want: Output{DesiredCount: i32(1)},
		},
		{
			name:      "new deployment, minimum 0: every old task stops at once",
			svc:       daemon(0, dep("d2", "PRIMARY", tdV2, 2), dep("d1", "ACTIVE", tdV1, 2)),
			tasks:     tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			instances: []Instance{a, b},
			want: Output{Stops: []Stop{scaleStop("t1", "d1"), scaleStop("t2", "d1")},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: i32(0)}},
				Events:      []string{"(service web) has stopped 2 running tasks: (task t1) (task t2)."}},
		},
		{
			name: "new deployment, minimum 50: half the instances at a time",
			svc:  daemon(50, dep("d2", "PRIMARY", tdV2, 4), dep("d1", "ACTIVE", tdV1, 4)),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d1", "c", "RUNNING"), task("t4", "d1", "d", "RUNNING")),
			instances: []Instance{a, b, c, inst("d", "")},
			want: Output{Stops: []Stop{scaleStop("t1", "d1"), scaleStop("t2", "d1")},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: i32(2)}},
				Events:      []string{"(service web) has stopped 2 running tasks: (task t1) (task t2)."}},
		},
		{
			name:      "new deployment: launch where the old task has stopped, wait where it is stopping",
			svc:       daemon(0, dep("d2", "PRIMARY", tdV2, 2), dep("d1", "ACTIVE", tdV1, 0)),
			tasks:     tasks(task("t1", "d1", "a", "STOPPED", beingStopped()), task("t2", "d1", "b", "RUNNING", beingStopped())),
			instances: []Instance{a, b},
			want:      Output{Launches: []Launch{{DeploymentID: "d2", TaskDefinition: tdV2, Instances: []string{instARN("a")}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(Input{Now: t0, Service: tt.svc, Tasks: tt.tasks, Instances: tt.instances, Matches: tt.matches})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanLost(t *testing.T) {
	ci := func(id, status string, connected bool) *ecs.ContainerInstance {
		return &ecs.ContainerInstance{ContainerInstanceArn: instARN(id), Status: status, AgentConnected: connected}
	}
	on := func(i string) *ecs.Task { return task("t-"+i, "", i, "RUNNING") }
	const after = 500 * time.Millisecond
	tests := []struct {
		name      string
		instances []*ecs.ContainerInstance
		tasks     []*ecs.Task
		seen      map[string]time.Time
		wantLost  []string // instance IDs
		wantSeen  map[string]time.Time
		wantWake  time.Time
	}{
		{
			name:      "first seen disconnected: remembered, not acted on",
			instances: []*ecs.ContainerInstance{ci("a", "ACTIVE", false)},
			tasks:     tasks(on("a")),
			wantSeen:  map[string]time.Time{instARN("a"): t0},
			wantWake:  t0.Add(after),
		},
		{
			name:      "still disconnected long enough: lost",
			instances: []*ecs.ContainerInstance{ci("a", "DRAINING", false)},
			tasks:     tasks(on("a")),
			seen:      map[string]time.Time{instARN("a"): t0.Add(-after)},
			wantLost:  []string{"a"},
			wantSeen:  map[string]time.Time{instARN("a"): t0.Add(-after)},
		},
		{
			name:      "not yet long enough: wait",
			instances: []*ecs.ContainerInstance{ci("a", "ACTIVE", false)},
			tasks:     tasks(on("a")),
			seen:      map[string]time.Time{instARN("a"): t0.Add(-100 * time.Millisecond)},
			wantSeen:  map[string]time.Time{instARN("a"): t0.Add(-100 * time.Millisecond)},
			wantWake:  t0.Add(400 * time.Millisecond),
		},
		{
			name:      "back in touch: forgotten",
			instances: []*ecs.ContainerInstance{ci("a", "ACTIVE", true)},
			tasks:     tasks(on("a")),
			seen:      map[string]time.Time{instARN("a"): t0.Add(-time.Minute)},
			wantSeen:  map[string]time.Time{},
		},
		{
			name:      "tasks already stopped: nothing to do, nothing to wait for",
			instances: []*ecs.ContainerInstance{ci("a", "ACTIVE", false)},
			tasks:     tasks(task("t", "", "a", "STOPPED")),
			seen:      map[string]time.Time{instARN("a"): t0.Add(-time.Minute)},
			wantSeen:  map[string]time.Time{instARN("a"): t0.Add(-time.Minute)},
		},
		{
			name:      "deregistered or gone: lost at once",
			instances: []*ecs.ContainerInstance{ci("a", "INACTIVE", false)},
			tasks:     tasks(on("a"), on("b")),
			wantLost:  []string{"a", "b"},
			wantSeen:  map[string]time.Time{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lost, seen, wake := PlanLost(t0, tt.instances, tt.tasks, tt.seen, after)
			var ids []string
			for _, l := range lost {
				ids = append(ids, l.ID)
			}
			if diff := cmp.Diff(tt.wantLost, ids); diff != "" {
				t.Errorf("lost (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSeen, seen); diff != "" {
				t.Errorf("seen (-want +got):\n%s", diff)
			}
			if !wake.Equal(tt.wantWake) {
				t.Errorf("got wake %v, want %v", wake, tt.wantWake)
			}
		})
	}
}

func TestAddEventsHoldsBackRepeats(t *testing.T) {
	svc := &ecs.Service{ServiceName: "web"}
	msg := placementEvent("web", ecs.Failure{Arn: instARN("a"), Reason: "RESOURCE:MEMORY"})
	if want := "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance a) has insufficient memory available. " + troubleshooting; msg != want {
		t.Errorf("got %q, want %q", msg, want)
	}
	if !addEvents(svc, t0, []string{msg}, 5*time.Minute) {
		t.Fatal("first event not added")
	}
	if addEvents(svc, t0.Add(time.Minute), []string{msg}, 5*time.Minute) {
		t.Error("repeat within 5 minutes added")
	}
	if !addEvents(svc, t0.Add(6*time.Minute), []string{msg}, 5*time.Minute) {
		t.Error("repeat after 5 minutes not added")
	}
	started := "(service web) has started 1 tasks: (task x)."
	addEvents(svc, t0.Add(6*time.Minute), []string{started, started}, 5*time.Minute)
	if len(svc.Events) != 4 || svc.Events[0].Message != started {
		t.Errorf("got %d events, newest %q; want 4, newest %q", len(svc.Events), svc.Events[0].Message, started)
	}
}

func TestApplyToServiceSkipsAChangedService(t *testing.T) {
	planned := replica(100, 200, dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 0))
	out := Output{Deployments: []DeploymentChange{{ID: "d1", Remove: true},
		{ID: "d2", RolloutState: ecs.DeploymentRolloutStateCOMPLETED, RolloutStateReason: "done"}}}

	cur := replica(100, 200, dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 0))
	if !applyToService(cur, planned, &out, t0) {
		t.Fatal("unchanged service: changes not applied")
	}
	if len(cur.Deployments) != 1 || cur.Deployments[0].RolloutState != ecs.DeploymentRolloutStateCOMPLETED || cur.Deployments[0].UpdatedAt == nil {
		t.Errorf("got deployments %+v, want d2 alone, COMPLETED, updatedAt set", cur.Deployments)
	}

	// UpdateService started d3 meanwhile: d2 must not be marked COMPLETED.
	cur = replica(100, 200, dep("d3", "PRIMARY", tdV1, 1), dep("d2", "ACTIVE", tdV2, 1), dep("d1", "ACTIVE", tdV1, 0))
	if applyToService(cur, planned, &out, t0) {
		t.Errorf("changed service: changes applied: %+v", cur.Deployments)
	}
}
