package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/internal/agentapi"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/execbroker"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
	"github.com/berth-io/berth/internal/store/bolt"
)

const testJoinToken = "join-token-0123456789abcdef"

// serverClock is the agent API's clock, settable so a test can make an
// agent's silence last.
type serverClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *serverClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *serverClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// memLogs is an in-memory log sink.
type memLogs struct {
	mu      sync.Mutex
	streams map[string][]string // "group|stream" → messages
}

func (m *memLogs) AppendLogs(ctx context.Context, streams []agent.LogStream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range streams {
		for _, e := range st.Events {
			m.streams[st.Group+"|"+st.Stream] = append(m.streams[st.Group+"|"+st.Stream], e.Message)
		}
	}
	return nil
}

func (m *memLogs) get(group, stream string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.streams[group+"|"+stream])
}

// testServer is berth's server side, in-process: bolt store, ECS records,
// agent API over HTTP. It can go down and come back on the same address.
type testServer struct {
	ecs   *ecsapi.Service
	api   *agentapi.Server
	clock *serverClock
	logs  *memLogs
	exec  *execbroker.Broker

	mu   sync.Mutex
	srv  *httptest.Server
	addr string
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	s := &testServer{clock: &serverClock{}, logs: &memLogs{streams: map[string][]string{}}}
	s.exec = execbroker.New(execbroker.Config{Logger: testLogger(t)})
	t.Cleanup(s.exec.Close)
	s.ecs = ecsapi.New(ecsapi.Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Exec: s.exec})
	s.api, err = agentapi.New(agentapi.Config{
		JoinToken: testJoinToken, Records: s.ecs, Store: st, Logs: s.logs, Exec: s.exec,
		HeartbeatTimeout: 5 * time.Second, Now: s.clock.Now, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.up(t)
	t.Cleanup(s.down)
	return s
}

// up serves on the server's address (a new one the first time).
func (s *testServer) up(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	deadline := time.Now().Add(waitTimeout)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the old listener's port is being released
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/agent/", s.api)
	mux.Handle(exec.SessionPath, s.exec)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	s.srv, s.addr = srv, ln.Addr().String()
}

// down stops serving, cutting in-flight long-polls.
func (s *testServer) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.srv = nil
	}
}

func (s *testServer) url() string { return "http://" + s.addr }

// agentHarness runs one Agent.
type agentHarness struct {
	a      *Agent
	cancel context.CancelFunc
	done   chan error
}

func testAgentConfig(t *testing.T, s *testServer, rt runtime.Runtime, dataDir string) Config {
	cfg := DefaultConfig()
	cfg.Server = s.url()
	cfg.JoinToken = testJoinToken
	cfg.DataDir = dataDir
	cfg.Hostname = "host-1"
	cfg.AvailabilityZone = "us-east-1a"
	cfg.CPU, cfg.Memory = 2048, 4096
	cfg.RuntimeName = RuntimeProcess
	cfg.Runtime = rt
	cfg.PollWait = 2 * time.Second
	cfg.StatusInterval = 20 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	cfg.LogFlushInterval = 20 * time.Millisecond
	cfg.Logger = testLogger(t)
	return cfg
}

func startAgent(t *testing.T, cfg Config) *agentHarness {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &agentHarness{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop ends Run (as Ctrl-C does) and returns its error.
func (h *agentHarness) stop(t *testing.T) error {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
		return nil
	}
}

// instance waits for the agent's container instance in the records.
func (s *testServer) instance(t *testing.T, h *agentHarness) ecs.ContainerInstance {
	t.Helper()
	eventually(t, "registration", func() (bool, string) { return h.a.InstanceArn() != "", "" })
	out, err := s.ecs.DescribeContainerInstances(context.Background(), &ecs.DescribeContainerInstancesRequest{
		ContainerInstances: []string{h.a.InstanceArn()}})
	if err != nil || len(out.ContainerInstances) != 1 {
		t.Fatalf("describe instance: %v, %+v", err, out)
	}
	return out.ContainerInstances[0]
}

func (s *testServer) registerTaskDef(t *testing.T, defs ...ecs.ContainerDefinition) string {
	t.Helper()
	out, err := s.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: defs})
	if err != nil {
		t.Fatalf("register task definition: %v", err)
	}
	return out.TaskDefinition.TaskDefinitionArn
}

