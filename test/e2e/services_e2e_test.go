package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// The service tests run berth server with real berth agents (process
// runtime) in three availability zones and drive ECS services through the
// SDK: placement strategies and constraints, DAEMON services, the loss of a
// host and the draining of one. Each test has a server and a cluster of its
// own, so they run in parallel.

// Time limits and targets of the service tests (docs: targets.md). Waits
// are bounded by serviceTimeout; the targets are printed, never enforced.
const (
	serviceTimeout = 30 * time.Second
	servicePoll    = 50 * time.Millisecond

	targetLostNoticed  = 5 * time.Second  // agentConnected false after the host died
	targetLostReplaced = 10 * time.Second // replacements running after the host died
)

// Texts of ECS's service events that the tests look for (berth words them
// as ECS does: internal/controller/events.go).
const (
	eventUnableToPlace = "was unable to place a task"
	eventSteadyState   = "has reached a steady state"
)

// agentSpec is one agent of a service test's cluster: its zone and the
// CPU units and MiB it offers.
type agentSpec struct {
	AZ          string
	CPU, Memory int32
}

// threeZones is one agent in each of us-east-1a, b and c, each offering
// 1024 CPU units and 1024 MiB (eight of the tests' 128 MiB tasks).
func threeZones() []agentSpec {
	return []agentSpec{
		{AZ: "us-east-1a", CPU: 1024, Memory: 1024},
		{AZ: "us-east-1b", CPU: 1024, Memory: 1024},
		{AZ: "us-east-1c", CPU: 1024, Memory: 1024},
	}
}

// svcEnv is one berth server and one cluster of process-runtime agents, with
// a task definition that runs the testapp's HTTP server.
type svcEnv struct {
	t       *testing.T
	srv     *serverProc
	app     testApp
	cluster string
	agents  []*agentProc
	azOf    map[string]string // instance ARN → its ecs.availability-zone attribute
	family  string            // the web task definition
	cleaned bool
}

// newSvcEnv starts a server with serverArgs and one agent per spec, and
// registers the web task definition: the testapp serving HTTP on a dynamic
// host port ($PORT), 128 MiB, no health check (so RUNNING is healthy and
// nothing waits for a 5 s check interval).
func newSvcEnv(t *testing.T, serverArgs []string, specs ...agentSpec) *svcEnv {
	t.Helper()
	start := time.Now()
	e := &svcEnv{t: t, app: newTestApp(t, runtimeProcess), cluster: "svc-" + randomHex(4), azOf: map[string]string{}}
	e.srv = startServer(t, serverOptions{Args: serverArgs})
	for _, s := range specs {
		e.addAgent(s)
	}
	e.family = "web-" + randomHex(3)
	mustTaskDef(t, ctxT(t), e.srv.ecs, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(e.family),
		NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("web"),
			Image:        aws.String(e.app.Image),
			Command:      []string{"serve"},
			Memory:       aws.Int32(128),
			Essential:    aws.Bool(true),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
		}},
	})
	t.Logf("server and %d agents up in %v", len(specs), time.Since(start).Round(time.Millisecond))
	return e
}

// addAgent starts one more agent in the cluster and learns its zone from
// DescribeContainerInstances. The env's cleanup is registered again after
// it, so it runs before any agent's.
func (e *svcEnv) addAgent(s agentSpec) *agentProc {
	t := e.t
	t.Helper()
	a := startAgent(t, e.srv, agentOptions{
		Runtime: runtimeProcess, Cluster: e.cluster, AZ: s.AZ, CPU: s.CPU, Memory: s.Memory,
		Args: []string{"--hostname", fmt.Sprintf("host-%s-%d", s.AZ, len(e.agents))},
	})
	ci, err := a.instance(ctxT(t))
	ok(t, err)
	az := ""
	for _, at := range ci.Attributes {
		if aws.ToString(at.Name) == "ecs.availability-zone" {
			az = aws.ToString(at.Value)
		}
	}
	if az != s.AZ {
		t.Fatalf("instance %s: attribute ecs.availability-zone = %q, want %q (--availability-zone)", a.instanceARN, az, s.AZ)
	}
	e.azOf[a.instanceARN] = az
	e.agents = append(e.agents, a)
	t.Cleanup(e.cleanup)
	return a
}

