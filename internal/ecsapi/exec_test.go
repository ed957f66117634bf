package ecsapi

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

// fakeExec records the sessions ExecuteCommand opens.
type fakeExec struct {
	opened []agent.ExecSession
	where  []string
}

func (f *fakeExec) Open(_ context.Context, cluster, instanceID string, req agent.ExecSession) (ecs.Session, error) {
	f.opened = append(f.opened, req)
	f.where = append(f.where, cluster+"/"+instanceID)
	return ecs.Session{SessionId: "s1", StreamUrl: "http://h/exec/v1/sessions/s1", TokenValue: "bxt_1"}, nil
}

// execFixture is a cluster "c" with one agent, a RUNNING task of two
// containers (web RUNNING, init STOPPED), a RUNNING task of one and a
// PENDING task.
type execFixture struct {
	s                        *Service
	exec                     *fakeExec
	instance                 string
	twoContainers, single    string
	pending                  string
	twoContainersClusterless string
}

func newExecFixture(t *testing.T) *execFixture {
	t.Helper()
	s, clk := newTestService(t)
	f := &execFixture{s: s, exec: &fakeExec{}}
	s.exec = f.exec
	reg, err := s.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "c", CPU: 4096, Memory: 4096})
	if err != nil {
		t.Fatal(err)
	}
	f.instance = reg.InstanceID
	for _, td := range []*ecs.RegisterTaskDefinitionRequest{
		{Family: "two", ContainerDefinitions: []ecs.ContainerDefinition{
			{Name: "web", Image: "img", Memory: ptr[int32](16)},
			{Name: "init", Image: "img", Memory: ptr[int32](16), Essential: ptr(false)},
		}},
		{Family: "one", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "app", Image: "img", Memory: ptr[int32](16)}}},
	} {
		if _, err := s.RegisterTaskDefinition(bg, td); err != nil {
			t.Fatal(err)
		}
	}
	run := func(family string) string {
		t.Helper()
		out, err := s.RunTask(bg, &ecs.RunTaskRequest{Cluster: "c", TaskDefinition: family})
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("run task: %+v %v", out, err)
		}
		return out.Tasks[0].TaskArn
	}
	f.twoContainers, f.single, f.pending = run("two"), run("one"), run("one")
	f.twoContainersClusterless = f.twoContainers[len(f.twoContainers)-32:]
	now := ecs.NewTime(clk.Now())
	if _, err := s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "c", InstanceID: reg.InstanceID, Tasks: []agent.TaskStatus{
		{TaskArn: f.twoContainers, LastStatus: "RUNNING", StartedAt: now, Containers: []agent.ContainerStatus{
			{Name: "web", LastStatus: "RUNNING"}, {Name: "init", LastStatus: "STOPPED", ExitCode: ptr[int32](0)},
		}},
		{TaskArn: f.single, LastStatus: "RUNNING", StartedAt: now, Containers: []agent.ContainerStatus{{Name: "app", LastStatus: "RUNNING"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExecuteCommand(t *testing.T) {
	f := newExecFixture(t)
	out, err := f.s.ExecuteCommand(bg, &ecs.ExecuteCommandRequest{
		Cluster: "c", Task: f.twoContainersClusterless, Container: "web", Command: `sh -c 'echo hi; exit 7'`, Interactive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &ecs.ExecuteCommandResponse{
		ClusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/c", TaskArn: f.twoContainers,
		ContainerArn: out.ContainerArn, ContainerName: "web", Interactive: true,
		Session: &ecs.Session{SessionId: "s1", StreamUrl: "http://h/exec/v1/sessions/s1", TokenValue: "bxt_1"},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("ExecuteCommand (-want +got):\n%s", diff)
	}
	if out.ContainerArn == "" {
		t.Errorf("containerArn is empty")
	}
	wantOpened := []agent.ExecSession{{TaskArn: f.twoContainers, Container: "web", Command: []string{"sh", "-c", "echo hi; exit 7"}}}
	if diff := cmp.Diff(wantOpened, f.exec.opened); diff != "" {
		t.Errorf("sessions opened (-want +got):\n%s", diff)
	}
	if got, want := f.exec.where, []string{"c/" + f.instance}; !cmp.Equal(got, want) {
		t.Errorf("opened on %v, want %v", got, want)
	}

	// The only container needs no name; an ARN works.
	out, err = f.s.ExecuteCommand(bg, &ecs.ExecuteCommandRequest{Cluster: "c", Task: f.single, Command: "ls", Interactive: true})
	if err != nil || out.ContainerName != "app" {
		t.Errorf("ExecuteCommand without a container name = %+v, %v; want container app", out, err)
	}
}

func TestExecuteCommandRefusals(t *testing.T) {
	f := newExecFixture(t)
	req := func(mod func(r *ecs.ExecuteCommandRequest)) *ecs.ExecuteCommandRequest {
		r := &ecs.ExecuteCommandRequest{Cluster: "c", Task: f.twoContainers, Container: "web", Command: "ls", Interactive: true}
		mod(r)
		return r
	}
	tests := []struct {
		name string
		in   *ecs.ExecuteCommandRequest
		code string
	}{
		{"not interactive", req(func(r *ecs.ExecuteCommandRequest) { r.Interactive = false }), ecs.ErrInvalidParameter},
		{"empty command", req(func(r *ecs.ExecuteCommandRequest) { r.Command = "  " }), ecs.ErrInvalidParameter},
		{"bad quoting", req(func(r *ecs.ExecuteCommandRequest) { r.Command = `sh -c 'echo` }), ecs.ErrInvalidParameter},
		{"no cluster", req(func(r *ecs.ExecuteCommandRequest) { r.Cluster = "nope" }), ecs.ErrClusterNotFound},
		{"unknown task", req(func(r *ecs.ExecuteCommandRequest) { r.Task = "0123456789abcdef0123456789abcdef" }), ecs.ErrInvalidParameter},
		{"bad task id", req(func(r *ecs.ExecuteCommandRequest) { r.Task = "a/b" }), ecs.ErrInvalidParameter},
		{"task not running", req(func(r *ecs.ExecuteCommandRequest) { r.Task, r.Container = f.pending, "" }), ecs.ErrInvalidParameter},
		{"container needed", req(func(r *ecs.ExecuteCommandRequest) { r.Container = "" }), ecs.ErrInvalidParameter},
		{"unknown container", req(func(r *ecs.ExecuteCommandRequest) { r.Container = "db" }), ecs.ErrInvalidParameter},
		{"container stopped", req(func(r *ecs.ExecuteCommandRequest) { r.Container = "init" }), ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.ExecuteCommand(bg, tt.in)
			wantCode(t, err, tt.code)
		})
	}
	if len(f.exec.opened) != 0 {
		t.Errorf("sessions opened for refused requests: %v", f.exec.opened)
	}
}

func TestExecuteCommandAgentNotConnected(t *testing.T) {
	f := newExecFixture(t)
	if err := f.s.SetAgentConnected(bg, "c", f.instance, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.ExecuteCommand(bg, &ecs.ExecuteCommandRequest{Cluster: "c", Task: f.single, Command: "ls", Interactive: true})
	wantCode(t, err, ecs.ErrTargetNotConnected)
}

func TestExecuteCommandDisabled(t *testing.T) {
	f := newExecFixture(t)
	f.s.exec = nil
	_, err := f.s.ExecuteCommand(bg, &ecs.ExecuteCommandRequest{Cluster: "c", Task: f.single, Command: "ls", Interactive: true})
	wantCode(t, err, ecs.ErrUnsupportedFeature)
}
