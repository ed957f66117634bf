package agent

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
)

func TestRunnerHappyPath(t *testing.T) {
	f := fake.New(fake.Config{Default: fake.Behavior{Digest: "sha256:feed", StopExitCode: 143}})
	web := def("web", "nginx:1.27")
	web.PortMappings = []ecs.PortMapping{{ContainerPort: i32(80), Protocol: "tcp"}}
	at := assignedTask(web)
	h := startRunner(t, f, nil, at, nil)

	running := h.rec.waitStatus(t, statusRunning)
	if got, want := h.rec.statuses(), []string{statusProvisioning, statusPending, statusActivating, statusRunning}; !cmp.Equal(got, want) {
		t.Errorf("statuses up to RUNNING: got %v, want %v", got, want)
	}
	if running.PullStartedAt == nil || running.PullStoppedAt == nil || running.StartedAt == nil {
		t.Errorf("got pullStartedAt %v, pullStoppedAt %v, startedAt %v; want all set", running.PullStartedAt, running.PullStoppedAt, running.StartedAt)
	}
	id := idOf(t, f, "web")
	wantWeb := agent.ContainerStatus{
		Name: "web", RuntimeID: id, LastStatus: containerRunning, HealthStatus: "UNKNOWN",
		Image: "nginx:1.27", ImageDigest: "sha256:feed",
		NetworkBindings: []ecs.NetworkBinding{{BindIP: "127.0.0.1", ContainerPort: i32(80), HostPort: i32(49152), Protocol: "tcp"}},
	}
	if diff := cmp.Diff(wantWeb, containerOf(t, running, "web")); diff != "" {
		t.Errorf("running container (-want +got):\n%s", diff)
	}

	h.r.box.set(stopped(at))
	final := h.rec.waitStatus(t, statusStopped)
	if !h.finished(t) {
		t.Error("runner returned without reaching STOPPED")
	}
	if got, want := h.rec.statuses(), statusOrder(); !cmp.Equal(got, want) {
		t.Errorf("statuses: got %v, want every status in order %v", got, want)
	}
	if final.StopCode != ecs.TaskStopCodeUserInitiated || final.StoppedReason != "Task stopped by user" {
		t.Errorf("got stopCode %q, reason %q; want UserInitiated, Task stopped by user", final.StopCode, final.StoppedReason)
	}
	if final.StoppingAt == nil || final.ExecutionStoppedAt == nil || final.StoppedAt == nil {
		t.Errorf("got stoppingAt %v, executionStoppedAt %v, stoppedAt %v; want all set", final.StoppingAt, final.ExecutionStoppedAt, final.StoppedAt)
	}
	c := containerOf(t, final, "web")
	if c.LastStatus != containerStopped || c.ExitCode == nil || *c.ExitCode != 143 {
		t.Errorf("got container %s exit %v, want STOPPED exit 143", c.LastStatus, c.ExitCode)
	}
	if sigs, _ := f.Signals(id); !cmp.Equal(sigs, []string{"SIGTERM"}) {
		t.Errorf("got signals %v, want [SIGTERM]", sigs)
	}
}

func TestRunnerPullFailure(t *testing.T) {
	f := fake.New(fake.Config{Images: map[string]fake.Behavior{
		"nope:latest": {PullErr: "pull access denied for nope, repository does not exist"},
	}})
	rt := newRecordingRuntime(f)
	h := startRunner(t, rt, nil, assignedTask(def("web", "nginx:1.27"), def("app", "nope:latest")), nil)

	final := h.rec.waitStatus(t, statusStopped)
	const reason = "CannotPullContainerError: pull access denied for nope, repository does not exist"
	if final.StopCode != ecs.TaskStopCodeTaskFailedToStart || final.StoppedReason != reason {
		t.Errorf("got stopCode %q, reason %q; want TaskFailedToStart, %q", final.StopCode, final.StoppedReason, reason)
	}
	if got := containerOf(t, final, "app").Reason; got != reason {
		t.Errorf("got container reason %q, want %q", got, reason)
	}
	if final.PullStartedAt == nil || final.PullStoppedAt == nil {
		t.Error("want pullStartedAt and pullStoppedAt set")
	}
	if calls := rt.Calls("create", "start"); len(calls) != 0 {
		t.Errorf("got calls %v, want none after a failed pull", calls)
	}
}

