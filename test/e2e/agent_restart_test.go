package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestAgentRestart kills the agent with SIGKILL while two tasks run and
// starts it again on the same data dir: it is the same container instance,
// re-adopts the same containers (no restart, no duplicate), and StopTask
// still works afterwards. Once per runtime.
func TestAgentRestart(t *testing.T) {
	t.Parallel()
	for _, rt := range agentRuntimes {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			testAgentRestart(t, newAgentEnv(t, rt))
		})
	}
}

// adoptedTask is what the restart test remembers of a running task.
type adoptedTask struct {
	arn       string
	runtimeID string
	hostPort  int32
	pid       int // process runtime
}

func testAgentRestart(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	family := e.register(t, "restart", e.webContainer("app"))
	var tasks []adoptedTask
	for range 2 {
		tasks = append(tasks, adoptedTask{arn: e.agent.runTask(t, ctx, family)})
	}
	for i := range tasks {
		task := e.agent.waitStatus(t, tasks[i].arn, "RUNNING")
		c := taskContainer(t, task, "app")
		tasks[i].runtimeID = aws.ToString(c.RuntimeId)
		tasks[i].hostPort = hostPortOf(t, c)
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", tasks[i].hostPort), "hello from testapp\n")
		if e.rt == runtimeProcess {
			tasks[i].pid = processPid(t, e, tasks[i].runtimeID)
		}
	}
	checkOneRuntimeContainer(t, e, tasks)
	before := e.agent.instanceARN

	e.agent.kill9()
	for _, tk := range tasks { // the tasks run on without their agent
		if body, err := httpGetBody(ctx, fmt.Sprintf("http://127.0.0.1:%d/", tk.hostPort)); err != nil || body != "hello from testapp\n" {
			t.Errorf("task %s with its agent killed: GET = %q, %v; want it still serving", taskID(tk.arn), body, err)
		}
	}
	e.agent.restart()
	if e.agent.instanceARN != before {
		t.Errorf("after restart the agent registered as %s, want the same instance %s", e.agent.instanceARN, before)
	}
	if !strings.Contains(e.agent.runOutput(), "reused=true") {
		t.Errorf("the restarted agent's registration does not say reused=true:\n%s", e.agent.runOutput())
	}

	// StopTask works after the restart. The agent applies the server's
	// whole desired set at once, so once the first task stopped, the
	// restarted agent has adopted (or wrongly replaced) the second.
	e.agent.stopTask(t, ctx, tasks[0].arn, "e2e: after restart")
	stopped := e.agent.waitStatus(t, tasks[0].arn, "STOPPED")
	if stopped.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("stopCode = %q, want UserInitiated", stopped.StopCode)
	}
	sc := taskContainer(t, stopped, "app")
	if got := aws.ToString(sc.RuntimeId); got != tasks[0].runtimeID {
		t.Errorf("stopped task's runtimeId = %q, want the one from before the restart %q", got, tasks[0].runtimeID)
	}
	exit := "none"
	if sc.ExitCode != nil {
		exit = fmt.Sprint(*sc.ExitCode)
	}
	t.Logf("%s: the adopted container of the stopped task reported exitCode %s", e.rt, exit)
	if e.rt == runtimeDocker && (sc.ExitCode == nil || *sc.ExitCode != 0) {
		t.Errorf("exitCode = %s, want 0 (the app exits 0 on SIGTERM)", exit)
	}

	running := e.agent.waitStatus(t, tasks[1].arn, "RUNNING")
	c := taskContainer(t, running, "app")
	if got := aws.ToString(c.RuntimeId); got != tasks[1].runtimeID {
		t.Errorf("after restart the task's runtimeId = %q, want the same container %q", got, tasks[1].runtimeID)
	}
	if got := aws.ToString(c.LastStatus); got != "RUNNING" {
		t.Errorf("after restart the container is %s, want RUNNING", got)
	}
	if got := hostPortOf(t, c); got != tasks[1].hostPort {
		t.Errorf("after restart hostPort = %d, want %d", got, tasks[1].hostPort)
	}
	if e.rt == runtimeProcess {
		if got := processPid(t, e, tasks[1].runtimeID); got != tasks[1].pid {
			t.Errorf("after restart the container's pid = %d, want the same process %d", got, tasks[1].pid)
		}
	}
	checkOneRuntimeContainer(t, e, tasks[1:])
	checkClusterContainers(t, e, tasks)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", tasks[1].hostPort), "hello from testapp\n")

	t.Logf("%s: the restarted agent re-adopted %d containers (log lines \"re-adopted container\" of component=task)",
		e.rt, strings.Count(e.agent.runOutput(), "msg=\"re-adopted container\" component=task"))
	e.agent.stopTask(t, ctx, tasks[1].arn, "e2e: done")
	if task := e.agent.waitStatus(t, tasks[1].arn, "STOPPED"); task.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("stopCode = %q, want UserInitiated", task.StopCode)
	}
	if e.rt == runtimeProcess && processAliveByID(t, e, tasks[1].runtimeID) {
		t.Errorf("process of the stopped task %s still runs", taskID(tasks[1].arn))
	}
}