// cleanup runs once, before the agents' cleanups: after a failure it logs
// the services (with their events) and tasks; then it deletes every service
// (force) and waits, bounded, until the cluster's tasks are STOPPED, so the
// agents stop with nothing left to replace.
func (e *svcEnv) cleanup() {
	t := e.t
	if e.cleaned || !e.srv.running() {
		return
	}
	e.cleaned = true
	if t.Failed() {
		t.Logf("cluster %s at the failure:\n%s", e.cluster, e.dump())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	names, err := e.serviceNames(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, n := range names {
		if _, err := e.srv.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(e.cluster), Service: aws.String(n), Force: aws.Bool(true)}); err != nil {
			t.Errorf("cleanup: DeleteService %s: %v", n, err)
		}
	}
	start := time.Now()
	var detail string
	for {
		left, err := e.liveServiceTasks(ctx)
		if err == nil && len(left) == 0 {
			if d := time.Since(start); d > 5*time.Second {
				t.Logf("cleanup: the services' tasks took %v to stop", d.Round(time.Millisecond))
			}
			return
		}
		detail = fmt.Sprintf("error %v, tasks %v", err, left)
		if ctx.Err() != nil {
			t.Errorf("cleanup: service tasks not STOPPED 45 s after DeleteService(force): %s", detail)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serviceNames lists the cluster's services.
func (e *svcEnv) serviceNames(ctx context.Context) ([]string, error) {
	var names []string
	p := ecs.NewListServicesPaginator(e.srv.ecs, &ecs.ListServicesInput{Cluster: aws.String(e.cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListServices: %w", err)
		}
		for _, arn := range page.ServiceArns {
			names = append(names, arn[strings.LastIndexByte(arn, '/')+1:])
		}
	}
	return names, nil
}

// liveServiceTasks returns "id lastStatus" of every task of the cluster's
// services that is not STOPPED.
func (e *svcEnv) liveServiceTasks(ctx context.Context) ([]string, error) {
	var arns []string
	for _, d := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		got, err := e.listTasks(ctx, "", d)
		if err != nil {
			return nil, err
		}
		arns = append(arns, got...)
	}
	tasks, err := describeTasks(ctx, e.srv.ecs, e.cluster, arns)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, tk := range tasks {
		if strings.HasPrefix(aws.ToString(tk.Group), "service:") && aws.ToString(tk.LastStatus) != "STOPPED" {
			left = append(left, taskID(aws.ToString(tk.TaskArn))+" "+aws.ToString(tk.LastStatus))
		}
	}
	return left, nil
}

// listTasks lists the cluster's tasks of service (all tasks if empty)
// with the desired status.
func (e *svcEnv) listTasks(ctx context.Context, service string, desired types.DesiredStatus) ([]string, error) {
	in := &ecs.ListTasksInput{Cluster: aws.String(e.cluster), DesiredStatus: desired}
	if service != "" {
		in.ServiceName = aws.String(service)
	}
	var arns []string
	p := ecs.NewListTasksPaginator(e.srv.ecs, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListTasks: %w", err)
		}
		arns = append(arns, page.TaskArns...)
	}
	return arns, nil
}

// dump renders every service of the cluster (counts, deployments, events
// oldest first) and every task (status, instance, zone), for failures.
func (e *svcEnv) dump() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	names, err := e.serviceNames(ctx)
	if err != nil {
		return err.Error()
	}
	if len(names) > 0 {
		out, err := e.srv.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: names})
		if err != nil {
			return "DescribeServices: " + err.Error()
		}
		for _, s := range out.Services {
			fmt.Fprintf(&b, "service %s: status %s desired %d running %d pending %d\n", aws.ToString(s.ServiceName), aws.ToString(s.Status), s.DesiredCount, s.RunningCount, s.PendingCount)
			for _, d := range s.Deployments {
				fmt.Fprintf(&b, "  deployment %s %s rollout %s desired %d running %d pending %d failed %d\n", aws.ToString(d.Id), aws.ToString(d.Status), d.RolloutState, d.DesiredCount, d.RunningCount, d.PendingCount, d.FailedTasks)
			}
			for _, ev := range slices.Backward(s.Events) {
				fmt.Fprintf(&b, "  event %s %s\n", aws.ToTime(ev.CreatedAt).Format("15:04:05.000"), aws.ToString(ev.Message))
			}
		}
	}
	var arns []string
	for _, d := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		got, err := e.listTasks(ctx, "", d)
		if err != nil {
			return b.String() + err.Error()
		}
		arns = append(arns, got...)
	}
	tasks, err := describeTasks(ctx, e.srv.ecs, e.cluster, arns)
	if err != nil {
		return b.String() + "DescribeTasks: " + err.Error()
	}
	for _, tk := range tasks {
		ci := aws.ToString(tk.ContainerInstanceArn)
		fmt.Fprintf(&b, "task %s group %s on %s (%s): %s\n", taskID(aws.ToString(tk.TaskArn)), aws.ToString(tk.Group), lastPartOf(ci), e.azOf[ci], taskBrief(tk))
	}
	return b.String()
}

