package controller

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/store/bolt"
)

var bg = context.Background()

// clock is a settable clock shared by the API and the controller.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tlog writes log records to the test log.
type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// stack is the control plane in-process: a bolt store, the ECS API and the
// controller, on a fake clock. Agents are simulated by reporting task
// status through the API, as berth's agent does.
type stack struct {
	t   *testing.T
	ecs *ecsapi.Service
	c   *Services
	clk *clock
	td  string // "web:1": 256 CPU units, 256 MiB
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: t0}
	log := slog.New(slog.NewTextHandler(tlog{t}, nil))
	e := ecsapi.New(ecsapi.Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Now: clk.Now, Logger: log})
	s := &stack{t: t, ecs: e, clk: clk,
		c: New(Config{ECS: e, Store: st, Now: clk.Now, Logger: log})}
	if _, err := e.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "default"}); err != nil {
		t.Fatal(err)
	}
	s.td = s.taskDef("web", nil)
	return s
}

func (s *stack) taskDef(family string, hc *ecs.HealthCheck) string {
	s.t.Helper()
	mem := int32(256)
	out, err := s.ecs.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: family,
		ContainerDefinitions: []ecs.ContainerDefinition{{Name: "app", Image: "nginx@sha256:abababababababababababababababababababababababababababababababab", Cpu: 256, Memory: &mem, HealthCheck: hc}}})
	if err != nil {
		s.t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", family, out.TaskDefinition.Revision)
}

// instance registers an agent's host (1024 CPU, 2048 MiB) in zone az and
// returns its instance ID.
func (s *stack) instance(az string) string {
	s.t.Helper()
	out, err := s.ecs.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "default", CPU: 1024, Memory: 2048,
		Attributes: []ecs.Attribute{{Name: "ecs.availability-zone", Value: az}}})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.InstanceID
}

func (s *stack) createService(in *ecs.CreateServiceRequest) {
	s.t.Helper()
	if in.TaskDefinition == "" {
		in.TaskDefinition = s.td
	}
	if _, err := s.ecs.CreateService(bg, in); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) updateService(in *ecs.UpdateServiceRequest) {
	s.t.Helper()
	if _, err := s.ecs.UpdateService(bg, in); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) step() {
	s.t.Helper()
	if err := s.c.Step(bg); err != nil {
		s.t.Fatalf("Step: %v", err)
	}
}

func (s *stack) service(name string) ecs.Service {
	s.t.Helper()
	out, err := s.ecs.DescribeServices(bg, &ecs.DescribeServicesRequest{Services: []string{name}})
	if err != nil || len(out.Services) != 1 {
		s.t.Fatalf("DescribeServices(%s): %v %+v", name, err, out)
	}
	return out.Services[0]
}

// tasks returns the cluster's tasks of a service ("" for all), STOPPED
// ones included.
func (s *stack) tasks(service string) []*ecs.Task {
	s.t.Helper()
	cs, err := s.ecs.ReadCluster(bg, "default")
	if err != nil {
		s.t.Fatal(err)
	}
	var out []*ecs.Task
	for _, t := range cs.Tasks {
		if service == "" || t.Group == "service:"+service {
			out = append(out, t)
		}
	}
	return out
}

// live returns the service's tasks that are not STOPPED and not asked to stop.
func (s *stack) live(service string) []*ecs.Task {
	return slices.DeleteFunc(s.tasks(service), func(t *ecs.Task) bool {
		return t.LastStatus == "STOPPED" || t.DesiredStatus == "STOPPED"
	})
}

func (s *stack) report(t *ecs.Task, ts agent.TaskStatus) {
	s.t.Helper()
	ts.TaskArn = t.TaskArn
	if _, err := s.ecs.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: lastPart(t.ContainerInstanceArn),
		Tasks: []agent.TaskStatus{ts}}); err != nil {
		s.t.Fatal(err)
	}
}

// agents does what the connected agents would: stop the tasks the server
// wants stopped and start the others.
func (s *stack) agents() {
	s.t.Helper()
	cs, err := s.ecs.ReadCluster(bg, "default")
	if err != nil {
		s.t.Fatal(err)
	}
	connected := map[string]bool{}
	for _, ci := range cs.Instances {
		connected[ci.ContainerInstanceArn] = ci.AgentConnected
	}
	now := ecs.NewTime(s.clk.Now())
	for _, t := range cs.Tasks {
		switch {
		case t.LastStatus == "STOPPED" || !connected[t.ContainerInstanceArn]:
		case t.DesiredStatus == "STOPPED":
			s.report(t, agent.TaskStatus{LastStatus: "STOPPED", StoppedAt: now, ExecutionStoppedAt: now})
		case t.LastStatus != "RUNNING":
			s.report(t, agent.TaskStatus{LastStatus: "RUNNING", StartedAt: now})
		}
	}
}

