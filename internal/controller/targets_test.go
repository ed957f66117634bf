package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
)

const tgWeb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

// behindLB puts svc behind target group tgWeb, with a grace period.
func behindLB(svc *ecs.Service, grace int32) *ecs.Service {
	svc.LoadBalancers = []ecs.LoadBalancer{{TargetGroupArn: tgWeb, ContainerName: "web", ContainerPort: new(int32(80))}}
	if grace > 0 {
		svc.HealthCheckGracePeriodSeconds = &grace
	}
	return svc
}

func TestPlanTargetHealth(t *testing.T) {
	a, b := inst("a", "az1"), inst("b", "az2")
	healthy := TargetHealth{Healthy: true}
	unhealthy := TargetHealth{Unhealthy: tgWeb}
	tests := []struct {
		name   string
		svc    *ecs.Service
		tasks  []*ecs.Task
		health map[string]TargetHealth
		want   Output
	}{
		{
			name:   "RUNNING but not yet healthy in the target group: not steady",
			svc:    behindLB(replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)), 0),
			tasks:  tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			health: map[string]TargetHealth{taskARN("t1"): healthy, taskARN("t2"): {}},
			want:   Output{},
		},
		{
			name:   "healthy in the target group: completed and steady",
			svc:    behindLB(replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)), 0),
			tasks:  tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			health: map[string]TargetHealth{taskARN("t1"): healthy, taskARN("t2"): healthy},
			want: Output{Events: []string{deploymentCompletedEvent("web", "d1"), steadyStateEvent("web")},
				Deployments: []DeploymentChange{{ID: "d1", RolloutState: ecs.DeploymentRolloutStateCOMPLETED, RolloutStateReason: "ECS deployment d1 completed."}}},
		},
		{
			name:   "the old task stays until the new one is healthy in the target group",
			svc:    behindLB(replica(100, 200, dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 1)), 0),
			tasks:  tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d2", "b", "RUNNING", taskDef(tdV2))),
			health: map[string]TargetHealth{taskARN("t1"): healthy, taskARN("t2"): {}},
			want:   Output{},
		},
		{
			name: "old tasks whose targets are still being checked (a restart): neither counted nor stopped",
			svc:  behindLB(replica(100, 200, dep("d2", "PRIMARY", tdV2, 2), dep("d1", "ACTIVE", tdV1, 2)), 0),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING"),
				task("t3", "d2", "a", "RUNNING", taskDef(tdV2)), task("t4", "d2", "b", "RUNNING", taskDef(tdV2))),
			health: map[string]TargetHealth{},
			want:   Output{},
		},
		{
			name:   "an old task its target group reports unhealthy is retired at once",
			svc:    behindLB(replica(100, 200, dep("d2", "PRIMARY", tdV2, 1), dep("d1", "ACTIVE", tdV1, 1)), 0),
			tasks:  tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d2", "b", "RUNNING", taskDef(tdV2))),
			health: map[string]TargetHealth{taskARN("t1"): unhealthy, taskARN("t2"): {}},
			want: Output{Stops: []Stop{{TaskArn: taskARN("t1"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: reasonELBUnhealthy(tgWeb)}},
				Events: []string{"(service web) (task t1) is unhealthy in (target-group " + tgWeb + ") due to (reason Health checks failed).",
					"(service web) has stopped 1 running tasks: (task t1)."},
				Deployments: []DeploymentChange{{ID: "d1", DesiredCount: new(int32(0))}}},
		},
		{
			name:   "unhealthy in the target group after the grace period: stopped and replaced",
			svc:    behindLB(replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)), 30),
			tasks:  tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING")),
			health: map[string]TargetHealth{taskARN("t1"): healthy, taskARN("t2"): unhealthy},
			want: Output{Stops: []Stop{{TaskArn: taskARN("t2"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: reasonELBUnhealthy(tgWeb)}},
				Launches: []Launch{{DeploymentID: "d1", TaskDefinition: tdV1, Count: 1}},
				Events: []string{"(service web) (task t2) is unhealthy in (target-group " + tgWeb + ") due to (reason Health checks failed).",
					"(service web) has stopped 1 running tasks: (task t2)."}},
		},
		{
			name: "unhealthy within the grace period: kept",
			svc:  behindLB(replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)), 30),
			tasks: tasks(task("t1", "d1", "a", "RUNNING"), task("t2", "d1", "b", "RUNNING", func(t *ecs.Task) {
				t.StartedAt = at(-10 * time.Second)
			})),
			health: map[string]TargetHealth{taskARN("t1"): healthy, taskARN("t2"): unhealthy},
			want:   Output{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(Input{Now: t0, Service: tt.svc, Tasks: tt.tasks, Instances: []Instance{a, b}, TargetHealth: tt.health})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreakerCountsTargetGroupFailures(t *testing.T) {
	svc := behindLB(replica(100, 200, dep("d1", "PRIMARY", tdV1, 2)), 0)
	svc.DeploymentConfiguration.DeploymentCircuitBreaker = &ecs.DeploymentCircuitBreaker{Enable: true}
	var ts []*ecs.Task
	for _, id := range []string{"t1", "t2", "t3"} {
		ts = append(ts, task(id, "d1", "a", "RUNNING", beingStopped(), func(t *ecs.Task) {
			t.StopCode, t.StoppedReason = ecs.TaskStopCodeServiceSchedulerInitiated, reasonELBUnhealthy(tgWeb)
		}))
	}
	v := newView(Input{Now: t0, Service: svc, Tasks: ts})
	if got := v.breakerFailures("d1", time.Minute); got != 3 {
		t.Errorf("breakerFailures = %d, want 3 (each stopped for failing ELB health checks)", got)
	}
}
