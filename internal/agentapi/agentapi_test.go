package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/store/bolt"
)

const token = "test-join-token-0123456789"

type fixture struct {
	ecs   *ecsapi.Service
	api   *Server
	srv   *httptest.Server
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	svc := ecsapi.New(ecsapi.Config{Store: st, Region: "us-east-1", AccountID: "123456789012"})
	api, err := New(Config{JoinToken: token, Records: svc, Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &fixture{ecs: svc, api: api, srv: srv, clock: clk}
}

func (f *fixture) call(t *testing.T, path, tok string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", f.srv.URL+path, bytes.NewReader(b))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func (f *fixture) register(t *testing.T) agent.RegisterResponse {
	t.Helper()
	var reg agent.RegisterResponse
	if code := f.call(t, agent.PathRegister, token, agent.RegisterRequest{Cluster: "c1", Hostname: "host-a", CPU: 2048, Memory: 4096}, &reg); code != 200 {
		t.Fatalf("register: got HTTP %d, want 200", code)
	}
	return reg
}

func TestJoinTokenRequired(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		if code := f.call(t, agent.PathRegister, tok, agent.RegisterRequest{Cluster: "c1", CPU: 1, Memory: 1}, nil); code != http.StatusUnauthorized {
			t.Errorf("token %q: got HTTP %d, want 401", tok, code)
		}
	}
	if _, err := New(Config{JoinToken: "short"}); err == nil {
		t.Error("New with a short join token: got nil error, want one")
	}
}

func TestRegisterCreatesClusterAndInstance(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	if reg.InstanceID == "" || reg.HeartbeatIntervalMs != DefaultHeartbeatInterval.Milliseconds() {
		t.Fatalf("got %+v, want an instance ID and the heartbeat interval", reg)
	}
	d, err := f.ecs.DescribeContainerInstances(context.Background(), &ecs.DescribeContainerInstancesRequest{Cluster: "c1", ContainerInstances: []string{reg.InstanceID}})
	if err != nil || len(d.ContainerInstances) != 1 || !d.ContainerInstances[0].AgentConnected {
		t.Fatalf("describe: got %+v, %v; want one connected instance", d, err)
	}
	// Re-registering with the saved ID keeps the instance.
	var again agent.RegisterResponse
	f.call(t, agent.PathRegister, token, agent.RegisterRequest{Cluster: "c1", InstanceID: reg.InstanceID, CPU: 2048, Memory: 4096}, &again)
	if again.InstanceID != reg.InstanceID {
		t.Fatalf("re-register: got instance %s, want %s", again.InstanceID, reg.InstanceID)
	}
}

func TestPollWakesOnNewTask(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	ctx := context.Background()
	if _, err := f.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}}); err != nil {
		t.Fatal(err)
	}
	var first agent.PollResponse
	f.call(t, agent.PathPoll, token, agent.PollRequest{Cluster: "c1", InstanceID: reg.InstanceID}, &first)
	if len(first.Tasks) != 0 || first.Revision == 0 {
		t.Fatalf("first poll: got %+v, want no tasks and a revision", first)
	}
	done := make(chan agent.PollResponse, 1)
	go func() {
		var out agent.PollResponse
		f.call(t, agent.PathPoll, token, agent.PollRequest{Cluster: "c1", InstanceID: reg.InstanceID, AfterRevision: first.Revision, WaitSeconds: 20}, &out)
		done <- out
	}()
	run, err := f.ecs.RunTask(ctx, &ecs.RunTaskRequest{Cluster: "c1", TaskDefinition: "web"})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run task: %+v, %v", run, err)
	}
	select {
	case out := <-done:
		if len(out.Tasks) != 1 || out.Tasks[0].Task.TaskArn != run.Tasks[0].TaskArn || out.Tasks[0].TaskDefinition.Family != "web" {
			t.Fatalf("woken poll: got %+v, want the new task with its definition", out)
		}
		if out.Revision <= first.Revision {
			t.Fatalf("got revision %d, want > %d", out.Revision, first.Revision)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll did not wake on RunTask")
	}
}

