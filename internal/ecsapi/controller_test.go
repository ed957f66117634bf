package ecsapi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// service creates a REPLICA service of desired tasks of td and returns its
// PRIMARY deployment ID.
func (f *taskFixture) service(name, td string, desired int32, mod ...func(*ecs.CreateServiceRequest)) string {
	f.t.Helper()
	in := &ecs.CreateServiceRequest{ServiceName: name, TaskDefinition: td, DesiredCount: ptr(desired)}
	for _, m := range mod {
		m(in)
	}
	out, err := f.s.CreateService(bg, in)
	if err != nil {
		f.t.Fatalf("CreateService(%s): %v", name, err)
	}
	return out.Service.Deployments[0].Id
}

func (f *taskFixture) task(arn string) *ecs.Task {
	f.t.Helper()
	out, err := f.s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Tasks: []string{arn}})
	if err != nil || len(out.Tasks) != 1 {
		f.t.Fatalf("DescribeTasks(%s): %v %+v", arn, err, out)
	}
	return &out.Tasks[0]
}

func az(zone string) ecs.Attribute { return ecs.Attribute{Name: "ecs.availability-zone", Value: zone} }

func TestLaunchServiceTasks(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 2048, az("us-east-1a"))
	b := f.instance("default", 1024, 2048, az("us-east-1b"))
	td := f.taskDef(webDef("web", 256, 512), ecs.Tag{Key: "team", Value: "shop"})
	dep := f.service("web", td, 3, func(in *ecs.CreateServiceRequest) {
		in.PropagateTags = ecs.PropagateTagsTASKDEFINITION
		in.EnableExecuteCommand = true
	})

	tasks, failures, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 3)
	if err != nil || len(failures) != 0 || len(tasks) != 3 {
		t.Fatalf("got %d tasks, failures %+v, err %v; want 3 tasks", len(tasks), failures, err)
	}
	perInstance := map[string]int{}
	for _, tk := range tasks {
		perInstance[tk.ContainerInstanceArn]++
		if tk.Group != "service:web" || tk.StartedBy != dep || tk.LaunchType != "EC2" || tk.TaskDefinitionArn != f.s.taskDefARN("web", 1) ||
			tk.LastStatus != "PROVISIONING" || !tk.EnableExecuteCommand || !slices.Contains(tk.Tags, ecs.Tag{Key: "team", Value: "shop"}) {
			t.Errorf("got task %+v; want group service:web, startedBy %s, EC2, web:1, PROVISIONING, exec, team tag", tk, dep)
		}
	}
	// Spread over both zones: 2 and 1.
	if perInstance[a.ContainerInstanceArn]+perInstance[b.ContainerInstanceArn] != 3 || perInstance[a.ContainerInstanceArn] == 0 || perInstance[b.ContainerInstanceArn] == 0 {
		t.Errorf("got tasks per instance %v, want both instances used", perInstance)
	}
	got := f.describeInstance("default", a.ContainerInstanceArn)
	cpu, mem, _ := remaining(got)
	n := int32(perInstance[a.ContainerInstanceArn])
	if cpu != 1024-256*n || mem != 2048-512*n || got.PendingTasksCount != n {
		t.Errorf("instance a: got cpu %d mem %d pending %d, want %d %d %d", cpu, mem, got.PendingTasksCount, 1024-256*n, 2048-512*n, n)
	}
	// The service counts them.
	d, err := f.s.DescribeServices(bg, &ecs.DescribeServicesRequest{Services: []string{"web"}})
	if err != nil || d.Services[0].PendingCount != 3 || d.Services[0].Deployments[0].PendingCount != 3 {
		t.Errorf("DescribeServices: %v, pending %d; want 3", err, d.Services[0].PendingCount)
	}

	// 1 task left per instance fits (cpu 1024 = 4 tasks each; memory 2048 = 4).
	tasks, failures, err = f.s.LaunchServiceTasks(bg, "default", "web", dep, 7)
	if err != nil || len(tasks) != 5 || len(failures) != 2 {
		t.Fatalf("got %d tasks and %d failures (%v), want 5 and 2", len(tasks), len(failures), err)
	}
	if failures[0].Reason != "RESOURCE:CPU" {
		t.Errorf("got failure %+v, want RESOURCE:CPU", failures[0])
	}
}

