package controller

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

func TestBreakerThreshold(t *testing.T) {
	for _, tc := range []struct {
		desired int32
		want    int
	}{
		{0, 3}, {1, 3}, {5, 3}, {6, 3}, {7, 4}, {10, 5}, {11, 6}, {399, 200}, {400, 200}, {1000, 200},
	} {
		if got := breakerThreshold(tc.desired); got != tc.want {
			t.Errorf("breakerThreshold(%d) = %d, want %d", tc.desired, got, tc.want)
		}
	}
}

// withBreaker turns s's circuit breaker on.
func withBreaker(s *ecs.Service, rollback bool) *ecs.Service {
	s.DeploymentConfiguration.DeploymentCircuitBreaker = &ecs.DeploymentCircuitBreaker{Enable: true, Rollback: rollback}
	return s
}

func completed(d ecs.Deployment) ecs.Deployment {
	d.RolloutState = ecs.DeploymentRolloutStateCOMPLETED
	return d
}

// failures returns n tasks of deployment d that failed to start.
func failures(d string, n int) []*ecs.Task {
	var ts []*ecs.Task
	for i := range n {
		ts = append(ts, task(fmt.Sprintf("%s-f%d", d, i), d, "a", "", taskDef(tdV2), failedAt(-time.Duration(n-i)*time.Hour)))
	}
	return ts
}

// running returns n healthy RUNNING tasks of deployment d on td.
func running(d, td string, n int) []*ecs.Task {
	var ts []*ecs.Task
	for i := range n {
		ts = append(ts, task(fmt.Sprintf("%s-r%d", d, i), d, "a", taskRunning, taskDef(td)))
	}
	return ts
}

