package ecsapi

import (
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

// STOPPED tasks stay describable until the retention has passed, then the
// sweep deletes them; tasks not STOPPED are never swept.
func TestSweepStoppedTasksKeepsThemForTheRetention(t *testing.T) {
	s, clk := newTestService(t)
	reg, err := s.RegisterAgent(bg, &agent.RegisterRequest{Cluster: "c", CPU: 1024, Memory: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](16)}}}); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		out, err := s.RunTask(bg, &ecs.RunTaskRequest{Cluster: "c", TaskDefinition: "web"})
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("run task: %+v %v", out, err)
		}
		return out.Tasks[0].TaskArn
	}
	stopped, running := run(), run()
	if _, err := s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "c", InstanceID: reg.InstanceID, Tasks: []agent.TaskStatus{
		{TaskArn: stopped, LastStatus: "STOPPED", StoppedAt: ecs.NewTime(clk.Now())},
		{TaskArn: running, LastStatus: "RUNNING", StartedAt: ecs.NewTime(clk.Now())},
	}}); err != nil {
		t.Fatal(err)
	}
	describe := func(arn string) bool {
		t.Helper()
		out, err := s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Cluster: "c", Tasks: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Tasks) == 1
	}
	const retention = time.Hour
	sweep := func() int {
		t.Helper()
		n, err := s.SweepStoppedTasks(bg, clk.Now().Add(-retention).Unix())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	clk.Advance(retention - time.Minute)
	if n := sweep(); n != 0 || !describe(stopped) {
		t.Fatalf("before the retention: swept %d, describable %v; want 0, true", n, describe(stopped))
	}
	clk.Advance(2 * time.Minute)
	if n := sweep(); n != 1 || describe(stopped) {
		t.Fatalf("after the retention: swept %d, describable %v; want 1, false", n, describe(stopped))
	}
	if !describe(running) {
		t.Fatal("the running task was swept")
	}
}