func TestLaunchServiceTasksFailures(t *testing.T) {
	f := newTaskFixture(t)
	td := f.taskDef(webDef("web", 256, 512))
	dep := f.service("web", td, 1)

	_, failures, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 2)
	if err != nil || len(failures) != 2 || failures[0] != (ecs.Failure{Reason: msgNoInstances}) {
		t.Errorf("no instances: got %+v, %v; want 2 failures %q", failures, err, msgNoInstances)
	}
	a := f.instance("default", 1024, 2048)
	f.setAgentConnected("default", a.ContainerInstanceArn, false)
	_, failures, _ = f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if want := (ecs.Failure{Arn: a.ContainerInstanceArn, Reason: "AGENT"}); len(failures) != 1 || failures[0] != want {
		t.Errorf("agent disconnected: got %+v, want %+v", failures, want)
	}
	if _, _, err := f.s.LaunchServiceTasks(bg, "default", "web", "ecs-svc/0000000000000000001", 1); !errors.Is(err, ErrStaleLaunch) {
		t.Errorf("unknown deployment: got %v, want ErrStaleLaunch", err)
	}
	if _, err := f.s.DeleteService(bg, &ecs.DeleteServiceRequest{Service: "web", Force: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1); !errors.Is(err, ErrStaleLaunch) {
		t.Errorf("deleted service: got %v, want ErrStaleLaunch", err)
	}
}

func TestLaunchServiceTasksDistinctInstance(t *testing.T) {
	f := newTaskFixture(t)
	f.instance("default", 4096, 8192)
	f.instance("default", 4096, 8192)
	td := f.taskDef(webDef("web", 256, 512))
	dep := f.service("web", td, 3, func(in *ecs.CreateServiceRequest) {
		in.PlacementConstraints = []ecs.PlacementConstraint{{Type: "distinctInstance"}}
	})
	if tasks, failures, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1); err != nil || len(tasks) != 1 || len(failures) != 0 {
		t.Fatalf("first: %d tasks, %+v, %v", len(tasks), failures, err)
	}
	// Across calls: the instance already running one is no candidate.
	tasks, failures, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 2)
	if err != nil || len(tasks) != 1 || len(failures) != 1 || failures[0].Reason != reasonDistinct {
		t.Fatalf("got %d tasks, failures %+v, err %v; want 1 task and a distinctInstance failure", len(tasks), failures, err)
	}
}

func TestLaunchDaemonTasks(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 2048)
	b := f.instance("default", 1024, 2048)
	c := f.instance("default", 1024, 2048)
	small := f.instance("default", 128, 2048)
	td := f.taskDef(webDef("agent", 256, 512))
	out, err := f.s.CreateService(bg, &ecs.CreateServiceRequest{ServiceName: "agent", TaskDefinition: td, SchedulingStrategy: "DAEMON"})
	if err != nil {
		t.Fatal(err)
	}
	dep := out.Service.Deployments[0].Id
	if _, err := f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{b.ContainerInstanceArn}, Status: "DRAINING"}); err != nil {
		t.Fatal(err)
	}
	f.setAgentConnected("default", c.ContainerInstanceArn, false)

	tasks, failures, err := f.s.LaunchDaemonTasks(bg, "default", "agent", dep,
		[]string{instanceIDOf(a), instanceIDOf(b), instanceIDOf(c), instanceIDOf(small), "0123"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].ContainerInstanceArn != a.ContainerInstanceArn || tasks[0].Group != "service:agent" || tasks[0].StartedBy != dep {
		t.Errorf("got tasks %+v, want one on instance a", tasks)
	}
	want := []ecs.Failure{
		{Arn: b.ContainerInstanceArn, Reason: "DRAINING"},
		{Arn: c.ContainerInstanceArn, Reason: "AGENT"},
		{Arn: small.ContainerInstanceArn, Reason: "RESOURCE:CPU"},
		{Arn: f.s.instanceARN("default", "0123"), Reason: "MISSING"},
	}
	if !slices.Equal(failures, want) {
		t.Errorf("got failures %+v, want %+v", failures, want)
	}
}