// settle steps and lets the agents act until nothing changes, and returns
// how many rounds that took.
func (s *stack) settle() int {
	s.t.Helper()
	for i := 1; i <= 20; i++ {
		before := s.fingerprint()
		s.step()
		s.agents()
		if s.fingerprint() == before {
			return i
		}
	}
	s.t.Fatal("did not settle in 20 rounds")
	return 0
}

func (s *stack) fingerprint() string {
	var b strings.Builder
	for _, t := range s.tasks("") {
		fmt.Fprintf(&b, "%s %s %s %d;", t.TaskArn, t.LastStatus, t.DesiredStatus, t.Version)
	}
	cs, _ := s.ecs.ReadCluster(bg, "default")
	for _, svc := range cs.Services {
		fmt.Fprintf(&b, "%s %s %d %d;", svc.ServiceName, svc.Status, len(svc.Events), len(svc.Deployments))
	}
	return b.String()
}

func messages(svc ecs.Service) []string {
	var out []string
	for _, e := range svc.Events {
		out = append(out, e.Message)
	}
	return out
}

func TestReplicaService(t *testing.T) {
	s := newStack(t)
	zones := map[string]string{}
	for _, z := range []string{"az1", "az2", "az3"} {
		zones[s.ecs.InstanceARN("default", s.instance(z))] = z
	}
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(3))})

	s.step()
	tasks := s.live("web")
	if len(tasks) != 3 {
		t.Fatalf("got %d tasks, want 3", len(tasks))
	}
	used := map[string]bool{}
	for _, tk := range tasks {
		used[zones[tk.ContainerInstanceArn]] = true
	}
	if len(used) != 3 {
		t.Errorf("tasks in zones %v, want one in each of 3", used)
	}
	svc := s.service("web")
	if svc.PendingCount != 3 || svc.RunningCount != 0 || !strings.HasPrefix(svc.Events[0].Message, "(service web) has started 3 tasks: (task ") {
		t.Errorf("got pending %d running %d, newest event %q", svc.PendingCount, svc.RunningCount, svc.Events[0].Message)
	}

	s.agents()
	s.step()
	svc = s.service("web")
	dep := svc.Deployments[0]
	wantEvents := []string{steadyStateEvent("web"), deploymentCompletedEvent("web", dep.Id)}
	if got := messages(svc)[:2]; !slices.Equal(got, wantEvents) || svc.RunningCount != 3 || dep.RolloutState != "COMPLETED" || dep.RunningCount != 3 {
		t.Errorf("got events %q running %d rollout %s, want %q, 3, COMPLETED", got, svc.RunningCount, dep.RolloutState, wantEvents)
	}
	n := len(svc.Events)
	s.step()
	if got := len(s.service("web").Events); got != n {
		t.Errorf("a steady service's Step added %d events", got-n)
	}

	// A task that stops unexpectedly (after running a while) is replaced.
	s.clk.Advance(time.Minute)
	crashed := tasks[0]
	now := ecs.NewTime(s.clk.Now())
	s.report(crashed, agent.TaskStatus{LastStatus: "STOPPED", StopCode: ecs.TaskStopCodeEssentialContainerExited,
		StoppedReason: "Essential container in task exited", StoppedAt: now, ExecutionStoppedAt: now})
	s.step()
	if live := s.live("web"); len(live) != 3 {
		t.Errorf("after a crash: got %d live tasks, want 3", len(live))
	}
	if got := s.service("web").Events[0].Message; !strings.HasPrefix(got, "(service web) has started 1 tasks:") {
		t.Errorf("got newest event %q, want a task started", got)
	}
	s.settle()

	// Scale in to 1: two tasks stopped by the scheduler.
	s.updateService(&ecs.UpdateServiceRequest{Service: "web", DesiredCount: new(int32(1))})
	s.step()
	var stopping []*ecs.Task
	for _, tk := range s.tasks("web") {
		if tk.DesiredStatus == "STOPPED" && tk.LastStatus != "STOPPED" {
			stopping = append(stopping, tk)
		}
	}
	if len(stopping) != 2 {
		t.Fatalf("got %d tasks stopping, want 2", len(stopping))
	}
	for _, tk := range stopping {
		if tk.StopCode != ecs.TaskStopCodeServiceSchedulerInitiated || tk.StoppedReason != scalingReason(dep.Id) {
			t.Errorf("task %s: got stop code %s reason %q", tk.TaskArn, tk.StopCode, tk.StoppedReason)
		}
	}
	if got := s.service("web").Events[0].Message; !strings.HasPrefix(got, "(service web) has stopped 2 running tasks:") {
		t.Errorf("got newest event %q", got)
	}
	s.settle()
	svc = s.service("web")
	if svc.RunningCount != 1 || svc.PendingCount != 0 || svc.Events[0].Message != steadyStateEvent("web") {
		t.Errorf("after scale-in: running %d pending %d newest event %q", svc.RunningCount, svc.PendingCount, svc.Events[0].Message)
	}
}