func TestStatusReportMovesTaskAndReleasesResources(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	ctx := context.Background()
	if _, err := f.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](512)}}}); err != nil {
		t.Fatal(err)
	}
	run, err := f.ecs.RunTask(ctx, &ecs.RunTaskRequest{Cluster: "c1", TaskDefinition: "web"})
	if err != nil {
		t.Fatal(err)
	}
	arn := run.Tasks[0].TaskArn
	now := ecs.NewTime(time.Now())
	report := func(status string, exit *int32) agent.StatusResponse {
		var out agent.StatusResponse
		code := f.call(t, agent.PathStatus, token, agent.StatusReport{Cluster: "c1", InstanceID: reg.InstanceID, Tasks: []agent.TaskStatus{{
			TaskArn: arn, LastStatus: status, StartedAt: now,
			Containers: []agent.ContainerStatus{{Name: "web", LastStatus: status, ExitCode: exit, RuntimeID: "abc"}},
		}}}, &out)
		if code != 200 {
			t.Fatalf("report %s: HTTP %d", status, code)
		}
		return out
	}
	report("RUNNING", nil)
	inst := func() ecs.ContainerInstance {
		d, err := f.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesRequest{Cluster: "c1", ContainerInstances: []string{reg.InstanceID}})
		if err != nil {
			t.Fatal(err)
		}
		return d.ContainerInstances[0]
	}
	if ci := inst(); ci.RunningTasksCount != 1 || ci.PendingTasksCount != 0 {
		t.Fatalf("after RUNNING: got running %d pending %d, want 1 0", ci.RunningTasksCount, ci.PendingTasksCount)
	}
	report("PENDING", nil) // backwards: ignored
	exit := int32(3)
	report("STOPPED", &exit)
	d, err := f.ecs.DescribeTasks(ctx, &ecs.DescribeTasksRequest{Cluster: "c1", Tasks: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Tasks[0]
	if got.LastStatus != "STOPPED" || got.DesiredStatus != "STOPPED" || got.Containers[0].ExitCode == nil || *got.Containers[0].ExitCode != 3 {
		t.Fatalf("after STOPPED: got %s/%s exit %v", got.LastStatus, got.DesiredStatus, got.Containers[0].ExitCode)
	}
	ci := inst()
	for _, r := range ci.RemainingResources {
		if r.Name == "MEMORY" && r.IntegerValue != 4096 {
			t.Fatalf("memory after stop: got %d, want 4096 released", r.IntegerValue)
		}
	}
	if ci.RunningTasksCount != 0 {
		t.Fatalf("running after stop: got %d, want 0", ci.RunningTasksCount)
	}
	// A task the server does not know comes back as unknown.
	var out agent.StatusResponse
	f.call(t, agent.PathStatus, token, agent.StatusReport{Cluster: "c1", InstanceID: reg.InstanceID, Tasks: []agent.TaskStatus{{
		TaskArn: "arn:aws:ecs:us-east-1:123456789012:task/c1/0123456789abcdef0123456789abcdef", LastStatus: "RUNNING",
	}}}, &out)
	if len(out.Unknown) != 1 {
		t.Fatalf("unknown task: got %+v, want it listed", out)
	}
}

func TestTrackerMarksSilentAgentDisconnected(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	ctx := context.Background()
	connected := func() bool {
		d, err := f.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesRequest{Cluster: "c1", ContainerInstances: []string{reg.InstanceID}})
		if err != nil {
			t.Fatal(err)
		}
		return d.ContainerInstances[0].AgentConnected
	}
	tr := f.api.Tracker()
	f.clock.Advance(DefaultHeartbeatTimeout - time.Millisecond)
	if n := tr.Step(ctx); n != 0 || !connected() {
		t.Fatalf("before the timeout: marked %d, connected=%v; want 0, true", n, connected())
	}
	f.clock.Advance(2 * time.Millisecond)
	if n := tr.Step(ctx); n != 1 || connected() {
		t.Fatalf("after the timeout: marked %d, connected=%v; want 1, false", n, connected())
	}
	// A heartbeat brings it back.
	if code := f.call(t, agent.PathHeartbeat, token, agent.HeartbeatRequest{Cluster: "c1", InstanceID: reg.InstanceID}, nil); code != 200 {
		t.Fatalf("heartbeat: HTTP %d", code)
	}
	if !connected() {
		t.Fatal("after a heartbeat: not connected")
	}
}

func ptr[T any](v T) *T { return &v }

func TestPollWithFingerprintIgnoresStatusReports(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	ctx := context.Background()
	if _, err := f.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}}); err != nil {
		t.Fatal(err)
	}
	run, err := f.ecs.RunTask(ctx, &ecs.RunTaskRequest{Cluster: "c1", TaskDefinition: "web"})
	if err != nil {
		t.Fatal(err)
	}
	arn := run.Tasks[0].TaskArn
	var first agent.PollResponse
	f.call(t, agent.PathPoll, token, agent.PollRequest{Cluster: "c1", InstanceID: reg.InstanceID}, &first)
	if first.Fingerprint == "" || len(first.Tasks) != 1 {
		t.Fatalf("first poll: got %+v", first)
	}
	done := make(chan agent.PollResponse, 1)
	go func() {
		var out agent.PollResponse
		f.call(t, agent.PathPoll, token, agent.PollRequest{Cluster: "c1", InstanceID: reg.InstanceID, Fingerprint: first.Fingerprint, WaitSeconds: 20}, &out)
		done <- out
	}()
	// The agent's own report changes the task record but not what is desired.
	f.call(t, agent.PathStatus, token, agent.StatusReport{Cluster: "c1", InstanceID: reg.InstanceID, Tasks: []agent.TaskStatus{{TaskArn: arn, LastStatus: "PENDING"}}}, nil)
	select {
	case out := <-done:
		t.Fatalf("poll woke on a status report: %+v", out)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := f.ecs.StopTask(ctx, &ecs.StopTaskRequest{Cluster: "c1", Task: arn}); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-done:
		if out.Fingerprint == first.Fingerprint || out.Tasks[0].Task.DesiredStatus != "STOPPED" {
			t.Fatalf("after StopTask: got %+v, want the new desired state", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poll did not wake on StopTask")
	}
}
