package targets

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/controller"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/lb"
)

const tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

func lbService(name string) *ecs.Service {
	return &ecs.Service{ServiceName: name, LoadBalancers: []ecs.LoadBalancer{{TargetGroupArn: tg, ContainerName: "web", ContainerPort: new(int32(80))}}}
}

// svcTask is a task of service web bound to 127.0.0.1:port.
func svcTask(id string, port int32, last, desired string) *ecs.Task {
	return &ecs.Task{TaskArn: "arn:aws:ecs:us-east-1:123456789012:task/c/" + id, Group: "service:web", StartedBy: "ecs-svc/1",
		LastStatus: last, DesiredStatus: desired,
		Containers: []ecs.Container{{Name: "web", NetworkBindings: []ecs.NetworkBinding{
			{BindIP: "127.0.0.1", ContainerPort: new(int32(80)), HostPort: new(port), Protocol: "tcp"}}}}}
}

func TestTargetOf(t *testing.T) {
	l := lbService("web").LoadBalancers[0]
	task := svcTask("a", 32768, "RUNNING", "RUNNING")
	if got, ok := TargetOf(task, l); !ok || got != (Target{IP: "127.0.0.1", Port: 32768}) {
		t.Errorf("TargetOf = %+v, %v; want 127.0.0.1:32768", got, ok)
	}
	task.Containers[0].NetworkBindings[0].BindIP = "0.0.0.0"
	if got, _ := TargetOf(task, l); got.IP != "127.0.0.1" {
		t.Errorf("0.0.0.0 binding: IP %s, want 127.0.0.1", got.IP)
	}
	other := l
	other.ContainerPort = new(int32(81))
	if _, ok := TargetOf(task, other); ok {
		t.Error("TargetOf found a binding for a port the container does not map")
	}
	task.Containers[0].NetworkBindings = nil
	if _, ok := TargetOf(task, l); ok {
		t.Error("TargetOf found a target for a task not bound yet")
	}
}