func TestLostInstanceTasksReplaced(t *testing.T) {
	s := newStack(t)
	a, b := s.instance("az1"), s.instance("az2")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(2))})
	s.settle()
	// A standalone task on a too.
	run, err := s.ecs.StartTask(bg, &ecs.StartTaskRequest{TaskDefinition: s.td, ContainerInstances: []string{a}})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("StartTask: %v %+v", err, run)
	}
	s.agents()
	onA := func() []*ecs.Task {
		var out []*ecs.Task
		for _, tk := range s.tasks("") {
			if lastPart(tk.ContainerInstanceArn) == a && tk.LastStatus != "STOPPED" {
				out = append(out, tk)
			}
		}
		return out
	}
	if got := len(onA()); got != 2 {
		t.Fatalf("got %d tasks on a, want 2 (one service task, one standalone)", got)
	}

	// A blip: disconnected for one Step only costs nothing.
	if err := s.ecs.SetAgentConnected(bg, "default", b, false); err != nil {
		t.Fatal(err)
	}
	s.step()
	if err := s.ecs.SetAgentConnected(bg, "default", b, true); err != nil {
		t.Fatal(err)
	}
	s.clk.Advance(time.Second)
	s.step()
	if got := len(s.live("web")); got != 2 {
		t.Fatalf("after a blip: got %d live service tasks, want 2", got)
	}

	// a's agent goes silent for good.
	lost := onA()
	if err := s.ecs.SetAgentConnected(bg, "default", a, false); err != nil {
		t.Fatal(err)
	}
	s.step() // first seen: nothing yet
	if got := len(onA()); got != 2 {
		t.Fatalf("first Step after the disconnect: got %d tasks on a, want 2 (not acted on yet)", got)
	}
	s.clk.Advance(time.Second)
	s.step()
	if got := len(onA()); got != 0 {
		t.Fatalf("got %d tasks left on a, want 0", got)
	}
	for _, tk := range lost {
		got := s.tasks("")[slices.IndexFunc(s.tasks(""), func(x *ecs.Task) bool { return x.TaskArn == tk.TaskArn })]
		want := "Task stopped because its container instance " + a + " lost contact (agent disconnected)"
		if got.LastStatus != "STOPPED" || got.StopCode != ecs.TaskStopCodeTerminationNotice || got.StoppedReason != want {
			t.Errorf("task %s: got %s %s %q", tk.TaskArn, got.LastStatus, got.StopCode, got.StoppedReason)
		}
	}
	live := s.live("web")
	if len(live) != 2 {
		t.Fatalf("got %d live service tasks, want 2 (the lost one replaced)", len(live))
	}
	var svcLost *ecs.Task
	for _, tk := range lost {
		if tk.Group == "service:web" {
			svcLost = tk
		}
	}
	ev := messages(s.service("web"))
	wantLost := "(service web) (container-instance " + a + ") lost contact (agent disconnected): 1 tasks stopped: (task " + lastPart(svcLost.TaskArn) + ")."
	if len(ev) < 2 || ev[1] != wantLost || !strings.HasPrefix(ev[0], "(service web) has started 1 tasks:") {
		t.Errorf("got events %q, want %q then a task started", ev[:2], wantLost)
	}
	for _, tk := range live {
		if lastPart(tk.ContainerInstanceArn) != b {
			t.Errorf("task %s placed on %s, want b", tk.TaskArn, tk.ContainerInstanceArn)
		}
	}
	s.settle()

	// The agent flaps: back, reporting its old tasks still running; away
	// again. Nothing more is stopped or started.
	before := len(s.tasks(""))
	if err := s.ecs.SetAgentConnected(bg, "default", a, true); err != nil {
		t.Fatal(err)
	}
	for _, tk := range lost {
		s.report(tk, agent.TaskStatus{LastStatus: "RUNNING", StartedAt: ecs.NewTime(s.clk.Now())})
	}
	assigned, _, err := s.ecs.AgentTasks(bg, "default", a)
	if err != nil || len(assigned) != 0 {
		t.Errorf("a's agent is assigned %d tasks (%v), want none: it stops what it still runs", len(assigned), err)
	}
	s.settle()
	if err := s.ecs.SetAgentConnected(bg, "default", a, false); err != nil {
		t.Fatal(err)
	}
	s.step()
	s.clk.Advance(time.Second)
	s.settle()
	if after := len(s.tasks("")); after != before {
		t.Errorf("the flapping agent cost %d more tasks", after-before)
	}
	for _, tk := range lost {
		if got := s.tasks("")[slices.IndexFunc(s.tasks(""), func(x *ecs.Task) bool { return x.TaskArn == tk.TaskArn })]; got.LastStatus != "STOPPED" {
			t.Errorf("lost task %s came back as %s", tk.TaskArn, got.LastStatus)
		}
	}
}