func TestRunnerEssentialExit(t *testing.T) {
	f := fake.New(fake.Config{})
	h := startRunner(t, f, nil, assignedTask(def("web", "nginx"), nonEssential(def("log", "fluent-bit"))), nil)
	h.rec.waitStatus(t, statusRunning)

	if err := f.Exit(idOf(t, f, "web"), 3); err != nil {
		t.Fatal(err)
	}
	final := h.rec.waitStatus(t, statusStopped)
	if final.StopCode != ecs.TaskStopCodeEssentialContainerExited || final.StoppedReason != "Essential container in task exited" {
		t.Errorf("got stopCode %q, reason %q; want EssentialContainerExited", final.StopCode, final.StoppedReason)
	}
	if c := containerOf(t, final, "web"); c.ExitCode == nil || *c.ExitCode != 3 {
		t.Errorf("got web exit code %v, want 3", c.ExitCode)
	}
	if st, _ := f.Inspect(context.Background(), idOf(t, f, "log")); st.State != runtime.StateExited {
		t.Errorf("got log container %s, want it stopped with the task", st.State)
	}
}

func TestRunnerNonEssentialExit(t *testing.T) {
	f := fake.New(fake.Config{})
	h := startRunner(t, f, nil, assignedTask(def("web", "nginx"), nonEssential(def("log", "fluent-bit"))), nil)
	h.rec.waitStatus(t, statusRunning)

	if err := f.Exit(idOf(t, f, "log"), 1); err != nil {
		t.Fatal(err)
	}
	got := h.rec.waitFor(t, "log container STOPPED", func(ts agent.TaskStatus) bool {
		return containerOf(t, ts, "log").LastStatus == containerStopped
	})
	if got.LastStatus != statusRunning {
		t.Errorf("got task %s, want RUNNING after a non-essential container exited", got.LastStatus)
	}
	if c := containerOf(t, got, "log"); c.ExitCode == nil || *c.ExitCode != 1 {
		t.Errorf("got log exit code %v, want 1", c.ExitCode)
	}
	if c := containerOf(t, got, "web"); c.LastStatus != containerRunning {
		t.Errorf("got web %s, want RUNNING", c.LastStatus)
	}
}