func (s *testServer) runTask(t *testing.T, td string) string {
	t.Helper()
	out, err := s.ecs.RunTask(context.Background(), &ecs.RunTaskRequest{TaskDefinition: td})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("run task: %v, %+v", err, out)
	}
	return out.Tasks[0].TaskArn
}

func (s *testServer) task(t *testing.T, arn string) ecs.Task {
	t.Helper()
	out, err := s.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksRequest{Tasks: []string{arn}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("describe task: %v, %+v", err, out)
	}
	return out.Tasks[0]
}

func (s *testServer) waitTask(t *testing.T, arn, status string) ecs.Task {
	t.Helper()
	var got ecs.Task
	eventually(t, "task "+status+" in the records", func() (bool, string) {
		got = s.task(t, arn)
		return got.LastStatus == status, got.LastStatus
	})
	return got
}

func webDef() ecs.ContainerDefinition {
	return ecs.ContainerDefinition{Name: "web", Image: "nginx:1.27", Memory: new(int32(128)),
		PortMappings: []ecs.PortMapping{{ContainerPort: new(int32(80)), Protocol: "tcp"}}}
}

func TestAgentRegistersRunsAndStopsTasks(t *testing.T) {
	s := newTestServer(t)
	f := fake.New(fake.Config{Default: fake.Behavior{Logs: "hello\nworld\n", StopExitCode: 143}})
	h := startAgent(t, testAgentConfig(t, s, f, t.TempDir()))

	ci := s.instance(t, h)
	if !ci.AgentConnected || ci.Status != "ACTIVE" {
		t.Errorf("got agentConnected %v, status %s; want true, ACTIVE", ci.AgentConnected, ci.Status)
	}
	attrs := map[string]string{}
	for _, a := range ci.Attributes {
		attrs[a.Name] = a.Value
	}
	for name, want := range map[string]string{"ecs.os-type": "linux", "berth.runtime": "process", "ecs.availability-zone": "us-east-1a",
		"ecs.cpu-architecture": cpuArchitecture(goruntime.GOARCH)} {
		if attrs[name] != want {
			t.Errorf("attribute %s: got %q, want %q", name, attrs[name], want)
		}
	}
	res := map[string]int32{}
	for _, r := range ci.RegisteredResources {
		res[r.Name] = r.IntegerValue
	}
	if res["CPU"] != 2048 || res["MEMORY"] != 4096 {
		t.Errorf("got registered CPU %d, MEMORY %d; want 2048, 4096", res["CPU"], res["MEMORY"])
	}

	arn := s.runTask(t, s.registerTaskDef(t, webDef()))
	running := s.waitTask(t, arn, statusRunning)
	c := running.Containers[0]
	if c.LastStatus != containerRunning || c.RuntimeId == "" || c.ImageDigest == "" {
		t.Errorf("got container %s runtimeId %q digest %q, want RUNNING with both", c.LastStatus, c.RuntimeId, c.ImageDigest)
	}
	wantBindings := []ecs.NetworkBinding{{BindIP: "127.0.0.1", ContainerPort: new(int32(80)), HostPort: new(int32(49152)), Protocol: "tcp"}}
	if diff := cmp.Diff(wantBindings, c.NetworkBindings); diff != "" {
		t.Errorf("networkBindings (-want +got):\n%s", diff)
	}
	if running.StartedAt == nil || running.PullStartedAt == nil {
		t.Errorf("got startedAt %v, pullStartedAt %v; want both", running.StartedAt, running.PullStartedAt)
	}

	// The container's output reaches the server under the default names.
	eventually(t, "logs shipped", func() (bool, string) {
		got := s.logs.get("/berth/web", "web/"+taskIDOf(arn))
		return cmp.Equal(got, []string{"hello", "world"}), fmt.Sprint(got)
	})

	if _, err := s.ecs.StopTask(context.Background(), &ecs.StopTaskRequest{Task: arn}); err != nil {
		t.Fatal(err)
	}
	final := s.waitTask(t, arn, statusStopped)
	if final.StopCode != ecs.TaskStopCodeUserInitiated {
		t.Errorf("got stopCode %q, want UserInitiated", final.StopCode)
	}
	if c := final.Containers[0]; c.ExitCode == nil || *c.ExitCode != 143 || c.LastStatus != containerStopped {
		t.Errorf("got container %s exit %v, want STOPPED exit 143", c.LastStatus, c.ExitCode)
	}
	if final.StoppedAt == nil || final.ExecutionStoppedAt == nil {
		t.Error("want stoppedAt and executionStoppedAt set")
	}
	if ci := s.instance(t, h); ci.RunningTasksCount != 0 || ci.PendingTasksCount != 0 {
		t.Errorf("got running %d pending %d tasks on the instance, want 0 and 0", ci.RunningTasksCount, ci.PendingTasksCount)
	}

	// agentConnected is truthful: the agent goes away, the server notices.
	if err := h.stop(t); err != nil {
		t.Fatalf("Run: got %v, want nil on cancel", err)
	}
	s.clock.Advance(10 * time.Second)
	s.api.Tracker().Step(context.Background())
	if ci := s.instance(t, h); ci.AgentConnected {
		t.Error("got agentConnected true after the agent stopped, want false")
	}
}