func TestDrainingInstance(t *testing.T) {
	for _, pct := range [][2]int32{{100, 200}, {50, 100}} {
		t.Run(fmt.Sprintf("%d-%d", pct[0], pct[1]), func(t *testing.T) {
			s := newStack(t)
			s.instance("az1")
			s.instance("az2")
			s.instance("az3")
			s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(2)),
				DeploymentConfiguration: &ecs.DeploymentConfiguration{MinimumHealthyPercent: &pct[0], MaximumPercent: &pct[1]}})
			s.settle()
			drained := s.live("web")[0].ContainerInstanceArn
			run, err := s.ecs.StartTask(bg, &ecs.StartTaskRequest{TaskDefinition: s.td, ContainerInstances: []string{drained}})
			if err != nil || len(run.Tasks) != 1 {
				t.Fatalf("StartTask: %v", err)
			}
			s.agents()
			before := map[string]bool{}
			for _, tk := range s.tasks("") {
				before[tk.TaskArn] = true
			}
			if _, err := s.ecs.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{
				ContainerInstances: []string{drained}, Status: "DRAINING"}); err != nil {
				t.Fatal(err)
			}
			minHealthy := int(2 * pct[0] / 100)
			for round := 0; ; round++ {
				if round == 20 {
					t.Fatal("service tasks still on the draining instance after 20 rounds")
				}
				s.step()
				healthy, onDrained, total := 0, 0, 0
				for _, tk := range s.tasks("web") {
					if tk.LastStatus == "STOPPED" {
						continue
					}
					total++
					if tk.LastStatus == "RUNNING" && tk.DesiredStatus == "RUNNING" {
						healthy++
					}
					if tk.ContainerInstanceArn == drained {
						onDrained++
						if !before[tk.TaskArn] {
							t.Errorf("round %d: a new task was placed on the draining instance", round)
						}
					}
				}
				if healthy < minHealthy {
					t.Fatalf("round %d: %d healthy tasks, below minimumHealthyPercent (%d)", round, healthy, minHealthy)
				}
				if max := int(2 * pct[1] / 100); total > max {
					t.Fatalf("round %d: %d tasks not STOPPED, above maximumPercent (%d)", round, total, max)
				}
				s.agents()
				if onDrained == 0 && len(s.live("web")) == 2 && healthy == 2 {
					break
				}
				s.clk.Advance(time.Second)
			}
			for _, tk := range s.live("web") {
				if tk.ContainerInstanceArn == drained {
					t.Errorf("service task %s still on the draining instance", tk.TaskArn)
				}
			}
			for _, tk := range s.tasks("") {
				if tk.TaskArn == run.Tasks[0].TaskArn && (tk.LastStatus != "RUNNING" || tk.DesiredStatus != "RUNNING") {
					t.Errorf("the standalone task was touched: %s / %s", tk.LastStatus, tk.DesiredStatus)
				}
			}
			s.settle()
			if svc := s.service("web"); svc.Events[0].Message != steadyStateEvent("web") {
				t.Errorf("got newest event %q, want steady state", svc.Events[0].Message)
			}
		})
	}
}

