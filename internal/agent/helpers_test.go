package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
)

const (
	waitTimeout  = 15 * time.Second
	pollInterval = 5 * time.Millisecond
	testCluster  = "default"
	testTaskID   = "0123456789abcdef0123456789abcdef"
	testTaskArn  = "arn:aws:ecs:us-east-1:123456789012:task/default/" + testTaskID
)

// eventually polls cond until it returns true, failing the test at the
// deadline with the last description cond gave.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", waitTimeout, what, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// testLogger logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// recorder collects the status reports of task runners.
type recorder struct {
	mu      sync.Mutex
	reports []agent.TaskStatus
}

func (r *recorder) report(ts agent.TaskStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, ts)
}

func (r *recorder) last() (agent.TaskStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return agent.TaskStatus{}, false
	}
	return r.reports[len(r.reports)-1], true
}

// statuses returns the sequence of lastStatus values reported, without
// repeats.
func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ts := range r.reports {
		if len(out) == 0 || out[len(out)-1] != ts.LastStatus {
			out = append(out, ts.LastStatus)
		}
	}
	return out
}

// waitFor waits until the latest report satisfies cond and returns it.
func (r *recorder) waitFor(t *testing.T, what string, cond func(agent.TaskStatus) bool) agent.TaskStatus {
	t.Helper()
	var got agent.TaskStatus
	eventually(t, what, func() (bool, string) {
		ts, ok := r.last()
		got = ts
		return ok && cond(ts), fmt.Sprintf("%+v", ts)
	})
	return got
}

func (r *recorder) waitStatus(t *testing.T, status string) agent.TaskStatus {
	t.Helper()
	return r.waitFor(t, "task "+status, func(ts agent.TaskStatus) bool { return ts.LastStatus == status })
}

// containerOf returns the named container's status in ts.
func containerOf(t *testing.T, ts agent.TaskStatus, name string) agent.ContainerStatus {
	t.Helper()
	for _, c := range ts.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s in %+v", name, ts)
	return agent.ContainerStatus{}
}

// recordingRuntime records the lifecycle calls made to a runtime, by
// container name ("create web", "start web", "stop web").
type recordingRuntime struct {
	runtime.Runtime
	mu    sync.Mutex
	names map[string]string // id → name
	calls []string
}

func newRecordingRuntime(rt runtime.Runtime) *recordingRuntime {
	return &recordingRuntime{Runtime: rt, names: map[string]string{}}
}

func (r *recordingRuntime) record(verb, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, verb+" "+r.names[id])
}

func (r *recordingRuntime) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	id, err := r.Runtime.Create(ctx, spec)
	r.mu.Lock()
	r.calls = append(r.calls, "create "+spec.Name)
	if err == nil {
		r.names[id] = spec.Name
	}
	r.mu.Unlock()
	return id, err
}

func (r *recordingRuntime) Start(ctx context.Context, id string) error {
	r.record("start", id)
	return r.Runtime.Start(ctx, id)
}

func (r *recordingRuntime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r.record("stop", id)
	return r.Runtime.Stop(ctx, id, timeout)
}

// Calls returns the calls whose verb is one of verbs (all with none).
func (r *recordingRuntime) Calls(verbs ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		verb, _, _ := strings.Cut(c, " ")
		if len(verbs) == 0 || slices.Contains(verbs, verb) {
			out = append(out, c)
		}
	}
	return out
}

// assignedTask builds a task as the server assigns it.
func assignedTask(defs ...ecs.ContainerDefinition) agent.AssignedTask {
	t := ecs.Task{
		TaskArn:       testTaskArn,
		LastStatus:    statusProvisioning,
		DesiredStatus: statusRunning,
	}
	for _, d := range defs {
		t.Containers = append(t.Containers, ecs.Container{Name: d.Name, Image: d.Image, LastStatus: containerPending})
	}
	return agent.AssignedTask{Task: t, TaskDefinition: ecs.TaskDefinition{Family: "shop", Revision: 1, ContainerDefinitions: defs}}
}

// stopped returns at desired STOPPED, as StopTask leaves it.
func stopped(at agent.AssignedTask) agent.AssignedTask {
	at.Task.DesiredStatus = statusStopped
	at.Task.StopCode = ecs.TaskStopCodeUserInitiated
	at.Task.StoppedReason = "Task stopped by user"
	return at
}

// runnerHarness runs one task runner against a runtime.
type runnerHarness struct {
	r      *taskRunner
	rec    *recorder
	done   chan bool
	cancel context.CancelFunc
}

// kill ends the runner as an agent shutdown does: containers stay as they are.
func (h *runnerHarness) kill(t *testing.T) {
	t.Helper()
	h.cancel()
	if h.finished(t) {
		t.Error("runner reached STOPPED, want it cut short")
	}
}

func startRunner(t *testing.T, rt runtime.Runtime, clock Clock, at agent.AssignedTask, adopt []runtime.Container) *runnerHarness {
	t.Helper()
	if clock == nil {
		clock = wallClock{}
	}
	rec := &recorder{}
	r := newTaskRunner(runnerDeps{
		rt: rt, clock: clock, log: testLogger(t), cluster: testCluster, agentID: "agent1",
		interval: 10 * time.Millisecond, retryMin: 10 * time.Millisecond, retryMax: 100 * time.Millisecond,
		report: rec.report,
	}, at, adopt)
	ctx, cancel := context.WithCancel(context.Background())
	h := &runnerHarness{r: r, rec: rec, done: make(chan bool, 1), cancel: cancel}
	go func() { h.done <- r.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.finished(t)
	})
	return h
}

// finished waits for the runner to return and reports whether it reached
// STOPPED.
func (h *runnerHarness) finished(t *testing.T) bool {
	t.Helper()
	select {
	case ok := <-h.done:
		h.done <- ok
		return ok
	case <-time.After(waitTimeout):
		t.Fatal("runner did not return")
		return false
	}
}

// idOf returns the runtime ID of the task's container name.
func idOf(t *testing.T, rt runtime.Runtime, name string) string {
	t.Helper()
	cs, err := rt.List(context.Background(), map[string]string{runtime.LabelTask: testTaskID, runtime.LabelContainer: name})
	if err != nil || len(cs) != 1 {
		t.Fatalf("list container %s: got %v, %v; want one", name, cs, err)
	}
	return cs[0].ID
}

func def(name, image string) ecs.ContainerDefinition {
	return ecs.ContainerDefinition{Name: name, Image: image, Essential: new(true)}
}

func nonEssential(d ecs.ContainerDefinition) ecs.ContainerDefinition {
	d.Essential = new(false)
	return d
}

func dependsOn(d ecs.ContainerDefinition, name, cond string) ecs.ContainerDefinition {
	d.DependsOn = append(d.DependsOn, ecs.ContainerDependency{ContainerName: name, Condition: cond})
	return d
}

func withHealth(d ecs.ContainerDefinition) ecs.ContainerDefinition {
	d.HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}, Interval: new(int32(5)), Retries: new(int32(1))}
	return d
}

func i32(v int32) *int32 { return &v }

var _ runtime.Runtime = (*recordingRuntime)(nil)
var _ Clock = (*fake.ManualClock)(nil)