func TestAgentWrongJoinTokenIsRefused(t *testing.T) {
	s := newTestServer(t)
	cfg := testAgentConfig(t, s, fake.New(fake.Config{}), t.TempDir())
	cfg.JoinToken = "not-the-join-token-at-all"
	h := startAgent(t, cfg)
	select {
	case err := <-h.done:
		h.done <- err
		if !errors.Is(err, ErrJoinTokenRejected) {
			t.Errorf("Run: got %v, want ErrJoinTokenRejected", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return for a wrong join token")
	}
	// No instance (nor cluster) was created.
	if out, err := s.ecs.ListContainerInstances(context.Background(), &ecs.ListContainerInstancesRequest{}); err == nil && len(out.ContainerInstanceArns) != 0 {
		t.Errorf("got instances %v, want none registered", out.ContainerInstanceArns)
	}
}

func TestAgentRestartReadopts(t *testing.T) {
	s := newTestServer(t)
	rt := newRecordingRuntime(fake.New(fake.Config{}))
	dir := t.TempDir()
	first := startAgent(t, testAgentConfig(t, s, rt, dir))
	s.instance(t, first)
	arn := s.runTask(t, s.registerTaskDef(t, webDef()))
	before := s.waitTask(t, arn, statusRunning)
	instanceArn := first.a.InstanceArn()
	if err := first.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	creates := len(rt.Calls("create"))

	second := startAgent(t, testAgentConfig(t, s, rt, dir))
	if got := s.instance(t, second).ContainerInstanceArn; got != instanceArn {
		t.Errorf("after restart: got instance %s, want the same %s", got, instanceArn)
	}
	eventually(t, "the task re-adopted", func() (bool, string) {
		select {
		case <-second.a.firstPolled:
		default:
			return false, "no poll applied yet"
		}
		m := second.a.taskManager()
		return m != nil && m.active(taskIDOf(arn)), "no runner for the task"
	})
	if got := s.task(t, arn); got.LastStatus != statusRunning || got.Containers[0].RuntimeId != before.Containers[0].RuntimeId {
		t.Errorf("after restart: got %s on %s, want RUNNING on %s", got.LastStatus, got.Containers[0].RuntimeId, before.Containers[0].RuntimeId)
	}
	st, err := rt.Inspect(context.Background(), before.Containers[0].RuntimeId)
	if err != nil || st.State != runtime.StateRunning {
		t.Errorf("container after restart: got %v, %v; want running", st.State, err)
	}

	// The new agent owns the old container: it stops it.
	if _, err := s.ecs.StopTask(context.Background(), &ecs.StopTaskRequest{Task: arn}); err != nil {
		t.Fatal(err)
	}
	final := s.waitTask(t, arn, statusStopped)
	if got := final.Containers[0].RuntimeId; got != before.Containers[0].RuntimeId {
		t.Errorf("got runtime ID %s, want %s", got, before.Containers[0].RuntimeId)
	}
	if got := len(rt.Calls("create")); got != creates {
		t.Errorf("got %d creates after restart, want none", got-creates)
	}
	if cs, _ := rt.List(context.Background(), nil); len(cs) != 1 {
		t.Errorf("got %d containers, want 1", len(cs))
	}
}

func TestAgentServerDown(t *testing.T) {
	s := newTestServer(t)
	f := fake.New(fake.Config{})
	h := startAgent(t, testAgentConfig(t, s, f, t.TempDir()))
	s.instance(t, h)
	td := s.registerTaskDef(t, ecs.ContainerDefinition{Name: "web", Image: "nginx:1.27", Memory: new(int32(128))})
	a, b := s.runTask(t, td), s.runTask(t, td)
	s.waitTask(t, a, statusRunning)
	s.waitTask(t, b, statusRunning)

	s.down()
	idA := s.task(t, a).Containers[0].RuntimeId
	idB := s.task(t, b).Containers[0].RuntimeId
	// While the server is away, task a's essential container exits.
	if err := f.Exit(idA, 5); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the agent to stop task a", func() (bool, string) {
		h.a.reporter.mu.Lock()
		defer h.a.reporter.mu.Unlock()
		e := h.a.reporter.entries[a]
		return e != nil && e.status.LastStatus == statusStopped, ""
	})
	if got := s.task(t, a).LastStatus; got != statusRunning {
		t.Fatalf("server down: got task a %s in the records, want RUNNING still", got)
	}

	s.up(t)
	final := s.waitTask(t, a, statusStopped)
	if final.StopCode != ecs.TaskStopCodeEssentialContainerExited {
		t.Errorf("got stopCode %q, want EssentialContainerExited", final.StopCode)
	}
	if c := final.Containers[0]; c.ExitCode == nil || *c.ExitCode != 5 {
		t.Errorf("got exit code %v, want 5", c.ExitCode)
	}
	if got := s.task(t, b).LastStatus; got != statusRunning {
		t.Errorf("got task b %s, want RUNNING: tasks keep running while the server is away", got)
	}
	if st, _ := f.Inspect(context.Background(), idB); st.State != runtime.StateRunning {
		t.Errorf("got task b's container %s, want running", st.State)
	}
}