// createService creates a service of the env's task definition; in names
// the service and sets what the test wants.
func (e *svcEnv) createService(t *testing.T, in *ecs.CreateServiceInput) {
	t.Helper()
	in.Cluster = aws.String(e.cluster)
	in.TaskDefinition = aws.String(e.family)
	_, err := e.srv.ecs.CreateService(ctxT(t), in)
	ok(t, err)
}

// svcState is one look at a service: its record and its tasks whose
// desired status is RUNNING.
type svcState struct {
	svc   types.Service
	tasks []types.Task
}

// look reads the service and its tasks.
func (e *svcEnv) look(ctx context.Context, name string) (svcState, error) {
	out, err := e.srv.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{name}})
	if err != nil {
		return svcState{}, fmt.Errorf("DescribeServices: %w", err)
	}
	if len(out.Services) != 1 {
		return svcState{}, fmt.Errorf("DescribeServices(%s): failures %s", name, failureJSON(out.Failures))
	}
	arns, err := e.listTasks(ctx, name, types.DesiredStatusRunning)
	if err != nil {
		return svcState{}, err
	}
	tasks, err := describeTasks(ctx, e.srv.ecs, e.cluster, arns)
	if err != nil {
		return svcState{}, err
	}
	return svcState{svc: out.Services[0], tasks: tasks}, nil
}

// running returns the tasks that are RUNNING and meant to keep running.
func (s svcState) running() []types.Task {
	var out []types.Task
	for _, tk := range s.tasks {
		if aws.ToString(tk.LastStatus) == "RUNNING" && aws.ToString(tk.DesiredStatus) == "RUNNING" {
			out = append(out, tk)
		}
	}
	return out
}

// hasEvent reports whether the service has an event containing text that
// is not in old (event IDs).
func (s svcState) hasEvent(text string, old map[string]bool) (types.ServiceEvent, bool) {
	for _, ev := range s.svc.Events {
		if strings.Contains(aws.ToString(ev.Message), text) && !old[aws.ToString(ev.Id)] {
			return ev, true
		}
	}
	return types.ServiceEvent{}, false
}

// eventIDs returns the IDs of the service's events.
func (s svcState) eventIDs() map[string]bool {
	ids := map[string]bool{}
	for _, ev := range s.svc.Events {
		ids[aws.ToString(ev.Id)] = true
	}
	return ids
}

// brief summarises the state for wait messages.
func (e *svcEnv) brief(s svcState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "desired %d running %d pending %d; tasks:", s.svc.DesiredCount, s.svc.RunningCount, s.svc.PendingCount)
	for _, tk := range s.tasks {
		ci := aws.ToString(tk.ContainerInstanceArn)
		fmt.Fprintf(&b, " %s %s on %s;", taskID(aws.ToString(tk.TaskArn))[:8], aws.ToString(tk.LastStatus), e.azOf[ci])
	}
	if len(s.svc.Events) > 0 {
		fmt.Fprintf(&b, " latest event %q", aws.ToString(s.svc.Events[0].Message))
	}
	return b.String()
}

// waitService polls the service every servicePoll until cond holds,
// failing the test after serviceTimeout.
func (e *svcEnv) waitService(t *testing.T, name, what string, cond func(svcState) bool) svcState {
	t.Helper()
	start := time.Now()
	deadline := start.Add(serviceTimeout)
	var last svcState
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := e.look(ctx, name)
		cancel()
		if err == nil {
			last, lastErr = s, nil
			if cond(s) {
				t.Logf("service %s: %s after %v", name, what, time.Since(start).Round(time.Millisecond))
				return s
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for service %s: %s; last error %v; last state: %s", serviceTimeout, name, what, lastErr, e.brief(last))
		}
		time.Sleep(servicePoll)
	}
}