func TestStopTasks(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 2048)
	b := f.instance("default", 1024, 2048)
	td := f.taskDef(webDef("web", 256, 512))
	dep := f.service("web", td, 2)
	tasks, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 2)
	if err != nil || len(tasks) != 2 {
		t.Fatal(err)
	}
	onA, onB := tasks[0], tasks[1]
	if onA.ContainerInstanceArn != a.ContainerInstanceArn {
		onA, onB = onB, onA
	}
	// The task on b is PROVISIONING and b's agent is gone: it stops at once.
	f.setAgentConnected("default", b.ContainerInstanceArn, false)
	err = f.s.StopTasks(bg, "default", []TaskStop{
		{TaskArn: onA.TaskArn, StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: "Scaling activity initiated by (deployment x)"},
		{TaskArn: onB.TaskArn, StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: "scale in"},
		{TaskArn: f.s.taskARN("default", "0123"), StopCode: ecs.TaskStopCodeServiceSchedulerInitiated},
	})
	if err != nil {
		t.Fatal(err)
	}
	ga := f.task(onA.TaskArn)
	if ga.DesiredStatus != "STOPPED" || ga.LastStatus != "PROVISIONING" || ga.StopCode != ecs.TaskStopCodeServiceSchedulerInitiated ||
		ga.StoppedReason != "Scaling activity initiated by (deployment x)" || ga.StoppingAt == nil {
		t.Errorf("task on a: got desired %s last %s code %s reason %q, want STOPPED, PROVISIONING, the code and reason",
			ga.DesiredStatus, ga.LastStatus, ga.StopCode, ga.StoppedReason)
	}
	gb := f.task(onB.TaskArn)
	if gb.LastStatus != "STOPPED" || gb.StopCode != ecs.TaskStopCodeServiceSchedulerInitiated {
		t.Errorf("task on b: got last %s code %s, want STOPPED ServiceSchedulerInitiated", gb.LastStatus, gb.StopCode)
	}
	if cpu, _, _ := remaining(f.describeInstance("default", b.ContainerInstanceArn)); cpu != 1024 {
		t.Errorf("instance b: got remaining cpu %d, want 1024 (released)", cpu)
	}
	// Stopping again changes nothing.
	if err := f.s.StopTasks(bg, "default", []TaskStop{{TaskArn: onA.TaskArn, StopCode: ecs.TaskStopCodeUserInitiated, Reason: "again"}}); err != nil {
		t.Fatal(err)
	}
	if got := f.task(onA.TaskArn); got.StopCode != ecs.TaskStopCodeServiceSchedulerInitiated || got.Version != ga.Version {
		t.Errorf("second stop changed the task: code %s version %d", got.StopCode, got.Version)
	}
}

func TestMarkTasksLost(t *testing.T) {
	f := newTaskFixture(t)
	reg, err := f.s.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "default", CPU: 1024, Memory: 2048})
	if err != nil {
		t.Fatal(err)
	}
	id, arn := reg.InstanceID, reg.ContainerInstanceArn
	td := f.taskDef(webDef("web", 256, 512, 8080))
	run, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	dep := f.service("web", f.taskDef(webDef("svc", 256, 512)), 1)
	svcTasks, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if err != nil || len(svcTasks) != 1 {
		t.Fatal(err)
	}
	// The standalone task is RUNNING, the service task still PROVISIONING.
	now := ecs.NewTime(f.clk.Now())
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: id,
		Tasks: []agent.TaskStatus{{TaskArn: run.Tasks[0].TaskArn, LastStatus: "RUNNING", StartedAt: now}}}); err != nil {
		t.Fatal(err)
	}

	if got, err := f.s.MarkTasksLost(bg, "default", id, "lost"); err != nil || len(got) != 0 {
		t.Errorf("agent connected: got %d tasks, %v; want none (nothing done)", len(got), err)
	}
	if err := f.s.SetAgentConnected(bg, "default", id, false); err != nil {
		t.Fatal(err)
	}
	reason := "Task stopped because its container instance " + id + " lost contact (agent disconnected)"
	stopped, err := f.s.MarkTasksLost(bg, "default", id, reason)
	if err != nil || len(stopped) != 2 || stopped[0].LastStatus != "STOPPED" {
		t.Fatalf("got %+v, %v; want 2 tasks STOPPED", stopped, err)
	}
	for _, arnT := range []string{run.Tasks[0].TaskArn, svcTasks[0].TaskArn} {
		tk := f.task(arnT)
		if tk.LastStatus != "STOPPED" || tk.DesiredStatus != "STOPPED" || tk.StopCode != StopCodeInstanceLost || tk.StoppedReason != reason || tk.StoppedAt == nil {
			t.Errorf("task %s: got last %s desired %s code %s reason %q", arnT, tk.LastStatus, tk.DesiredStatus, tk.StopCode, tk.StoppedReason)
		}
	}
	ci := f.describeInstance("default", arn)
	cpu, mem, ports := remaining(ci)
	if cpu != 1024 || mem != 2048 || slices.Contains(ports, "8080") || ci.RunningTasksCount != 0 || ci.PendingTasksCount != 0 {
		t.Errorf("instance: got cpu %d mem %d ports %v running %d pending %d, want everything released", cpu, mem, ports, ci.RunningTasksCount, ci.PendingTasksCount)
	}
	// Counted once: again, nothing to do.
	if got, err := f.s.MarkTasksLost(bg, "default", id, reason); err != nil || len(got) != 0 {
		t.Errorf("second call: got %d tasks, %v; want none", len(got), err)
	}
	// The agent comes back and reports the task still running: it stays
	// STOPPED, and is no longer assigned (the agent stops it).
	if err := f.s.SetAgentConnected(bg, "default", id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: id,
		Tasks: []agent.TaskStatus{{TaskArn: run.Tasks[0].TaskArn, LastStatus: "RUNNING", StartedAt: now}}}); err != nil {
		t.Fatal(err)
	}
	if tk := f.task(run.Tasks[0].TaskArn); tk.LastStatus != "STOPPED" {
		t.Errorf("after the agent's report: got %s, want STOPPED", tk.LastStatus)
	}
	assigned, _, err := f.s.AgentTasks(bg, "default", id)
	if err != nil || len(assigned) != 0 {
		t.Errorf("AgentTasks: got %d tasks, %v; want none", len(assigned), err)
	}
}

