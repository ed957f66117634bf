package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
)

// stubServer is an agent protocol server whose answers a test scripts:
// each path answers through its function in answers (none: success), and
// every request is recorded. Registrations get instance IDs i-1, i-2, ...
type stubServer struct {
	url string

	mu      sync.Mutex
	answers map[string]stubAnswer
	reqs    []stubRequest
	counts  map[string]int
	tasks   []agent.AssignedTask // what polls answer with
}

// stubAnswer answers the nth request (from 1) on a path; status 0 means
// the default answer.
type stubAnswer func(n int, body []byte) (status int, out any)

type stubRequest struct {
	path string
	body []byte
}

func newStubServer(t *testing.T) *stubServer {
	t.Helper()
	s := &stubServer{answers: map[string]stubAnswer{}, counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	s.url = srv.URL
	return s
}

func (s *stubServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.counts[r.URL.Path]++
	n := s.counts[r.URL.Path]
	s.reqs = append(s.reqs, stubRequest{path: r.URL.Path, body: body})
	answer := s.answers[r.URL.Path]
	tasks := s.tasks
	s.mu.Unlock()
	status, out := 0, any(nil)
	if answer != nil {
		status, out = answer(n, body)
	}
	if status == 0 {
		status, out = http.StatusOK, struct{}{}
		switch r.URL.Path {
		case agent.PathRegister:
			id := fmt.Sprintf("i-%d", n)
			out = agent.RegisterResponse{Cluster: testCluster, InstanceID: id, HeartbeatIntervalMs: 50,
				ContainerInstanceArn: "arn:aws:ecs:us-east-1:123456789012:container-instance/" + testCluster + "/" + id}
		case agent.PathPoll:
			// A short long-poll, so that the agent does not spin.
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
			}
			out = agent.PollResponse{Revision: int64(n), Tasks: tasks}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// on scripts the answers of path.
func (s *stubServer) on(path string, a stubAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[path] = a
}

func (s *stubServer) setTasks(tasks ...agent.AssignedTask) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks = tasks
}

// requests returns the bodies of the requests made to path, in order.
func (s *stubServer) requests(path string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, r := range s.reqs {
		if r.path == path {
			out = append(out, r.body)
		}
	}
	return out
}

// refuse is an error answer.
func refuse(status int, code string) (int, any) {
	return status, agent.Error{Code: code, Message: "refused by the test"}
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func stubConfig(t *testing.T, s *stubServer, rt runtime.Runtime) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Server = s.url
	cfg.JoinToken = testJoinToken
	cfg.DataDir = t.TempDir()
	cfg.CPU, cfg.Memory = 1024, 2048
	cfg.RuntimeName = RuntimeProcess
	cfg.Runtime = rt
	cfg.PollWait = time.Second
	cfg.StatusInterval = 20 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	cfg.LogFlushInterval = 20 * time.Millisecond
	cfg.Logger = testLogger(t)
	return cfg
}

// reportingAgent is an agent that has registered as i-1 (without Run), for
// tests that drive reportOnce step by step.
func reportingAgent(t *testing.T, s *stubServer) *Agent {
	t.Helper()
	a, err := New(stubConfig(t, s, fake.New(fake.Config{})))
	if err != nil {
		t.Fatal(err)
	}
	a.id = identity{Cluster: testCluster, InstanceID: "i-1", AgentID: "agent1"}
	a.tasks = newTaskManager(runnerDeps{rt: a.cfg.Runtime, clock: a.clock, log: a.cfg.Logger}, nil)
	return a
}

func taskArn(id string) string { return "arn:aws:ecs:us-east-1:123456789012:task/default/" + id }

func TestPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"ECS validation", &ServerError{Status: 400, Code: ecs.ErrInvalidParameter}, true},
		{"ECS client error", &ServerError{Status: 400, Code: ecs.ErrClient}, false},
		{"bad instance", &ServerError{Status: 400, Code: "InvalidParameter"}, true},
		{"undecodable", &ServerError{Status: 400, Code: "MalformedRequest"}, true},
		{"too large", &ServerError{Status: 413, Code: "RequestTooLarge"}, true},
		{"other 400", &ServerError{Status: 400, Code: "SomethingNew"}, false},
		{"conflict", &ServerError{Status: 409, Code: ecs.ErrConflict}, false},
		{"throttled", &ServerError{Status: 429, Code: "ThrottlingException"}, false},
		{"not found", &ServerError{Status: 404, Code: "NotFound"}, false},
		{"update in progress", &ServerError{Status: 503, Code: ecs.ErrUpdateInProgress}, false},
		{"server", &ServerError{Status: 500, Code: "ServerException"}, false},
		{"join token", fmt.Errorf("x: %w", ErrJoinTokenRejected), false},
		{"unreachable", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := permanent(tt.err); got != tt.want {
				t.Errorf("permanent(%v): got %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// transient are refusals the agent must retry.
var transient = []struct {
	name   string
	status int
	code   string
}{
	{"conflict", http.StatusConflict, ecs.ErrConflict},
	{"throttled", http.StatusTooManyRequests, "ThrottlingException"},
	{"update in progress", http.StatusServiceUnavailable, ecs.ErrUpdateInProgress},
	{"server error", http.StatusInternalServerError, "ServerException"},
	{"unrecognised 400", http.StatusBadRequest, "SomethingNew"},
}

func TestAgentRegisterRetriesTransientRefusals(t *testing.T) {
	for _, tt := range transient {
		t.Run(tt.name, func(t *testing.T) {
			s := newStubServer(t)
			s.on(agent.PathRegister, func(n int, _ []byte) (int, any) {
				if n <= 2 {
					return refuse(tt.status, tt.code)
				}
				return 0, nil
			})
			h := startAgent(t, stubConfig(t, s, fake.New(fake.Config{})))
			eventually(t, "a registration, or Run returning", func() (bool, string) {
				select {
				case err := <-h.done:
					t.Fatalf("Run returned %v after HTTP %d %s, want it to retry", err, tt.status, tt.code)
				default:
				}
				return h.a.InstanceArn() != "", fmt.Sprintf("%d registrations", len(s.requests(agent.PathRegister)))
			})
			if got := len(s.requests(agent.PathRegister)); got != 3 {
				t.Errorf("got %d registrations, want 3 (two refused)", got)
			}
		})
	}
}

func TestAgentRegisterInvalidStops(t *testing.T) {
	s := newStubServer(t)
	s.on(agent.PathRegister, func(int, []byte) (int, any) { return refuse(http.StatusBadRequest, ecs.ErrInvalidParameter) })
	h := startAgent(t, stubConfig(t, s, fake.New(fake.Config{})))
	select {
	case err := <-h.done:
		h.done <- err
		var se *ServerError
		if !errors.As(err, &se) || se.Code != ecs.ErrInvalidParameter {
			t.Errorf("Run: got %v, want the InvalidParameterException", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return for a registration the server refuses as invalid")
	}
}

// After a deregistration the agent registers again, retrying refusals,
// and never speaks for an instance without an ID meanwhile.
func TestAgentReregistersBeforePolling(t *testing.T) {
	s := newStubServer(t)
	s.on(agent.PathPoll, func(n int, _ []byte) (int, any) {
		if n == 1 {
			return http.StatusOK, agent.PollResponse{Deregistered: true}
		}
		return 0, nil
	})
	s.on(agent.PathRegister, func(n int, _ []byte) (int, any) {
		if n == 2 || n == 3 {
			return refuse(http.StatusConflict, ecs.ErrConflict)
		}
		return 0, nil
	})
	h := startAgent(t, stubConfig(t, s, fake.New(fake.Config{})))
	eventually(t, "a poll as the new instance", func() (bool, string) {
		for _, b := range s.requests(agent.PathPoll) {
			if decode[agent.PollRequest](t, b).InstanceID == "i-4" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d registrations", len(s.requests(agent.PathRegister)))
	})
	select {
	case err := <-h.done:
		t.Fatalf("Run returned %v, want it to register again", err)
	default:
	}
	for _, path := range []string{agent.PathPoll, agent.PathHeartbeat} {
		for _, b := range s.requests(path) {
			// Polls and heartbeats both carry instanceId.
			if id := decode[agent.HeartbeatRequest](t, b).InstanceID; id == "" {
				t.Errorf("%s sent without an instance ID", path)
			}
		}
	}
	if got := h.a.InstanceArn(); !strings.HasSuffix(got, "/i-4") {
		t.Errorf("got instance %s, want i-4", got)
	}
}

func TestAgentPollWaitsAtLeastOneSecond(t *testing.T) {
	s := newStubServer(t)
	cfg := stubConfig(t, s, fake.New(fake.Config{}))
	cfg.PollWait = 100 * time.Millisecond
	startAgent(t, cfg)
	eventually(t, "a poll", func() (bool, string) { return len(s.requests(agent.PathPoll)) > 0, "" })
	if got := decode[agent.PollRequest](t, s.requests(agent.PathPoll)[0]).WaitSeconds; got != 1 {
		t.Errorf("PollWait 100ms: got waitSeconds %d, want 1 (0 makes the server answer at once)", got)
	}
}

func TestReportRetriesTransientRefusals(t *testing.T) {
	for _, tt := range transient {
		t.Run(tt.name, func(t *testing.T) {
			s := newStubServer(t)
			var refused atomic.Bool
			refused.Store(true)
			s.on(agent.PathStatus, func(int, []byte) (int, any) {
				if refused.Load() {
					return refuse(tt.status, tt.code)
				}
				return 0, nil
			})
			a := reportingAgent(t, s)
			a.reporter.update(agent.TaskStatus{TaskArn: taskArn("a"), LastStatus: statusRunning})
			a.reporter.update(agent.TaskStatus{TaskArn: taskArn("b"), LastStatus: statusStopped})
			if err := a.reportOnce(context.Background()); err == nil {
				t.Fatalf("reportOnce: got nil after HTTP %d %s, want an error to retry", tt.status, tt.code)
			}
			if batch, _ := a.reporter.pending(); len(batch) != 2 {
				t.Fatalf("after the refusal: got %d statuses pending, want both kept", len(batch))
			}

			refused.Store(false)
			if err := a.reportOnce(context.Background()); err != nil {
				t.Fatalf("reportOnce: %v", err)
			}
			if batch, _ := a.reporter.pending(); len(batch) != 0 {
				t.Errorf("after the server took them: got %d statuses pending, want none", len(batch))
			}
			last := decode[agent.StatusReport](t, s.requests(agent.PathStatus)[1])
			if len(last.Tasks) != 2 {
				t.Errorf("retry: got %d tasks, want both", len(last.Tasks))
			}
		})
	}
}

// The server refuses a whole report when one status in it is invalid:
// only that one is dropped, the others get through.
func TestReportDropsOnlyTheRefusedStatus(t *testing.T) {
	s := newStubServer(t)
	var mu sync.Mutex
	var took []string
	s.on(agent.PathStatus, func(_ int, body []byte) (int, any) {
		var in agent.StatusReport
		_ = json.Unmarshal(body, &in)
		for _, ts := range in.Tasks {
			if ts.LastStatus == "BOGUS" {
				return refuse(http.StatusBadRequest, ecs.ErrInvalidParameter)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ts := range in.Tasks {
			took = append(took, ts.TaskArn)
		}
		return 0, nil
	})
	a := reportingAgent(t, s)
	var want []string
	for i := range 7 {
		arn := taskArn(fmt.Sprintf("t%d", i))
		st := statusStopped
		if i == 4 {
			st = "BOGUS"
		} else {
			want = append(want, arn)
		}
		a.reporter.update(agent.TaskStatus{TaskArn: arn, LastStatus: st})
	}
	if err := a.reportOnce(context.Background()); err != nil {
		t.Fatalf("reportOnce: %v", err)
	}
	mu.Lock()
	got := slices.Sorted(slices.Values(took))
	mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses the server took (-want +got):\n%s", diff)
	}
	if batch, _ := a.reporter.pending(); len(batch) != 0 {
		t.Errorf("got %d statuses pending, want none (the refused one dropped)", len(batch))
	}
	if n := len(s.requests(agent.PathStatus)); n > 7 {
		t.Errorf("got %d reports for 7 tasks, want the batch split in halves, not more", n)
	}
}

// A finished task the server says it does not know is not remembered
// forever.
func TestReportUnknownFinishedTaskForgotten(t *testing.T) {
	s := newStubServer(t)
	s.on(agent.PathStatus, func(_ int, body []byte) (int, any) {
		var in agent.StatusReport
		_ = json.Unmarshal(body, &in)
		return http.StatusOK, agent.StatusResponse{Unknown: []string{in.Tasks[0].TaskArn}}
	})
	a := reportingAgent(t, s)
	a.reporter.update(agent.TaskStatus{TaskArn: taskArn("gone"), LastStatus: statusStopped})
	a.reporter.forget(taskArn("gone")) // its runner finished, as taskManager.onFinish does
	if err := a.reportOnce(context.Background()); err != nil {
		t.Fatalf("reportOnce: %v", err)
	}
	a.reporter.mu.Lock()
	defer a.reporter.mu.Unlock()
	if len(a.reporter.dropped) != 0 || len(a.reporter.entries) != 0 {
		t.Errorf("got dropped %v, entries %d; want both empty", a.reporter.dropped, len(a.reporter.entries))
	}
}

// countingRuntime counts the List calls that ask for this agent's
// containers (start-up and every janitor step).
type countingRuntime struct {
	runtime.Runtime
	mu    sync.Mutex
	lists int
}

func (c *countingRuntime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	if labels[LabelAgent] != "" {
		c.mu.Lock()
		c.lists++
		c.mu.Unlock()
	}
	return c.Runtime.List(ctx, labels)
}

func (c *countingRuntime) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists
}

// The exited container of a stopped task is kept until the server has
// acknowledged the task's STOPPED status, whatever the cleanup grace: the
// exit code must reach the server (or a restarted agent).
func TestAgentKeepsContainersUntilFinalStatusAcknowledged(t *testing.T) {
	s := newStubServer(t)
	var refusing atomic.Bool
	refusing.Store(true)
	s.on(agent.PathStatus, func(int, []byte) (int, any) {
		if refusing.Load() {
			return refuse(http.StatusServiceUnavailable, ecs.ErrUpdateInProgress)
		}
		return 0, nil
	})
	f := fake.New(fake.Config{Default: fake.Behavior{RunTime: time.Nanosecond, ExitCode: 3}})
	rt := &countingRuntime{Runtime: f}
	at := assignedTask(def("job", "job"))
	s.setTasks(at)
	cfg := stubConfig(t, s, rt)
	cfg.CleanupGrace = time.Nanosecond
	h := startAgent(t, cfg)

	eventually(t, "the task stopped, its STOPPED status unacknowledged", func() (bool, string) {
		m := h.a.taskManager()
		if m == nil || m.active(testTaskID) {
			return false, "runner still going"
		}
		h.a.reporter.mu.Lock()
		defer h.a.reporter.mu.Unlock()
		e := h.a.reporter.entries[testTaskArn]
		return e != nil && e.status.LastStatus == statusStopped, fmt.Sprintf("%+v", e)
	})
	id := idOf(t, f, "job")
	steps := rt.count()
	eventually(t, "two janitor steps", func() (bool, string) { return rt.count() >= steps+2, "" })
	if _, err := f.Inspect(context.Background(), id); err != nil {
		t.Fatalf("the container of a task whose STOPPED status the server has not taken: %v, want it kept", err)
	}

	refusing.Store(false)
	s.setTasks() // the server took the STOPPED status: it no longer lists the task
	eventually(t, "the container removed once the server took the status", func() (bool, string) {
		_, err := f.Inspect(context.Background(), id)
		return errors.Is(err, runtime.ErrNotFound), fmt.Sprint(err)
	})
	var final agent.TaskStatus
	for _, b := range s.requests(agent.PathStatus) {
		for _, ts := range decode[agent.StatusReport](t, b).Tasks {
			if ts.LastStatus == statusStopped {
				final = ts
			}
		}
	}
	if c := containerOf(t, final, "job"); c.ExitCode == nil || *c.ExitCode != 3 {
		t.Errorf("got exit code %v in the STOPPED report, want 3", c.ExitCode)
	}
}