func TestRunnerDependsOn(t *testing.T) {
	tests := []struct {
		name      string
		cond      string
		depHealth bool
		// release makes the dependency satisfy (or break) the condition.
		release func(t *testing.T, f *fake.Fake, id string)
		// wantStarted: the dependency was started alone first, then app.
		wantRunning bool
		wantReason  string
	}{
		{name: "START", cond: ecs.ContainerConditionSTART, wantRunning: true},
		{name: "COMPLETE", cond: ecs.ContainerConditionCOMPLETE, wantRunning: true,
			release: func(t *testing.T, f *fake.Fake, id string) { mustExit(t, f, id, 1) }},
		{name: "SUCCESS", cond: ecs.ContainerConditionSUCCESS, wantRunning: true,
			release: func(t *testing.T, f *fake.Fake, id string) { mustExit(t, f, id, 0) }},
		{name: "SUCCESS fails", cond: ecs.ContainerConditionSUCCESS,
			release:    func(t *testing.T, f *fake.Fake, id string) { mustExit(t, f, id, 2) },
			wantReason: "container app depends on dep succeeding (SUCCESS), but it exited with exit code 2"},
		{name: "HEALTHY", cond: ecs.ContainerConditionHEALTHY, depHealth: true, wantRunning: true,
			release: func(t *testing.T, f *fake.Fake, id string) {
				if err := f.SetHealth(id, runtime.HealthHealthy); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "HEALTHY exits", cond: ecs.ContainerConditionHEALTHY, depHealth: true,
			release:    func(t *testing.T, f *fake.Fake, id string) { mustExit(t, f, id, 0) },
			wantReason: "container app depends on dep being HEALTHY, but it exited with exit code 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake.New(fake.Config{})
			rt := newRecordingRuntime(f)
			dep := def("dep", "dep")
			if tt.cond != ecs.ContainerConditionSTART {
				dep = nonEssential(dep) // an essential one's exit would stop the task
			}
			if tt.depHealth {
				dep = withHealth(dep)
			}
			app := dependsOn(def("app", "app"), "dep", tt.cond)
			h := startRunner(t, rt, nil, assignedTask(app, dep), nil)

			if tt.release != nil {
				h.rec.waitFor(t, "dep RUNNING", func(ts agent.TaskStatus) bool {
					return containerOf(t, ts, "dep").LastStatus == containerRunning
				})
				if got := rt.Calls("start"); !cmp.Equal(got, []string{"start dep"}) {
					t.Fatalf("before the condition holds: got starts %v, want [start dep]", got)
				}
				tt.release(t, f, idOf(t, f, "dep"))
			}
			if tt.wantRunning {
				h.rec.waitStatus(t, statusRunning)
				if got := rt.Calls("start"); !cmp.Equal(got, []string{"start dep", "start app"}) {
					t.Errorf("got starts %v, want [start dep start app]", got)
				}
				return
			}
			final := h.rec.waitStatus(t, statusStopped)
			if final.StopCode != ecs.TaskStopCodeTaskFailedToStart || final.StoppedReason != tt.wantReason {
				t.Errorf("got stopCode %q, reason %q; want TaskFailedToStart, %q", final.StopCode, final.StoppedReason, tt.wantReason)
			}
			if got := rt.Calls("start"); !cmp.Equal(got, []string{"start dep"}) {
				t.Errorf("got starts %v, want only [start dep]", got)
			}
		})
	}
}