// waitRunning waits until exactly n tasks of the service are RUNNING and
// nothing else of it is pending.
func (e *svcEnv) waitRunning(t *testing.T, name string, n int) svcState {
	t.Helper()
	return e.waitService(t, name, fmt.Sprintf("%d tasks RUNNING", n), func(s svcState) bool {
		return len(s.running()) == n && len(s.tasks) == n && s.svc.RunningCount == int32(n) && s.svc.PendingCount == 0
	})
}

// perAZ counts tasks by their instance's zone.
func (e *svcEnv) perAZ(tasks []types.Task) map[string]int {
	m := map[string]int{}
	for _, tk := range tasks {
		m[e.azOf[aws.ToString(tk.ContainerInstanceArn)]]++
	}
	return m
}

// perInstance counts tasks by instance ARN.
func perInstance(tasks []types.Task) map[string]int {
	m := map[string]int{}
	for _, tk := range tasks {
		m[aws.ToString(tk.ContainerInstanceArn)]++
	}
	return m
}

// lastPartOf is the ID at the end of an ARN.
func lastPartOf(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// spreadByAZ is the placement strategy that balances tasks over zones.
func spreadByAZ() []types.PlacementStrategy {
	return []types.PlacementStrategy{{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")}}
}

// TestServiceSpread: a service of 6 spread by zone over three agents in
// three zones runs 2 tasks in each.
func TestServiceSpread(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, nil, threeZones()...)
	e.createService(t, &ecs.CreateServiceInput{ServiceName: aws.String("spread"), DesiredCount: aws.Int32(6), PlacementStrategy: spreadByAZ()})
	s := e.waitRunning(t, "spread", 6)
	want := map[string]int{"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}
	if diff := cmp.Diff(want, e.perAZ(s.running())); diff != "" {
		t.Errorf("tasks per zone (-want +got):\n%s", diff)
	}
}

// TestServiceBinpack: a service binpacked on memory whose three tasks fit
// on one instance runs them all on the instance with the least memory
// (ECS's binpack: the instance with the least of the resource left).
func TestServiceBinpack(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, nil,
		agentSpec{AZ: "us-east-1a", CPU: 1024, Memory: 2048},
		agentSpec{AZ: "us-east-1b", CPU: 1024, Memory: 1024},
		agentSpec{AZ: "us-east-1c", CPU: 1024, Memory: 1536},
	)
	smallest := e.agents[1].instanceARN
	e.createService(t, &ecs.CreateServiceInput{
		ServiceName:       aws.String("binpack"),
		DesiredCount:      aws.Int32(3),
		PlacementStrategy: []types.PlacementStrategy{{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")}},
	})
	s := e.waitRunning(t, "binpack", 3)
	got := perInstance(s.running())
	if diff := cmp.Diff(map[string]int{smallest: 3}, got); diff != "" {
		t.Errorf("binpack(memory) tasks per instance (-want +got), want all 3 on the 1024 MiB instance in us-east-1b; got per zone %v:\n%s", e.perAZ(s.running()), diff)
	}
}

// TestServiceDistinctInstance: three tasks with distinctInstance land on
// three instances; a fourth finds no instance, and the service says so in
// an event, as ECS does.
func TestServiceDistinctInstance(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, nil, threeZones()...)
	e.createService(t, &ecs.CreateServiceInput{
		ServiceName:          aws.String("distinct"),
		DesiredCount:         aws.Int32(3),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeDistinctInstance}},
	})
	s := e.waitRunning(t, "distinct", 3)
	if got := perInstance(s.running()); len(got) != 3 {
		t.Fatalf("distinctInstance: 3 tasks on %d instances %v, want 3", len(got), got)
	}
	old := s.eventIDs()

	_, err := e.srv.ecs.UpdateService(ctxT(t), &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("distinct"), DesiredCount: aws.Int32(4)})
	ok(t, err)
	var ev types.ServiceEvent
	s = e.waitService(t, "distinct", "an event saying it "+eventUnableToPlace, func(s svcState) bool {
		var found bool
		ev, found = s.hasEvent(eventUnableToPlace, old)
		return found
	})
	t.Logf("event: %s", aws.ToString(ev.Message))
	if got := perInstance(s.tasks); len(s.tasks) != 3 || len(got) != 3 {
		t.Errorf("after scaling to 4 with distinctInstance on 3 instances: %d tasks on instances %v, want 3 on 3 instances: %s", len(s.tasks), got, e.brief(s))
	}
	if s.svc.DesiredCount != 4 {
		t.Errorf("desiredCount = %d, want 4", s.svc.DesiredCount)
	}
}