func TestAgentDeregisteredReregisters(t *testing.T) {
	s := newTestServer(t)
	f := fake.New(fake.Config{})
	h := startAgent(t, testAgentConfig(t, s, f, t.TempDir()))
	s.instance(t, h)
	arn := s.runTask(t, s.registerTaskDef(t, webDef()))
	s.waitTask(t, arn, statusRunning)
	old := h.a.InstanceArn()
	id := s.task(t, arn).Containers[0].RuntimeId

	if _, err := s.ecs.DeregisterContainerInstance(context.Background(), &ecs.DeregisterContainerInstanceRequest{
		ContainerInstance: old, Force: new(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new registration", func() (bool, string) {
		return h.a.InstanceArn() != old && h.a.InstanceArn() != "", h.a.InstanceArn()
	})
	eventually(t, "the old instance's task stopped", func() (bool, string) {
		st, _ := f.Inspect(context.Background(), id)
		return st.State == runtime.StateExited, string(st.State)
	})
	if ci := s.instance(t, h); !ci.AgentConnected || ci.Status != "ACTIVE" {
		t.Errorf("new instance: got agentConnected %v status %s, want true ACTIVE", ci.AgentConnected, ci.Status)
	}
	saved, err := os.ReadFile(filepath.Join(h.a.cfg.DataDir, identityFile))
	if err != nil || !strings.Contains(string(saved), taskIDOfInstance(h.a.InstanceArn())) {
		t.Errorf("instance.json: got %s, %v; want the new instance %s", saved, err, h.a.InstanceArn())
	}
}

func taskIDOfInstance(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