func TestPlan(t *testing.T) {
	a, b, c, d := Target{"127.0.0.1", 1}, Target{"127.0.0.1", 2}, Target{"127.0.0.1", 3}, Target{"127.0.0.1", 5}
	tasks := map[string][]*ecs.Task{"web": {
		svcTask("a", 1, "RUNNING", "RUNNING"),      // wanted, registered
		svcTask("b", 2, "RUNNING", "RUNNING"),      // wanted, missing
		svcTask("c", 3, "DEACTIVATING", "STOPPED"), // draining: leave
		svcTask("d", 4, "PENDING", "RUNNING"),      // not bound yet
	}}
	tasks["web"][3].Containers[0].NetworkBindings = nil
	// A task of a service that no longer has load balancers.
	other := svcTask("e", 5, "RUNNING", "RUNNING")
	other.Group = "service:api"
	all := append(slices.Clone(tasks["web"]), other)
	const tg2 = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/old/0123456789abcdef"
	tests := []struct {
		name       string
		registered map[string][]Target
		want       map[string]Changes
	}{
		{"register the missing, deregister the stopping", map[string][]Target{tg: {a, c}}, map[string]Changes{tg: {Register: []Target{b}, Deregister: []Target{c}}}},
		{"already right", map[string][]Target{tg: {a, b}}, map[string]Changes{}},
		{"unknown target group: left alone", map[string][]Target{}, map[string]Changes{}},
		{"targets registered by hand stay", map[string][]Target{tg: {a, b, {"10.0.0.9", 80}}}, map[string]Changes{}},
		{"a group the service left: its tasks are deregistered there", map[string][]Target{tg: {a, b}, tg2: {a, d}}, map[string]Changes{tg2: {Deregister: []Target{a, d}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan([]ServiceTasks{{Service: lbService("web"), Tasks: tasks["web"]}}, all, tt.registered)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

// fakes

type fakeECS struct {
	mu       sync.Mutex
	snap     ecsapi.ClusterState
	released []string
}

func (f *fakeECS) ActiveClusters(context.Context) ([]string, error) { return []string{"c"}, nil }
func (f *fakeECS) ReadServicesAndTasks(context.Context, string) (*ecsapi.ClusterState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	return &s, nil
}
func (f *fakeECS) ReleaseDrained(_ context.Context, _, arn string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, arn)
	return true, nil
}

type fakeELB struct{ groups map[string][]Target }

func (f *fakeELB) AllTargets(context.Context) (map[string][]Target, error) {
	out := map[string][]Target{}
	for g, ts := range f.groups {
		out[g] = slices.Clone(ts)
	}
	return out, nil
}
func (f *fakeELB) RegisterTargets(_ context.Context, g string, ts []Target) error {
	f.groups[g] = append(f.groups[g], ts...)
	return nil
}
func (f *fakeELB) DeregisterTargets(_ context.Context, g string, ts []Target) error {
	f.groups[g] = slices.DeleteFunc(f.groups[g], func(t Target) bool { return slices.Contains(ts, t) })
	return nil
}

type fakeDataPlane struct{ states map[string][]lb.TargetState }

func (f *fakeDataPlane) TargetHealth(g string) []lb.TargetState { return f.states[g] }

func TestStepDrainsBeforeRelease(t *testing.T) {
	running := svcTask("a", 1, "RUNNING", "RUNNING")
	ecsF := &fakeECS{snap: ecsapi.ClusterState{Name: "c", Services: []*ecs.Service{lbService("web")}, Tasks: []*ecs.Task{running}}}
	elb := &fakeELB{groups: map[string][]Target{tg: nil}}
	dp := &fakeDataPlane{states: map[string][]lb.TargetState{}}
	kicks := 0
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := New(Config{ECS: ecsF, ELB: elb, DataPlane: dp, Kick: func() { kicks++ }, Now: func() time.Time { return now }})
	ctx := t.Context()

	if err := r.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := elb.groups[tg]; !slices.Equal(got, []Target{{"127.0.0.1", 1}}) {
		t.Fatalf("registered %v, want the RUNNING task's target", got)
	}
	// The data plane reports it healthy: the controller is kicked and sees it.
	dp.states[tg] = []lb.TargetState{{Target: "127.0.0.1:1", State: lb.StateHealthy}}
	if err := r.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if kicks == 0 {
		t.Error("health changed but the controller was not kicked")
	}
	if h := r.TargetHealth(lbService("web"), []*ecs.Task{running}); h[running.TaskArn] != (controller.TargetHealth{Healthy: true}) {
		t.Errorf("TargetHealth = %+v, want healthy", h)
	}

	// Asked to stop: deregistered, but not released while the data plane drains it.
	stopping := svcTask("a", 1, "DEACTIVATING", "STOPPED")
	stopping.StoppingAt = ecs.NewTime(now)
	ecsF.snap.Tasks = []*ecs.Task{stopping}
	dp.states[tg] = []lb.TargetState{{Target: "127.0.0.1:1", State: lb.StateDraining, InFlight: 3}}
	if err := r.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if len(elb.groups[tg]) != 0 {
		t.Errorf("still registered: %v", elb.groups[tg])
	}
	if len(ecsF.released) != 0 {
		t.Fatalf("released %v while the target was still draining", ecsF.released)
	}
	// Drained: released.
	dp.states[tg] = nil
	if err := r.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ecsF.released, []string{stopping.TaskArn}) {
		t.Errorf("released %v, want the drained task", ecsF.released)
	}
}

func TestStepReleasesAfterDrainTimeout(t *testing.T) {
	stopping := svcTask("a", 1, "DEACTIVATING", "STOPPED")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	stopping.StoppingAt = ecs.NewTime(now.Add(-2 * time.Minute))
	ecsF := &fakeECS{snap: ecsapi.ClusterState{Name: "c", Services: []*ecs.Service{lbService("web")}, Tasks: []*ecs.Task{stopping}}}
	dp := &fakeDataPlane{states: map[string][]lb.TargetState{tg: {{Target: "127.0.0.1:1", State: lb.StateDraining}}}}
	r := New(Config{ECS: ecsF, ELB: &fakeELB{groups: map[string][]Target{tg: nil}}, DataPlane: dp, DrainTimeout: time.Minute, Now: func() time.Time { return now }})
	if err := r.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(ecsF.released) != 1 {
		t.Errorf("released %v, want the task whose drain timed out", ecsF.released)
	}
}

func TestStepTargetGroupGone(t *testing.T) {
	stopping := svcTask("a", 1, "DEACTIVATING", "STOPPED")
	ecsF := &fakeECS{snap: ecsapi.ClusterState{Name: "c", Services: []*ecs.Service{lbService("web")}, Tasks: []*ecs.Task{stopping, svcTask("b", 2, "RUNNING", "RUNNING")}}}
	r := New(Config{ECS: ecsF, ELB: &fakeELB{groups: map[string][]Target{}}, DataPlane: &fakeDataPlane{}})
	if err := r.Step(t.Context()); err != nil {
		t.Fatalf("Step with the target group deleted: %v", err)
	}
	if len(ecsF.released) != 1 {
		t.Errorf("released %v, want the stopping task (nothing to drain from)", ecsF.released)
	}
}

func TestStepReleasesTasksOfServicesWithoutLoadBalancers(t *testing.T) {
	stopping := svcTask("a", 1, "DEACTIVATING", "STOPPED")
	svc := lbService("web")
	svc.LoadBalancers = nil // removed by UpdateService while the task drained
	ecsF := &fakeECS{snap: ecsapi.ClusterState{Name: "c", Services: []*ecs.Service{svc}, Tasks: []*ecs.Task{stopping}}}
	elb := &fakeELB{groups: map[string][]Target{tg: {{"127.0.0.1", 1}}}}
	dp := &fakeDataPlane{states: map[string][]lb.TargetState{tg: {{Target: "127.0.0.1:1", State: lb.StateHealthy}}}}
	r := New(Config{ECS: ecsF, ELB: elb, DataPlane: dp})
	if err := r.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(elb.groups[tg]) != 0 {
		t.Errorf("the stopping task is still registered: %v", elb.groups[tg])
	}
	if len(ecsF.released) != 0 {
		t.Fatalf("released %v while the data plane still routes to it", ecsF.released)
	}
	dp.states[tg] = nil
	if err := r.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(ecsF.released) != 1 {
		t.Errorf("released %v, want the drained task", ecsF.released)
	}
}

func TestPlanAcrossClusters(t *testing.T) {
	// Cluster A's task stopped; cluster B's task now holds the same host
	// port, in B's target group. Planning both clusters together keeps B's
	// target.
	stoppedA := svcTask("a", 32768, "STOPPED", "STOPPED")
	liveB := svcTask("b", 32768, "RUNNING", "RUNNING")
	const tgB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/b/0123456789abcdef"
	svcB := lbService("web")
	svcB.LoadBalancers[0].TargetGroupArn = tgB
	got := Plan([]ServiceTasks{{Service: lbService("web"), Tasks: []*ecs.Task{stoppedA}}, {Service: svcB, Tasks: []*ecs.Task{liveB}}},
		[]*ecs.Task{stoppedA, liveB}, map[string][]Target{tg: {}, tgB: {{"127.0.0.1", 32768}}})
	if len(got) != 0 {
		t.Errorf("Plan = %+v, want nothing to change", got)
	}
}