func TestPlanCircuitBreaker(t *testing.T) {
	a := inst("a", "")
	failedChange := DeploymentChange{ID: "d2", RolloutState: ecs.DeploymentRolloutStateFAILED, RolloutStateReason: breakerReason}
	d1Done := completed(dep("d1", deploymentActive, tdV1, 0))
	tests := []struct {
		name    string
		svc     *ecs.Service
		tasks   []*ecs.Task
		last    *Completed
		digests map[string]map[string]string
		tripped bool
		want    *Rollback
	}{
		{
			name:  "desired 1: two failures do not trip (threshold 3)",
			svc:   withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1)), false),
			tasks: failures("d2", 2),
		},
		{
			name:    "desired 1: the third failure trips",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1)), false),
			tasks:   failures("d2", 3),
			tripped: true,
		},
		{
			name:  "desired 10: four failures do not trip (threshold 5)",
			svc:   withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 10)), false),
			tasks: failures("d2", 4),
		},
		{
			name:    "desired 10: the fifth failure trips",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 10)), false),
			tasks:   failures("d2", 5),
			tripped: true,
		},
		{
			name:  "desired 1000: 199 failures do not trip (threshold 200)",
			svc:   withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1000)), false),
			tasks: failures("d2", 199),
		},
		{
			name:    "desired 1000: the 200th failure trips",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1000)), false),
			tasks:   failures("d2", 200),
			tripped: true,
		},
		{
			name:  "breaker disabled: no trip",
			svc:   replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1)),
			tasks: failures("d2", 10),
		},
		{
			name:  "a new deployment starts from zero: the old one's failures do not count",
			svc:   withBreaker(replica(100, 200, dep("d3", deploymentPrimary, tdV2, 1)), true),
			tasks: failures("d2", 10),
		},
		{
			name: "tasks stopped for failing health checks count",
			svc:  withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 1)), false),
			tasks: func() []*ecs.Task {
				ts := failures("d2", 2)
				u := task("u", "d2", "a", taskRunning, taskDef(tdV2), beingStopped())
				u.StopCode, u.StoppedReason = ecs.TaskStopCodeServiceSchedulerInitiated, reasonUnhealthy
				return append(ts, u)
			}(),
			tripped: true,
		},
		{
			name:    "rollback to the COMPLETED deployment in the record",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 2), d1Done), true),
			tasks:   append(failures("d2", 3), running("d1", tdV1, 2)...),
			tripped: true,
			want:    &Rollback{Failed: "d2", To: Completed{DeploymentID: "d1", TaskDefinition: tdV1}, Base: &d1Done},
		},
		{
			name:    "rollback to the remembered deployment once it left the record",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 2)), true),
			tasks:   failures("d2", 3),
			last:    &Completed{DeploymentID: "d1", TaskDefinition: tdV1},
			tripped: true,
			want:    &Rollback{Failed: "d2", To: Completed{DeploymentID: "d1", TaskDefinition: tdV1}},
		},
		{
			name:    "rollback off: FAILED only",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 2), d1Done), false),
			tasks:   append(failures("d2", 3), running("d1", tdV1, 2)...),
			tripped: true,
		},
		{
			name:    "nothing completed before: FAILED only",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV2, 2)), true),
			tasks:   failures("d2", 3),
			tripped: true,
		},
		{
			name:    "a failed rollback to the same task definition does not roll back again",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV1, 2)), true),
			tasks:   failures("d2", 3),
			last:    &Completed{DeploymentID: "d1", TaskDefinition: tdV1},
			tripped: true,
		},
		{
			name:    "a redeploy of the same task definition on the same images does not roll back",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV1, 2)), true),
			tasks:   failures("d2", 3),
			last:    &Completed{DeploymentID: "d1", TaskDefinition: tdV1},
			digests: map[string]map[string]string{"d1": {"app": "sha256:1"}, "d2": {"app": "sha256:1"}},
			tripped: true,
		},
		{
			name:    "a redeploy of the same task definition on a moved tag rolls back to the old images",
			svc:     withBreaker(replica(100, 200, dep("d2", deploymentPrimary, tdV1, 2)), true),
			tasks:   failures("d2", 3),
			last:    &Completed{DeploymentID: "d1", TaskDefinition: tdV1},
			digests: map[string]map[string]string{"d1": {"app": "sha256:1"}, "d2": {"app": "sha256:2"}},
			tripped: true,
			want:    &Rollback{Failed: "d2", To: Completed{DeploymentID: "d1", TaskDefinition: tdV1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Plan(Input{Now: t0, Service: tc.svc, Tasks: tc.tasks, Instances: []Instance{a}, LastCompleted: tc.last, ImageDigests: tc.digests})
			gotTripped := slices.Contains(out.Deployments, failedChange) ||
				slices.ContainsFunc(out.Deployments, func(c DeploymentChange) bool {
					return c.ID == "d2" && c.RolloutState == ecs.DeploymentRolloutStateFAILED && c.RolloutStateReason == breakerReason
				})
			if gotTripped != tc.tripped {
				t.Fatalf("tripped = %v, want %v (deployments %+v)", gotTripped, tc.tripped, out.Deployments)
			}
			hasEvent := slices.Contains(out.Events, deploymentFailedEvent("web", "d2"))
			if hasEvent != tc.tripped {
				t.Errorf("failed event = %v, want %v (events %q)", hasEvent, tc.tripped, out.Events)
			}
			if tc.tripped && slices.ContainsFunc(out.Launches, func(l Launch) bool { return l.DeploymentID == "d2" }) {
				t.Errorf("launches %+v for the failed deployment, want none", out.Launches)
			}
			if diff := cmp.Diff(tc.want, out.Rollback); diff != "" {
				t.Errorf("rollback (-want +got):\n%s", diff)
			}
			rolling := slices.ContainsFunc(out.Events, func(e string) bool { return e == rollingBackEvent("web", "d1") })
			if rolling != (tc.want != nil) {
				t.Errorf("rolling back event = %v, want %v (events %q)", rolling, tc.want != nil, out.Events)
			}
		})
	}
}

func TestPlanFailedDeploymentLaunchesNothing(t *testing.T) {
	d := dep("d2", deploymentPrimary, tdV2, 2)
	d.RolloutState, d.RolloutStateReason = ecs.DeploymentRolloutStateFAILED, breakerReason
	svc := withBreaker(replica(100, 200, d), false)
	out := Plan(Input{Now: t0, Service: svc, Tasks: failures("d2", 3), Instances: []Instance{inst("a", "")}})
	if len(out.Launches) != 0 {
		t.Errorf("launches %+v, want none", out.Launches)
	}
	if slices.Contains(out.Events, deploymentFailedEvent("web", "d2")) {
		t.Errorf("events %q repeat the failure", out.Events)
	}
}