func mustExit(t *testing.T, f *fake.Fake, id string, code int) {
	t.Helper()
	if err := f.Exit(id, code); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerStopOrder(t *testing.T) {
	f := fake.New(fake.Config{Images: map[string]fake.Behavior{
		"db": {StopExitCode: 0}, "app": {StopExitCode: 143}, "proxy": {StopExitCode: 2},
	}})
	rt := newRecordingRuntime(f)
	db := def("db", "db")
	app := dependsOn(def("app", "app"), "db", ecs.ContainerConditionSTART)
	proxy := dependsOn(def("proxy", "proxy"), "app", ecs.ContainerConditionSTART)
	at := assignedTask(proxy, app, db)
	h := startRunner(t, rt, nil, at, nil)
	h.rec.waitStatus(t, statusRunning)
	if got, want := rt.Calls("start"), []string{"start db", "start app", "start proxy"}; !cmp.Equal(got, want) {
		t.Errorf("got starts %v, want %v", got, want)
	}

	h.r.box.set(stopped(at))
	final := h.rec.waitStatus(t, statusStopped)
	if got, want := rt.Calls("stop"), []string{"stop proxy", "stop app", "stop db"}; !cmp.Equal(got, want) {
		t.Errorf("got stops %v, want reverse dependency order %v", got, want)
	}
	if got, want := h.rec.statuses(), statusOrder(); !cmp.Equal(got, want) {
		t.Errorf("statuses: got %v, want %v", got, want)
	}
	got := map[string]int32{}
	for _, c := range final.Containers {
		if c.ExitCode == nil || c.LastStatus != containerStopped {
			t.Fatalf("container %s: got %s exit %v, want STOPPED with an exit code", c.Name, c.LastStatus, c.ExitCode)
		}
		got[c.Name] = *c.ExitCode
	}
	if want := map[string]int32{"db": 0, "app": 143, "proxy": 2}; !cmp.Equal(got, want) {
		t.Errorf("exit codes: got %v, want %v", got, want)
	}
}

func TestRunnerStopTimeoutKills(t *testing.T) {
	clock := fake.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := fake.New(fake.Config{Clock: clock, Default: fake.Behavior{IgnoreStop: true}})
	web := def("web", "nginx")
	web.StopTimeout = i32(10)
	at := assignedTask(web)
	h := startRunner(t, f, clock, at, nil)
	h.rec.waitStatus(t, statusRunning)

	h.r.box.set(stopped(at))
	h.rec.waitStatus(t, statusStopping)
	eventually(t, "the stop timeout to elapse", func() (bool, string) {
		clock.Advance(time.Second)
		ts, _ := h.rec.last()
		return ts.LastStatus == statusStopped, ts.LastStatus
	})
	final, _ := h.rec.last()
	if c := containerOf(t, final, "web"); c.ExitCode == nil || *c.ExitCode != 137 {
		t.Errorf("got exit code %v, want 137 (SIGKILL after the stop timeout)", c.ExitCode)
	}
	stopping, stoppedAt := final.StoppingAt.Time, final.StoppedAt.Time
	if d := stoppedAt.Sub(stopping); d < 10*time.Second {
		t.Errorf("stopped %v after stoppingAt, want at least the 10s stopTimeout", d)
	}
}

func TestRunnerHealth(t *testing.T) {
	clock := fake.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := fake.New(fake.Config{Clock: clock, Images: map[string]fake.Behavior{
		"web": {Health: []runtime.Health{runtime.HealthHealthy, runtime.HealthHealthy, runtime.HealthUnhealthy}},
		"log": {Health: []runtime.Health{runtime.HealthUnhealthy}},
	}})
	h := startRunner(t, f, clock, assignedTask(withHealth(def("web", "web")), nonEssential(withHealth(def("log", "log")))), nil)
	running := h.rec.waitStatus(t, statusRunning)
	if running.HealthStatus != ecs.HealthStatusUNKNOWN {
		t.Errorf("before any check: got task health %s, want UNKNOWN", running.HealthStatus)
	}
	// Checks run every 5s: HEALTHY, HEALTHY, then UNHEALTHY. The
	// non-essential container's UNHEALTHY does not count.
	for _, want := range []string{ecs.HealthStatusHEALTHY, ecs.HealthStatusUNHEALTHY} {
		eventually(t, "task health "+want, func() (bool, string) {
			clock.Advance(time.Second)
			ts, _ := h.rec.last()
			return ts.HealthStatus == want, ts.HealthStatus
		})
	}
	ts, _ := h.rec.last()
	if got := containerOf(t, ts, "log").HealthStatus; got != "UNHEALTHY" {
		t.Errorf("got log container health %s, want UNHEALTHY", got)
	}
	if ts.LastStatus != statusRunning {
		t.Errorf("got task %s, want RUNNING: health does not stop a task", ts.LastStatus)
	}
}

func TestRunnerAdoptsRunningContainers(t *testing.T) {
	f := fake.New(fake.Config{})
	rt := newRecordingRuntime(f)
	web, log := def("web", "nginx"), nonEssential(def("log", "fluent-bit"))
	at := assignedTask(web, log)
	first := startRunner(t, rt, nil, at, nil)
	first.rec.waitStatus(t, statusRunning)
	first.kill(t)
	before := rt.Calls()

	// A second runner for the same task, as after an agent restart.
	adopt, err := f.List(context.Background(), map[string]string{runtime.LabelTask: testTaskID})
	if err != nil {
		t.Fatal(err)
	}
	at.Task.LastStatus = statusRunning
	second := startRunner(t, rt, nil, at, adopt)
	got := second.rec.waitStatus(t, statusRunning)
	if calls := rt.Calls()[len(before):]; len(calls) != 0 {
		t.Errorf("got calls %v after adoption, want none", calls)
	}
	if got, want := second.rec.statuses(), []string{statusRunning}; !cmp.Equal(got, want) {
		t.Errorf("adopted task statuses: got %v, want %v (never backwards)", got, want)
	}
	if c := containerOf(t, got, "web"); c.RuntimeID != idOf(t, f, "web") {
		t.Errorf("got runtime ID %s, want the existing %s", c.RuntimeID, idOf(t, f, "web"))
	}
	// The adopting runner monitors the containers.
	mustExit(t, f, idOf(t, f, "web"), 9)
	final := second.rec.waitStatus(t, statusStopped)
	if c := containerOf(t, final, "web"); c.ExitCode == nil || *c.ExitCode != 9 {
		t.Errorf("got exit code %v, want 9", c.ExitCode)
	}
}

func TestRunnerAdoptsExitedEssential(t *testing.T) {
	f := fake.New(fake.Config{})
	rt := newRecordingRuntime(f)
	at := assignedTask(def("web", "nginx"))
	first := startRunner(t, rt, nil, at, nil)
	first.rec.waitStatus(t, statusRunning)
	first.kill(t)
	mustExit(t, f, idOf(t, f, "web"), 4) // while the agent is down

	adopt, _ := f.List(context.Background(), map[string]string{runtime.LabelTask: testTaskID})
	at.Task.LastStatus = statusRunning
	calls := len(rt.Calls())
	second := startRunner(t, rt, nil, at, adopt)
	final := second.rec.waitStatus(t, statusStopped)
	if final.StopCode != ecs.TaskStopCodeEssentialContainerExited {
		t.Errorf("got stopCode %q, want EssentialContainerExited", final.StopCode)
	}
	if c := containerOf(t, final, "web"); c.ExitCode == nil || *c.ExitCode != 4 {
		t.Errorf("got exit code %v, want 4", c.ExitCode)
	}
	if got := rt.Calls()[calls:]; len(got) != 0 {
		t.Errorf("got calls %v, want none: the task stopped while the agent was down", got)
	}
}

func TestRunnerCreateNameInUseAdopts(t *testing.T) {
	f := fake.New(fake.Config{})
	at := assignedTask(def("web", "nginx"))
	spec, err := containerSpec(testCluster, "agent1", testTaskID, at.TaskDefinition.ContainerDefinitions[0], netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	existing, err := f.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	h := startRunner(t, f, nil, at, nil) // no adoption list: Create hits ErrNameInUse
	got := h.rec.waitStatus(t, statusRunning)
	if c := containerOf(t, got, "web"); c.RuntimeID != existing {
		t.Errorf("got runtime ID %s, want the existing %s", c.RuntimeID, existing)
	}
	if cs, _ := f.List(context.Background(), nil); len(cs) != 1 {
		t.Errorf("got %d containers, want 1: no duplicates", len(cs))
	}
}

func TestRunnerStopWhileProvisioning(t *testing.T) {
	f := fake.New(fake.Config{})
	rt := newRecordingRuntime(f)
	at := stopped(assignedTask(def("web", "nginx")))
	h := startRunner(t, rt, nil, at, nil)
	final := h.rec.waitStatus(t, statusStopped)
	if calls := rt.Calls(); len(calls) != 0 {
		t.Errorf("got calls %v, want none for a task stopped before it started", calls)
	}
	if final.StopCode != ecs.TaskStopCodeUserInitiated {
		t.Errorf("got stopCode %q, want UserInitiated", final.StopCode)
	}
	if c := containerOf(t, final, "web"); c.LastStatus != containerStopped {
		t.Errorf("got container %s, want STOPPED", c.LastStatus)
	}
}

func TestRunnerCreateFailure(t *testing.T) {
	f := fake.New(fake.Config{})
	web := def("web", "nginx")
	web.DockerLabels = map[string]string{"berth.task": "mine"} // reserved
	h := startRunner(t, f, nil, assignedTask(web), nil)
	final := h.rec.waitStatus(t, statusStopped)
	if final.StopCode != ecs.TaskStopCodeTaskFailedToStart || !strings.HasPrefix(final.StoppedReason, "CannotCreateContainerError: ") {
		t.Errorf("got stopCode %q, reason %q; want TaskFailedToStart, CannotCreateContainerError", final.StopCode, final.StoppedReason)
	}
}

// A task the server saw ACTIVATING or later had started every container.
// If they are gone when the agent comes back (removed while it was away),
// the task is reported STOPPED, not run a second time. At PENDING nothing
// says the containers ever started: they are created.
func TestRunnerStartedTaskWithoutContainers(t *testing.T) {
	tests := []struct {
		floor   string
		wantRun bool
	}{
		{floor: statusPending, wantRun: true},
		{floor: statusActivating},
		{floor: statusRunning},
	}
	for _, tt := range tests {
		t.Run(tt.floor, func(t *testing.T) {
			rt := newRecordingRuntime(fake.New(fake.Config{}))
			at := assignedTask(def("job", "job"), nonEssential(def("sidecar", "sidecar")))
			at.Task.LastStatus = tt.floor
			h := startRunner(t, rt, nil, at, nil)
			if tt.wantRun {
				h.rec.waitStatus(t, statusRunning)
				if got := rt.Calls("start"); len(got) != 2 {
					t.Errorf("got starts %v, want both containers started", got)
				}
				return
			}
			final := h.rec.waitStatus(t, statusStopped)
			if calls := rt.Calls(); len(calls) != 0 {
				t.Errorf("got calls %v, want none: the task already ran", calls)
			}
			if final.StopCode != ecs.TaskStopCodeEssentialContainerExited || final.StoppedReason != reasonEssentialLost {
				t.Errorf("got stopCode %q, reason %q; want EssentialContainerExited, %q", final.StopCode, final.StoppedReason, reasonEssentialLost)
			}
			for _, name := range []string{"job", "sidecar"} {
				if c := containerOf(t, final, name); c.LastStatus != containerStopped || c.Reason != reasonLost {
					t.Errorf("container %s: got %s, reason %q; want STOPPED, %q", name, c.LastStatus, c.Reason, reasonLost)
				}
			}
			want := []string{tt.floor, statusDeactivating, statusStopping, statusDeprovisioning, statusStopped}
			if got := h.rec.statuses(); !cmp.Equal(got, want) {
				t.Errorf("statuses: got %v, want %v (never backwards)", got, want)
			}
		})
	}
}

// startedAnyway is a runtime whose Start fails after the engine started the
// container (a timeout on the answer, say).
type startedAnyway struct{ *recordingRuntime }

func (s startedAnyway) Start(ctx context.Context, id string) error {
	if err := s.recordingRuntime.Start(ctx, id); err != nil {
		return err
	}
	return errors.New("context deadline exceeded while waiting for the engine's answer")
}

func TestRunnerStopsContainerWhoseStartFailed(t *testing.T) {
	f := fake.New(fake.Config{Default: fake.Behavior{StopExitCode: 143}})
	rt := startedAnyway{newRecordingRuntime(f)}
	h := startRunner(t, rt, nil, assignedTask(def("web", "nginx")), nil)
	final := h.rec.waitStatus(t, statusStopped)
	if final.StopCode != ecs.TaskStopCodeTaskFailedToStart {
		t.Errorf("got stopCode %q, want TaskFailedToStart", final.StopCode)
	}
	st, err := f.Inspect(context.Background(), idOf(t, f, "web"))
	if err != nil || st.State != runtime.StateExited {
		t.Fatalf("container after the task STOPPED: got %s, %v; want it stopped", st.State, err)
	}
	if got := rt.Calls("stop"); !cmp.Equal(got, []string{"stop web"}) {
		t.Errorf("got stops %v, want [stop web]", got)
	}
	if c := containerOf(t, final, "web"); c.ExitCode == nil || *c.ExitCode != 143 {
		t.Errorf("got exit code %v, want 143", c.ExitCode)
	}
}