// TestServiceDaemon: a DAEMON service runs one task per agent, follows an
// agent that joins, and leaves an instance that is deregistered.
func TestServiceDaemon(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, nil, threeZones()...)
	e.createService(t, &ecs.CreateServiceInput{ServiceName: aws.String("daemon"), SchedulingStrategy: types.SchedulingStrategyDaemon})
	onEach := func(agents []*agentProc) func(svcState) bool {
		want := map[string]int{}
		for _, a := range agents {
			want[a.instanceARN] = 1
		}
		return func(s svcState) bool {
			return len(s.tasks) == len(agents) && maps.Equal(want, perInstance(s.running())) && s.svc.DesiredCount == int32(len(agents))
		}
	}
	e.waitService(t, "daemon", "one task RUNNING on each of the 3 instances, desiredCount 3", onEach(e.agents))

	start := time.Now()
	fourth := e.addAgent(agentSpec{AZ: "us-east-1a", CPU: 1024, Memory: 1024})
	s := e.waitService(t, "daemon", "one task RUNNING on each of the 4 instances, desiredCount 4", onEach(e.agents))
	t.Logf("4th agent: registered and its daemon task RUNNING %v after its start", time.Since(start).Round(time.Millisecond))

	gone := e.agents[1]
	goneTask := s.tasks[slices.IndexFunc(s.tasks, func(tk types.Task) bool { return aws.ToString(tk.ContainerInstanceArn) == gone.instanceARN })]
	gone.stop()
	_, err := e.srv.ecs.DeregisterContainerInstance(ctxT(t), &ecs.DeregisterContainerInstanceInput{
		Cluster: aws.String(e.cluster), ContainerInstance: aws.String(gone.instanceARN), Force: aws.Bool(true),
	})
	ok(t, err)
	left := []*agentProc{e.agents[0], e.agents[2], fourth}
	s = e.waitService(t, "daemon", "one task RUNNING on each of the 3 instances left, desiredCount 3", onEach(left))
	if n := perInstance(s.tasks)[gone.instanceARN]; n != 0 {
		t.Errorf("%d tasks on the deregistered instance, want 0", n)
	}
	tk, err := gone.taskOf(ctxT(t), aws.ToString(goneTask.TaskArn))
	ok(t, err)
	if aws.ToString(tk.LastStatus) != "STOPPED" {
		t.Errorf("task of the deregistered instance: %s, want STOPPED", taskBrief(tk))
	}
	t.Logf("task of the deregistered instance: stopCode %s, stoppedReason %q", tk.StopCode, aws.ToString(tk.StoppedReason))
}