// checkOneRuntimeContainer checks that each task has exactly one
// container in the runtime, the one its runtimeId names, and (process)
// that it runs.
func checkOneRuntimeContainer(t *testing.T, e *agentEnv, tasks []adoptedTask) {
	t.Helper()
	for _, tk := range tasks {
		id := taskID(tk.arn)
		switch e.rt {
		case runtimeDocker:
			ids := strings.Fields(dockerOut(t, "ps", "--all", "--quiet", "--no-trunc", "--filter", "label=berth.task="+id))
			if !slices.Equal(ids, []string{tk.runtimeID}) {
				t.Errorf("docker ps --filter label=berth.task=%s = %v, want exactly [%s]", id, ids, tk.runtimeID)
			}
		case runtimeProcess:
			var ids []string
			for _, c := range processContainers(t, e.agent.opts.DataDir) {
				if c.Spec.Task == id {
					ids = append(ids, c.ID)
				}
			}
			if !slices.Equal(ids, []string{tk.runtimeID}) {
				t.Errorf("process runtime containers of task %s = %v, want exactly [%s]", id, ids, tk.runtimeID)
			}
			if !processAliveByID(t, e, tk.runtimeID) {
				t.Errorf("process of task %s (container %s) is not running", id, tk.runtimeID)
			}
		}
	}
}

// checkClusterContainers checks that the runtime holds exactly the
// tasks' containers for the cluster, running or exited: nothing created
// twice.
func checkClusterContainers(t *testing.T, e *agentEnv, tasks []adoptedTask) {
	t.Helper()
	var want, got []string
	for _, tk := range tasks {
		want = append(want, tk.runtimeID)
	}
	switch e.rt {
	case runtimeDocker:
		got = strings.Fields(dockerOut(t, "ps", "--all", "--quiet", "--no-trunc", "--filter", "label=berth.cluster="+e.agent.opts.Cluster))
	case runtimeProcess:
		for _, c := range processContainers(t, e.agent.opts.DataDir) {
			got = append(got, c.ID)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s containers of the cluster = %v, want exactly the tasks' %v", e.rt, got, want)
	}
}

// processPid returns the pid the process runtime's state file records
// for a container.
func processPid(t *testing.T, e *agentEnv, runtimeID string) int {
	t.Helper()
	for _, c := range processContainers(t, e.agent.opts.DataDir) {
		if c.ID == runtimeID {
			return c.Pid
		}
	}
	t.Fatalf("no process runtime state file for container %s", runtimeID)
	return 0
}

// processAliveByID reports whether the process of a process runtime
// container runs.
func processAliveByID(t *testing.T, e *agentEnv, runtimeID string) bool {
	t.Helper()
	for _, c := range processContainers(t, e.agent.opts.DataDir) {
		if c.ID == runtimeID {
			return processAlive(c.Pid, c.StartTicks)
		}
	}
	return false
}

// TestAgentLiveness SIGKILLs the agent and measures how long the server
// takes to show agentConnected false (its --heartbeat-timeout is 2s; it
// checks every second), then restarts the agent and sees it connected
// again.
func TestAgentLiveness(t *testing.T) {
	t.Parallel()
	const heartbeatTimeout = 2 * time.Second
	srv := startServer(t, serverOptions{Args: []string{"--heartbeat-timeout", heartbeatTimeout.String()}})
	a := startAgent(t, srv, agentOptions{Runtime: runtimeProcess})

	a.kill9()
	killed := time.Now()
	// The tracker checks every second, so the bound is timeout + 1s from
	// the agent's last word; the deadline leaves room for a slow machine.
	// Poll fast: the figure is what this test reports.
	deadline := killed.Add(heartbeatTimeout + 10*time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ci, err := a.instance(ctx)
		cancel()
		ok(t, err)
		if !ci.AgentConnected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agentConnected still true %v after SIGKILL of the agent (--heartbeat-timeout %v)", time.Since(killed), heartbeatTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(killed)
	bound := heartbeatTimeout + heartbeatTimeout/4 // the server checks four times per timeout
	within := "within"
	if took > bound {
		within = "NOT within"
	}
	t.Logf("agentConnected false %v after SIGKILL (%s the design bound %v: --heartbeat-timeout %v + one check period)",
		took.Round(time.Millisecond), within, bound, heartbeatTimeout)
	ci, err := a.instance(ctxT(t))
	ok(t, err)
	if aws.ToString(ci.Status) != "ACTIVE" {
		t.Errorf("disconnected instance status = %q, want ACTIVE (only the agent is gone)", aws.ToString(ci.Status))
	}

	before := a.instanceARN
	start := time.Now()
	a.restart() // waits for agentConnected true
	t.Logf("agentConnected true %v after the restart", time.Since(start).Round(time.Millisecond))
	if a.instanceARN != before {
		t.Errorf("after restart the agent registered as %s, want %s", a.instanceARN, before)
	}
}
