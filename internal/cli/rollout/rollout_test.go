package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

const tdArn = "arn:aws:ecs:us-east-1:000000000000:task-definition/"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// dep is a deployment: id, status, revision of web, rollout state,
// desired/running/pending.
func dep(id, status string, rev int, state types.DeploymentRolloutState, desired, running, pending int32) types.Deployment {
	return types.Deployment{Id: aws.String(id), Status: aws.String(status), TaskDefinition: aws.String(fmt.Sprintf("%sweb:%d", tdArn, rev)),
		RolloutState: state, DesiredCount: desired, RunningCount: running, PendingCount: pending}
}

// ev is a service event n seconds after t0.
func ev(id string, sec int, msg string) types.ServiceEvent {
	return types.ServiceEvent{Id: aws.String(id), CreatedAt: aws.Time(t0.Add(time.Duration(sec) * time.Second)), Message: aws.String(msg)}
}

// snap is a snapshot of service web; events newest first, as the API
// lists them.
func snap(deps []types.Deployment, events ...types.ServiceEvent) Snapshot {
	return Snapshot{Service: types.Service{ServiceName: aws.String("web"), Deployments: deps, Events: events}}
}

const (
	inProgress = types.DeploymentRolloutStateInProgress
	completed  = types.DeploymentRolloutStateCompleted
	failed     = types.DeploymentRolloutStateFailed
)

// step is one observation and what it should print.
type step struct {
	snap    Snapshot
	retgt   string // before observing: Retarget to this deployment (of web:4)
	events  []string
	lines   []string // Text(false) of the lines, when they changed; nil: unchanged
	outcome Outcome
	reason  string
}