func TestApplyRollback(t *testing.T) {
	failed := dep("d2", deploymentPrimary, tdV2, 2)
	svc := withBreaker(replica(100, 200, failed), true)
	svc.TaskDefinition = tdV2
	cur := *svc
	cur.Deployments = slices.Clone(svc.Deployments)
	out := Output{
		Deployments: []DeploymentChange{{ID: "d2", RolloutState: ecs.DeploymentRolloutStateFAILED, RolloutStateReason: breakerReason}},
		Rollback:    &Rollback{Failed: "d2", To: Completed{DeploymentID: "d1", TaskDefinition: tdV1}},
	}
	if !applyToService(&cur, svc, &out, t0) {
		t.Fatal("applyToService reported no change")
	}
	if len(cur.Deployments) != 2 {
		t.Fatalf("got %d deployments, want 2", len(cur.Deployments))
	}
	p, old := cur.Deployments[0], cur.Deployments[1]
	if p.Status != deploymentPrimary || p.TaskDefinition != tdV1 || p.DesiredCount != 2 ||
		p.RolloutState != ecs.DeploymentRolloutStateINPROGRESS || p.Id == "d2" || len(p.Id) != len("ecs-svc/")+19 {
		t.Errorf("new deployment %+v, want a PRIMARY IN_PROGRESS on %s", p, tdV1)
	}
	if old.Id != "d2" || old.Status != deploymentActive || old.RolloutState != ecs.DeploymentRolloutStateFAILED {
		t.Errorf("failed deployment %+v, want ACTIVE FAILED", old)
	}
	if cur.TaskDefinition != tdV1 {
		t.Errorf("service task definition %s, want %s", cur.TaskDefinition, tdV1)
	}
}

func TestCircuitBreakerRollsBack(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(1))})
	s.settle()
	done := s.service("web").Deployments[0]
	if done.RolloutState != ecs.DeploymentRolloutStateCOMPLETED {
		t.Fatalf("first deployment %+v, want COMPLETED", done)
	}
	td2 := s.taskDef("web", nil)
	s.updateService(&ecs.UpdateServiceRequest{Service: "web", TaskDefinition: td2,
		DeploymentConfiguration: &ecs.DeploymentConfiguration{DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{Enable: true, Rollback: true}}})
	failing := s.service("web").Deployments[0].Id
	for i := range 3 {
		s.step()
		var mine []*ecs.Task
		for _, tk := range s.live("web") {
			if tk.StartedBy == failing {
				mine = append(mine, tk)
			}
		}
		if len(mine) != 1 {
			t.Fatalf("failure %d: got %d live tasks of the new deployment, want 1", i+1, len(mine))
		}
		now := ecs.NewTime(s.clk.Now())
		s.report(mine[0], agent.TaskStatus{LastStatus: "STOPPED", StopCode: ecs.TaskStopCodeTaskFailedToStart,
			StoppedReason: "CannotPullContainerError: not found", StoppedAt: now, ExecutionStoppedAt: now})
		s.clk.Advance(time.Minute)
	}
	s.step()
	svc := s.service("web")
	if len(svc.Deployments) < 2 {
		t.Fatalf("got deployments %+v, want a rollback", svc.Deployments)
	}
	p := svc.Deployments[0]
	if p.Id == failing || p.TaskDefinition != done.TaskDefinition || svc.TaskDefinition != done.TaskDefinition {
		t.Fatalf("PRIMARY %+v, want a new one on %s", p, done.TaskDefinition)
	}
	i := slices.IndexFunc(svc.Deployments, func(d ecs.Deployment) bool { return d.Id == failing })
	if i < 0 || svc.Deployments[i].RolloutState != ecs.DeploymentRolloutStateFAILED || svc.Deployments[i].RolloutStateReason != breakerReason {
		t.Fatalf("got deployments %+v, want %s FAILED", svc.Deployments, failing)
	}
	msgs := messages(svc)
	for _, want := range []string{deploymentFailedEvent("web", failing), rollingBackEvent("web", done.Id)} {
		if !slices.Contains(msgs, want) {
			t.Errorf("events %q lack %q", msgs, want)
		}
	}
	s.settle()
	svc = s.service("web")
	if len(svc.Deployments) != 1 || svc.Deployments[0].Id != p.Id || svc.Deployments[0].RolloutState != ecs.DeploymentRolloutStateCOMPLETED {
		t.Fatalf("after settling: deployments %+v, want only the rollback, COMPLETED", svc.Deployments)
	}
}