// TestServiceFailover SIGKILLs one of three agents under a service of 6
// spread over their zones, and measures how long until the server notices
// (agentConnected false), the host's tasks are STOPPED, the service runs 6
// tasks on the other two instances, and it reports a steady state. The
// figures are printed against the targets, never enforced; the end state
// is.
func TestServiceFailover(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, []string{"--heartbeat-timeout", "2s"}, threeZones()...)
	e.createService(t, &ecs.CreateServiceInput{ServiceName: aws.String("failover"), DesiredCount: aws.Int32(6), PlacementStrategy: spreadByAZ()})
	s := e.waitService(t, "failover", "6 tasks RUNNING, 2 per zone, and a steady state", func(s svcState) bool {
		_, steady := s.hasEvent(eventSteadyState, nil)
		return steady && len(s.tasks) == 6 && len(s.running()) == 6 && maps.Equal(map[string]int{"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}, e.perAZ(s.running()))
	})
	old := s.eventIDs()
	victim := e.agents[1]
	var victimTasks []string
	for _, tk := range s.tasks {
		if aws.ToString(tk.ContainerInstanceArn) == victim.instanceARN {
			victimTasks = append(victimTasks, aws.ToString(tk.TaskArn))
		}
	}

	killed := time.Now()
	victim.kill9()
	var noticed, stopped, replaced, steady time.Duration
	var stoppedTasks []types.Task
	deadline := killed.Add(60 * time.Second)
	for noticed == 0 || stopped == 0 || replaced == 0 || steady == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("60 s after SIGKILL: agentConnected false after %v, tasks STOPPED after %v, 6 RUNNING elsewhere after %v, steady state after %v (0: not yet); last state: %s",
				noticed, stopped, replaced, steady, e.brief(s))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if noticed == 0 {
			if ci, err := victim.instance(ctx); err == nil && !ci.AgentConnected {
				noticed = time.Since(killed)
			}
		}
		if stopped == 0 {
			if ts, err := describeTasks(ctx, e.srv.ecs, e.cluster, victimTasks); err == nil &&
				!slices.ContainsFunc(ts, func(tk types.Task) bool { return aws.ToString(tk.LastStatus) != "STOPPED" }) {
				stopped, stoppedTasks = time.Since(killed), ts
			}
		}
		if replaced == 0 || steady == 0 {
			if cur, err := e.look(ctx, "failover"); err == nil {
				s = cur
				at := time.Since(killed)
				run := s.running()
				if replaced == 0 && s.svc.RunningCount == 6 && len(run) == 6 && perInstance(run)[victim.instanceARN] == 0 {
					replaced = at
				}
				if _, found := s.hasEvent(eventSteadyState, old); found && steady == 0 {
					steady = at
				}
			}
		}
		cancel()
		time.Sleep(servicePoll)
	}

	t.Logf("host lost (SIGKILL of the agent in us-east-1b, --heartbeat-timeout 2s, 6 tasks, 2 on the host):")
	t.Logf("  agentConnected false after        %v", noticed.Round(time.Millisecond))
	t.Logf("  its 2 tasks STOPPED after         %v", stopped.Round(time.Millisecond))
	for _, tk := range stoppedTasks {
		t.Logf("    task %s: stopCode %s, stoppedReason %q", taskID(aws.ToString(tk.TaskArn)), tk.StopCode, aws.ToString(tk.StoppedReason))
	}
	t.Logf("  6 RUNNING on the other 2 after    %v", replaced.Round(time.Millisecond))
	t.Logf("  %q event after %v", eventSteadyState, steady.Round(time.Millisecond))
	t.Logf("target noticed ≤%v: %s", targetLostNoticed, metWord(noticed <= targetLostNoticed))
	t.Logf("target replacements running ≤%v: %s", targetLostReplaced, metWord(replaced <= targetLostReplaced))

	for _, tk := range stoppedTasks {
		if tk.StopCode != types.TaskStopCodeTerminationNotice || !strings.Contains(aws.ToString(tk.StoppedReason), "lost contact") {
			t.Errorf("task of the lost host: stopCode %s, stoppedReason %q; want TerminationNotice and a reason saying the instance lost contact", tk.StopCode, aws.ToString(tk.StoppedReason))
		}
	}
	// The end state, read again: 6 RUNNING, none on the dead host, 3 in
	// each zone left.
	s = e.waitService(t, "failover", "6 tasks RUNNING on the two instances left", func(s svcState) bool { return len(s.running()) == 6 })
	if diff := cmp.Diff(map[string]int{"us-east-1a": 3, "us-east-1c": 3}, e.perAZ(s.running())); diff != "" {
		t.Errorf("tasks per zone after the host in us-east-1b was lost (-want +got):\n%s", diff)
	}
	if len(s.tasks) != 6 || s.svc.RunningCount != 6 {
		t.Errorf("after failover: %d tasks desired RUNNING, runningCount %d; want 6 and 6: %s", len(s.tasks), s.svc.RunningCount, e.brief(s))
	}
}