func TestUpdateServiceRecord(t *testing.T) {
	f := newTaskFixture(t)
	td := f.taskDef(webDef("web", 256, 512))
	in := &ecs.CreateServiceRequest{ServiceName: "web", TaskDefinition: td, DesiredCount: ptr(int32(1)), ClientToken: "tok"}
	if _, err := f.s.CreateService(bg, in); err != nil {
		t.Fatal(err)
	}
	err := f.s.UpdateServiceRecord(bg, "default", "web", func(svc *ecs.Service) bool {
		AddServiceEvent(svc, f.clk.Now(), "(service web) has reached a steady state.")
		svc.Deployments[0].RolloutState = ecs.DeploymentRolloutStateCOMPLETED
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := f.s.UpdateServiceRecord(bg, "default", "web", func(*ecs.Service) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("no-op update: %v, %d calls", err, calls)
	}
	d, err := f.s.DescribeServices(bg, &ecs.DescribeServicesRequest{Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := d.Services[0]
	if len(svc.Events) != 2 || !strings.Contains(svc.Events[0].Message, "steady state") || svc.Deployments[0].RolloutState != "COMPLETED" {
		t.Errorf("got events %+v, rollout %s", svc.Events, svc.Deployments[0].RolloutState)
	}
	// The client token is kept: a retried CreateService is still idempotent.
	if _, err := f.s.CreateService(bg, in); err != nil {
		t.Errorf("CreateService retry after an update: %v", err)
	}
	if err := f.s.UpdateServiceRecord(bg, "default", "nope", func(*ecs.Service) bool { return true }); !state.IsNotFound(err) {
		t.Errorf("missing service: got %v, want not found", err)
	}
}

func TestReadCluster(t *testing.T) {
	f := newTaskFixture(t)
	f.instance("default", 1024, 2048)
	td := f.taskDef(webDef("web", 256, 512))
	dep := f.service("web", td, 1)
	if _, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1); err != nil {
		t.Fatal(err)
	}
	names, err := f.s.ActiveClusters(bg)
	if err != nil || !slices.Equal(names, []string{"default"}) {
		t.Errorf("ActiveClusters: %v %v", names, err)
	}
	cs, err := f.s.ReadCluster(bg, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Services) != 1 || len(cs.Tasks) != 1 || len(cs.Instances) != 1 || cs.TaskDefinitions[f.s.taskDefARN("web", 1)] == nil {
		t.Errorf("got %d services, %d tasks, %d instances, task definitions %v", len(cs.Services), len(cs.Tasks), len(cs.Instances), cs.TaskDefinitions)
	}
	if name, ok := ServiceOfTask(cs.Tasks[0]); !ok || name != "web" {
		t.Errorf("ServiceOfTask: got %q %v, want web", name, ok)
	}
	byHand := &ecs.Task{Group: "service:web", StartedBy: "me"}
	if _, ok := ServiceOfTask(byHand); ok {
		t.Error("ServiceOfTask: a task run by hand in the service's group counts as the service's")
	}
}

func TestLaunchDaemonTasksMemberOf(t *testing.T) {
	f := newTaskFixture(t)
	edge := f.instance("default", 1024, 2048, ecs.Attribute{Name: "role", Value: "edge"})
	other := f.instance("default", 1024, 2048)
	td := f.taskDef(webDef("proxy", 256, 512))
	out, err := f.s.CreateService(bg, &ecs.CreateServiceRequest{ServiceName: "proxy", TaskDefinition: td, SchedulingStrategy: "DAEMON",
		PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "attribute:role == edge"}}})
	if err != nil {
		t.Fatal(err)
	}
	tasks, failures, err := f.s.LaunchDaemonTasks(bg, "default", "proxy", out.Service.Deployments[0].Id,
		[]string{instanceIDOf(edge), instanceIDOf(other)})
	if err != nil || len(tasks) != 1 || tasks[0].ContainerInstanceArn != edge.ContainerInstanceArn {
		t.Fatalf("got %+v, %v; want one task on the edge instance", tasks, err)
	}
	if want := []ecs.Failure{{Arn: other.ContainerInstanceArn, Reason: reasonMemberOf}}; !slices.Equal(failures, want) {
		t.Errorf("got failures %+v, want %+v", failures, want)
	}
}