func TestDaemonService(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	s.instance("az2")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "agent", SchedulingStrategy: "DAEMON"})
	s.step()
	perInstance := func() map[string]int {
		m := map[string]int{}
		for _, tk := range s.live("agent") {
			m[tk.ContainerInstanceArn]++
		}
		return m
	}
	if got := perInstance(); len(got) != 2 || got[s.live("agent")[0].ContainerInstanceArn] != 1 {
		t.Fatalf("got tasks per instance %v, want one on each of 2", got)
	}
	if svc := s.service("agent"); svc.DesiredCount != 2 || svc.Deployments[0].DesiredCount != 2 {
		t.Errorf("got desiredCount %d (deployment %d), want 2", svc.DesiredCount, svc.Deployments[0].DesiredCount)
	}
	s.settle()

	// A host joins: it gets the daemon too.
	c := s.instance("az3")
	s.step()
	got := perInstance()
	if len(got) != 3 || got[s.ecs.InstanceARN("default", c)] != 1 {
		t.Errorf("after a join: got %v, want one task on each of 3", got)
	}
	s.settle()
	svc := s.service("agent")
	if svc.DesiredCount != 3 || svc.RunningCount != 3 || svc.Events[0].Message != steadyStateEvent("agent") {
		t.Errorf("got desired %d running %d newest event %q", svc.DesiredCount, svc.RunningCount, svc.Events[0].Message)
	}

	// A new deployment replaces every task (minimumHealthyPercent 0).
	s.updateService(&ecs.UpdateServiceRequest{Service: "agent", ForceNewDeployment: true})
	s.settle()
	svc = s.service("agent")
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != "COMPLETED" || svc.RunningCount != 3 {
		t.Errorf("after the deployment: %d deployments, rollout %s, running %d", len(svc.Deployments), svc.Deployments[0].RolloutState, svc.RunningCount)
	}
	for _, tk := range s.live("agent") {
		if tk.StartedBy != svc.Deployments[0].Id {
			t.Errorf("task %s of deployment %s, want %s", tk.TaskArn, tk.StartedBy, svc.Deployments[0].Id)
		}
	}
}

func TestDaemonServiceMemberOf(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	out, err := s.ecs.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "default", CPU: 1024, Memory: 2048,
		Attributes: []ecs.Attribute{{Name: "role", Value: "edge"}}})
	if err != nil {
		t.Fatal(err)
	}
	s.createService(&ecs.CreateServiceRequest{ServiceName: "proxy", SchedulingStrategy: "DAEMON",
		PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "attribute:role == edge"}}})
	s.settle()
	live := s.live("proxy")
	if len(live) != 1 || live[0].ContainerInstanceArn != out.ContainerInstanceArn {
		t.Fatalf("got %d tasks, want one on the edge instance", len(live))
	}
	if svc := s.service("proxy"); svc.DesiredCount != 1 || svc.RunningCount != 1 || svc.Events[0].Message != steadyStateEvent("proxy") {
		t.Errorf("got desired %d running %d newest event %q", svc.DesiredCount, svc.RunningCount, svc.Events[0].Message)
	}
}

func TestRollingDeployment(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	s.instance("az2")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(2))})
	s.settle()
	old := s.service("web").Deployments[0].Id
	td2 := s.taskDef("web", &ecs.HealthCheck{Command: []string{"CMD", "true"}})
	s.updateService(&ecs.UpdateServiceRequest{Service: "web", TaskDefinition: td2})
	s.step()
	s.agents() // new tasks RUNNING, health UNKNOWN
	s.step()
	if got := len(s.live("web")); got != 4 {
		t.Fatalf("new tasks not yet healthy: got %d live tasks, want 4 (old ones kept)", got)
	}
	for _, tk := range s.tasks("web") {
		if tk.StartedBy != old && tk.LastStatus == "RUNNING" {
			s.report(tk, agent.TaskStatus{LastStatus: "RUNNING", HealthStatus: "HEALTHY"})
		}
	}
	s.settle()
	svc := s.service("web")
	if len(svc.Deployments) != 1 || svc.Deployments[0].Id == old || svc.Deployments[0].RolloutState != "COMPLETED" {
		t.Fatalf("got deployments %+v, want only the new one, COMPLETED", svc.Deployments)
	}
	for _, tk := range s.live("web") {
		if tk.StartedBy == old {
			t.Errorf("old task %s still live", tk.TaskArn)
		}
	}
}