func TestWatch(t *testing.T) {
	old := ev("e0", 0, "(service web) has reached a steady state.")
	cases := []struct {
		name  string
		steps []step
	}{
		{"rolls out and completes", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 0, 2), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)},
				ev("e1", 1, "(service web) has started 2 tasks."), old),
				events: []string{"12:00:01 (service web) has started 2 tasks."},
				lines:  []string{"PRIMARY  web:5  running 0/2  pending 2", "ACTIVE   web:4  draining 2 → 0"}},
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 0, 2), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)},
				ev("e1", 1, "(service web) has started 2 tasks."), old)},
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 2, 0), dep("d4", "ACTIVE", 4, completed, 0, 1, 0)},
				ev("e2", 5, "(service web) has stopped 1 running tasks."), ev("e1", 1, "(service web) has started 2 tasks."), old),
				events: []string{"12:00:05 (service web) has stopped 1 running tasks."},
				lines:  []string{"PRIMARY  web:5  running 2/2", "ACTIVE   web:4  draining 1 → 0"}},
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, completed, 2, 2, 0)},
				ev("e3", 9, "(service web) has reached a steady state."), ev("e2", 5, "…"), ev("e1", 1, "…"), old),
				events:  []string{"12:00:09 (service web) has reached a steady state."},
				lines:   []string{"PRIMARY  web:5  running 2/2  COMPLETED"},
				outcome: Completed},
		}},
		{"fails without rollback", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 0, 0), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)}),
				lines: []string{"PRIMARY  web:5  running 0/2", "ACTIVE   web:4  draining 2 → 0"}},
			{snap: func() Snapshot {
				d := dep("d5", "PRIMARY", 5, failed, 2, 0, 0)
				d.RolloutStateReason, d.FailedTasks = aws.String("ECS deployment circuit breaker: tasks failed to start."), 3
				return snap([]types.Deployment{d, dep("d4", "ACTIVE", 4, completed, 2, 2, 0)})
			}(),
				lines:   []string{"PRIMARY  web:5  running 0/2  failed 3  FAILED", "ACTIVE   web:4  draining 2 → 0"},
				outcome: Failed, reason: "ECS deployment circuit breaker: tasks failed to start."},
		}},
		{"circuit breaker rolls back", []step{
			{snap: func() Snapshot {
				d := dep("d5", "PRIMARY", 5, inProgress, 2, 0, 0)
				d.FailedTasks = 2
				return snap([]types.Deployment{d, dep("d4", "ACTIVE", 4, completed, 2, 2, 0)})
			}(),
				lines: []string{"PRIMARY  web:5  running 0/2  failed 2", "ACTIVE   web:4  draining 2 → 0"}},
			{snap: func() Snapshot {
				d := dep("d5", "ACTIVE", 5, failed, 2, 0, 0)
				d.RolloutStateReason = aws.String("ECS deployment circuit breaker: tasks failed to start.")
				return snap([]types.Deployment{dep("d6", "PRIMARY", 4, inProgress, 2, 2, 0), d},
					ev("e1", 3, "(service web) rolling back to deployment d4."))
			}(),
				events:  []string{"12:00:03 (service web) rolling back to deployment d4."},
				lines:   []string{"PRIMARY  web:4  running 2/2", "ACTIVE   web:5  draining 0 → 0"},
				outcome: RolledBack, reason: "ECS deployment circuit breaker: tasks failed to start.; rolled back to web:4"},
		}},
		{"rollback completes between two looks", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 0, 0), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)}),
				lines: []string{"PRIMARY  web:5  running 0/2", "ACTIVE   web:4  draining 2 → 0"}},
			{snap: snap([]types.Deployment{dep("d6", "PRIMARY", 4, completed, 2, 2, 0)}),
				lines:   []string{"PRIMARY  web:4  running 2/2  COMPLETED"},
				outcome: RolledBack, reason: "deployment failed; rolled back to web:4"},
		}},
		{"someone deploys over it", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 1, 0), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)}),
				lines: []string{"PRIMARY  web:5  running 1/2", "ACTIVE   web:4  draining 2 → 0"}},
			{snap: snap([]types.Deployment{dep("d7", "PRIMARY", 7, inProgress, 2, 0, 0), dep("d5", "ACTIVE", 5, inProgress, 2, 1, 0)}),
				lines:   []string{"PRIMARY  web:7  running 0/2", "ACTIVE   web:5  draining 1 → 0"},
				outcome: Superseded, reason: "superseded by deployment d7 of web:7"},
		}},
		{"rollback asked for, then completed", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 1, 0), dep("d4", "ACTIVE", 4, completed, 2, 2, 0)}),
				lines: []string{"PRIMARY  web:5  running 1/2", "ACTIVE   web:4  draining 2 → 0"}},
			{retgt: "d8", snap: snap([]types.Deployment{dep("d8", "PRIMARY", 4, inProgress, 2, 2, 0), dep("d5", "ACTIVE", 5, inProgress, 2, 1, 0)}),
				lines: []string{"PRIMARY  web:4  running 2/2", "ACTIVE   web:5  draining 1 → 0"}},
			{snap: snap([]types.Deployment{dep("d8", "PRIMARY", 4, completed, 2, 2, 0)}),
				lines:   []string{"PRIMARY  web:4  running 2/2  COMPLETED"},
				outcome: RolledBack, reason: "rolled back to web:4 as asked"},
		}},
		{"circuit breaker rolls back a redeploy of the same revision (its images moved)", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 2, 0, 0), dep("d4", "ACTIVE", 5, completed, 2, 2, 0)}),
				lines: []string{"PRIMARY  web:5  running 0/2", "ACTIVE   web:5  draining 2 → 0"}},
			{snap: func() Snapshot {
				d := dep("d5", "ACTIVE", 5, failed, 2, 0, 0)
				d.RolloutStateReason = aws.String("ECS deployment circuit breaker: tasks failed to start.")
				return snap([]types.Deployment{dep("d6", "PRIMARY", 5, inProgress, 2, 2, 0), d, dep("d4", "ACTIVE", 5, completed, 2, 2, 0)})
			}(),
				lines:   []string{"PRIMARY  web:5  running 2/2", "ACTIVE   web:5  draining 0 → 0", "ACTIVE   web:5  draining 2 → 0"},
				outcome: RolledBack, reason: "ECS deployment circuit breaker: tasks failed to start.; rolled back to web:5"},
		}},
		{"forced redeploy of the same revision is followed", []step{
			{snap: snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 1, 0, 1)}),
				lines: []string{"PRIMARY  web:5  running 0/1  pending 1"}},
			{snap: snap([]types.Deployment{dep("d9", "PRIMARY", 5, completed, 1, 1, 0)}),
				lines:   []string{"PRIMARY  web:5  running 1/1  COMPLETED"},
				outcome: Completed},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := New("d5", tdArn+"web:5", []types.ServiceEvent{old}, time.UTC)
			for i, st := range tc.steps {
				if st.retgt != "" {
					w.Retarget(st.retgt, tdArn+"web:4")
				}
				u := w.Observe(st.snap)
				if diff := cmp.Diff(st.events, u.Events); diff != "" {
					t.Errorf("step %d: events (-want +got):\n%s", i, diff)
				}
				var lines []string
				if u.Changed {
					for _, l := range u.Lines {
						lines = append(lines, l.Text(false))
					}
				}
				if diff := cmp.Diff(st.lines, lines); diff != "" {
					t.Errorf("step %d: changed lines (-want +got):\n%s", i, diff)
				}
				if u.Outcome != st.outcome || u.Reason != st.reason {
					t.Errorf("step %d: outcome %v %q, want %v %q", i, u.Outcome, u.Reason, st.outcome, st.reason)
				}
			}
		})
	}
}

func TestLineText(t *testing.T) {
	healthy := func(id string) types.Task {
		return types.Task{StartedBy: aws.String(id), LastStatus: aws.String("RUNNING"), HealthStatus: types.HealthStatusHealthy}
	}
	s := snap([]types.Deployment{dep("d5", "PRIMARY", 5, inProgress, 4, 3, 1), dep("d4", "ACTIVE", 4, completed, 0, 2, 0)})
	s.Tasks = []types.Task{healthy("d5"), healthy("d5"), {StartedBy: aws.String("d5"), LastStatus: aws.String("RUNNING"), HealthStatus: types.HealthStatusUnknown}, healthy("d4")}
	u := New("d5", tdArn+"web:5", nil, time.UTC).Observe(s)
	var got []string
	for _, l := range u.Lines {
		got = append(got, l.Text(true))
	}
	want := []string{
		"PRIMARY  web:5  [███████░░░] running 3/4  healthy 2  pending 1",
		"ACTIVE   web:4  draining 2 → 0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestExitCodes(t *testing.T) {
	for o, want := range map[Outcome]int{Completed: 0, Failed: 1, RolledBack: 2, Superseded: 1} {
		if got := o.ExitCode(); got != want {
			t.Errorf("%v.ExitCode() = %d, want %d", o, got, want)
		}
	}
}