// TestServiceDrainInstance sets the instance running the most tasks of a
// service of 4 (minimumHealthyPercent 50, maximumPercent 200) DRAINING and
// samples the service every 50 ms: its RUNNING tasks never drop below 2, it
// ends with 4 RUNNING elsewhere, and a standalone task on the instance keeps
// running.
func TestServiceDrainInstance(t *testing.T) {
	t.Parallel()
	e := newSvcEnv(t, nil, threeZones()...)
	ctx := ctxT(t)
	e.createService(t, &ecs.CreateServiceInput{
		ServiceName:             aws.String("drain"),
		DesiredCount:            aws.Int32(4),
		PlacementStrategy:       spreadByAZ(),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)},
	})
	s := e.waitRunning(t, "drain", 4)
	counts := perInstance(s.running())
	drained := ""
	for arn, n := range counts {
		if drained == "" || n > counts[drained] || (n == counts[drained] && arn < drained) {
			drained = arn
		}
	}
	az := e.azOf[drained]
	var onDrained []string
	for _, tk := range s.running() {
		if aws.ToString(tk.ContainerInstanceArn) == drained {
			onDrained = append(onDrained, aws.ToString(tk.TaskArn))
		}
	}

	// A standalone task on the instance to drain: draining leaves it alone.
	run, err := e.srv.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(e.cluster), TaskDefinition: aws.String(e.family), StartedBy: aws.String("e2e-standalone"),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.availability-zone == " + az)}},
	})
	ok(t, err)
	if len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %d tasks, failures %s; want one", len(run.Tasks), failureJSON(run.Failures))
	}
	standalone := aws.ToString(run.Tasks[0].TaskArn)
	if got := aws.ToString(run.Tasks[0].ContainerInstanceArn); got != drained {
		t.Fatalf("RunTask with memberOf(%s): placed on %s, want %s", az, got, drained)
	}
	e.agents[0].waitStatus(t, standalone, "RUNNING")

	const minHealthy = 2 // 50% of 4
	var samples []int
	low := 4
	sample := func() (svcState, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := e.look(ctx, "drain")
		if err != nil {
			t.Logf("sample: %v", err)
			return s, false
		}
		n := len(s.running())
		samples = append(samples, n)
		if n < low {
			low = n
		}
		if n < minHealthy {
			t.Errorf("%d tasks RUNNING while draining, below minimumHealthyPercent 50%% of 4: %s", n, e.brief(s))
		}
		return s, true
	}
	sample()
	start := time.Now()
	upd, err := e.srv.ecs.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String(e.cluster), ContainerInstances: []string{drained}, Status: types.ContainerInstanceStatusDraining,
	})
	ok(t, err)
	if len(upd.Failures) > 0 {
		t.Fatalf("UpdateContainerInstancesState DRAINING: failures %s", failureJSON(upd.Failures))
	}
	deadline := start.Add(serviceTimeout)
	var drainedIn time.Duration
	for {
		var got bool
		s, got = sample()
		run := s.running()
		if got && len(s.tasks) == 4 && len(run) == 4 && perInstance(run)[drained] == 0 && s.svc.RunningCount == 4 {
			drainedIn = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for 4 tasks RUNNING off the DRAINING instance; last: %s", serviceTimeout, e.brief(s))
		}
		time.Sleep(servicePoll)
	}
	t.Logf("drained in %v; RUNNING tasks per sample (every %v): %s; lowest %d (floor %d)", drainedIn.Round(time.Millisecond), servicePoll, runLengths(samples), low, minHealthy)

	if n := perInstance(s.tasks)[drained]; n != 0 {
		t.Errorf("%d tasks of the service left on the DRAINING instance, want 0: %s", n, e.brief(s))
	}
	moved, err := describeTasks(ctx, e.srv.ecs, e.cluster, onDrained)
	ok(t, err)
	for _, tk := range moved {
		if aws.ToString(tk.DesiredStatus) != "STOPPED" {
			t.Errorf("service task %s on the DRAINING instance: %s; want it stopped", taskID(aws.ToString(tk.TaskArn)), taskBrief(tk))
		}
		t.Logf("task %s moved off the DRAINING instance: stopCode %s, stoppedReason %q", taskID(aws.ToString(tk.TaskArn)), tk.StopCode, aws.ToString(tk.StoppedReason))
	}
	tk, err := e.agents[0].taskOf(ctx, standalone)
	ok(t, err)
	if aws.ToString(tk.LastStatus) != "RUNNING" || aws.ToString(tk.DesiredStatus) != "RUNNING" {
		t.Errorf("standalone task on the DRAINING instance: %s; want it still RUNNING", taskBrief(tk))
	}
}

// runLengths renders samples as "4×12 3×2 ...": each value with how many
// samples in a row had it.
func runLengths(xs []int) string {
	var b strings.Builder
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j] == xs[i] {
			j++
		}
		fmt.Fprintf(&b, "%d×%d ", xs[i], j-i)
		i = j
	}
	return strings.TrimSpace(b.String())
}