func TestThrottledRestarts(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(1))})
	fail := func() {
		t.Helper()
		live := s.live("web")
		if len(live) != 1 {
			t.Fatalf("got %d live tasks, want 1", len(live))
		}
		now := ecs.NewTime(s.clk.Now())
		s.report(live[0], agent.TaskStatus{LastStatus: "STOPPED", StopCode: ecs.TaskStopCodeTaskFailedToStart,
			StoppedReason: "CannotPullContainerError: not found", StoppedAt: now, ExecutionStoppedAt: now})
	}
	s.step()
	fail()
	s.step() // the first failure is retried at once
	fail()
	s.step() // the second waits 10 s
	if got := len(s.live("web")); got != 0 {
		t.Fatalf("after 2 failures: got %d live tasks, want 0 (throttled)", got)
	}
	svc := s.service("web")
	if svc.Events[0].Message != unableToStartEvent("web") || svc.Deployments[0].FailedTasks != 2 {
		t.Errorf("got newest event %q failedTasks %d", svc.Events[0].Message, svc.Deployments[0].FailedTasks)
	}
	s.clk.Advance(9 * time.Second)
	s.step()
	if got := len(s.live("web")); got != 0 {
		t.Fatalf("9 s later: got %d live tasks, want 0", got)
	}
	s.clk.Advance(time.Second)
	s.step()
	fail()
	s.step() // third failure: 20 s
	s.clk.Advance(19 * time.Second)
	s.step()
	if got := len(s.live("web")); got != 0 {
		t.Fatalf("19 s after the third failure: got %d live tasks, want 0", got)
	}
	if n := len(s.service("web").Events); n != len(svc.Events)+1 {
		t.Errorf("the unable-to-start event was repeated: %q", messages(s.service("web")))
	}
	// A new deployment starts afresh.
	s.updateService(&ecs.UpdateServiceRequest{Service: "web", ForceNewDeployment: true})
	s.step()
	if got := len(s.live("web")); got != 1 {
		t.Fatalf("after a new deployment: got %d live tasks, want 1", got)
	}
}

func TestPlacementFailureEvent(t *testing.T) {
	s := newStack(t)
	id := s.instance("az1")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(5))}) // 4 fit
	s.step()
	svc := s.service("web")
	want := "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance " +
		id + ") has insufficient CPU units available. " + troubleshooting
	if got := messages(svc); len(got) < 2 || got[0] != want || !strings.HasPrefix(got[1], "(service web) has started 4 tasks:") {
		t.Fatalf("got events %q, want the 4 started, then %q", got, want)
	}
	n := len(svc.Events)
	s.step()
	s.step()
	if got := len(s.service("web").Events); got != n {
		t.Errorf("the placement failure was repeated: %q", messages(s.service("web")))
	}
}

func TestDeleteService(t *testing.T) {
	s := newStack(t)
	s.instance("az1")
	s.createService(&ecs.CreateServiceRequest{ServiceName: "web", DesiredCount: new(int32(2))})
	s.settle()
	if _, err := s.ecs.DeleteService(bg, &ecs.DeleteServiceRequest{Service: "web", Force: new(true)}); err != nil {
		t.Fatal(err)
	}
	s.step()
	if svc := s.service("web"); svc.Status != "DRAINING" || len(s.live("web")) != 0 {
		t.Fatalf("got status %s and %d live tasks, want DRAINING and 0", svc.Status, len(s.live("web")))
	}
	s.settle()
	if svc := s.service("web"); svc.Status != "INACTIVE" {
		t.Errorf("got status %s, want INACTIVE", svc.Status)
	}
}

func TestRun(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(tlog{t}, nil))
	e := ecsapi.New(ecsapi.Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Logger: log})
	c := New(Config{ECS: e, Store: st, Logger: log, Resync: time.Hour})
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	if _, err := e.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "default", CPU: 1024, Memory: 2048}); err != nil {
		t.Fatal(err)
	}
	mem := int32(128)
	if _, err := e.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web",
		ContainerDefinitions: []ecs.ContainerDefinition{{Name: "app", Image: "nginx@sha256:abababababababababababababababababababababababababababababababab", Memory: &mem}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateService(bg, &ecs.CreateServiceRequest{ServiceName: "web", TaskDefinition: "web", DesiredCount: new(int32(2))}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := e.DescribeServices(bg, &ecs.DescribeServicesRequest{Services: []string{"web"}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Services[0].PendingCount == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no tasks started within 5 s (resync is an hour: the watch must trigger it): %+v", d.Services[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
