package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

const arnBase = "arn:aws:ecs:us-east-1:000000000000:"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) *time.Time { t := t0.Add(time.Duration(sec) * time.Second); return &t }

// fixture is a cluster in the middle of a rollout of web:5 over web:4,
// with a one-off task beside it.
func fixture() ([]types.Service, []types.Task, []types.ContainerInstance) {
	svc := types.Service{
		ServiceName: aws.String("web"), ServiceArn: aws.String(arnBase + "service/default/web"), Status: aws.String("ACTIVE"),
		DesiredCount: 4, RunningCount: 5, PendingCount: 1, TaskDefinition: aws.String(arnBase + "task-definition/web:5"),
		Deployments: []types.Deployment{
			{Id: aws.String("ecs-svc/2"), Status: aws.String("PRIMARY"), TaskDefinition: aws.String(arnBase + "task-definition/web:5"),
				DesiredCount: 4, RunningCount: 3, PendingCount: 1, RolloutState: types.DeploymentRolloutStateInProgress, CreatedAt: at(60)},
			{Id: aws.String("ecs-svc/1"), Status: aws.String("ACTIVE"), TaskDefinition: aws.String(arnBase + "task-definition/web:4"),
				DesiredCount: 0, RunningCount: 2, RolloutState: types.DeploymentRolloutStateCompleted, CreatedAt: at(0)},
		},
	}
	worker := types.Service{
		ServiceName: aws.String("worker"), ServiceArn: aws.String(arnBase + "service/default/worker"), Status: aws.String("ACTIVE"),
		DesiredCount: 1, RunningCount: 1, TaskDefinition: aws.String(arnBase + "task-definition/worker:2"),
		Deployments: []types.Deployment{{Id: aws.String("ecs-svc/3"), Status: aws.String("PRIMARY"), TaskDefinition: aws.String(arnBase + "task-definition/worker:2"),
			DesiredCount: 1, RunningCount: 1, RolloutState: types.DeploymentRolloutStateCompleted, CreatedAt: at(10)}},
	}
	ci := arnBase + "container-instance/default/"
	tasks := []types.Task{
		{TaskArn: aws.String(arnBase + "task/default/aaaa1111"), Group: aws.String("service:web"), TaskDefinitionArn: aws.String(arnBase + "task-definition/web:5"),
			LastStatus: aws.String("RUNNING"), DesiredStatus: aws.String("RUNNING"), HealthStatus: types.HealthStatusHealthy,
			ContainerInstanceArn: aws.String(ci + "i-1"), StartedAt: at(70), StartedBy: aws.String("ecs-svc/2"),
			Containers: []types.Container{{Name: aws.String("web"), LastStatus: aws.String("RUNNING"), HealthStatus: types.HealthStatusHealthy,
				NetworkBindings: []types.NetworkBinding{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(32768), Protocol: types.TransportProtocolTcp}}}}},
		{TaskArn: aws.String(arnBase + "task/default/bbbb2222"), Group: aws.String("service:web"), TaskDefinitionArn: aws.String(arnBase + "task-definition/web:5"),
			LastStatus: aws.String("PENDING"), DesiredStatus: aws.String("RUNNING"), HealthStatus: types.HealthStatusUnknown,
			ContainerInstanceArn: aws.String(ci + "i-2"), StartedBy: aws.String("ecs-svc/2"),
			Containers: []types.Container{{Name: aws.String("web"), LastStatus: aws.String("PENDING")}}},
		{TaskArn: aws.String(arnBase + "task/default/cccc3333"), Group: aws.String("family:migrate"), TaskDefinitionArn: aws.String(arnBase + "task-definition/migrate:1"),
			LastStatus: aws.String("STOPPED"), DesiredStatus: aws.String("STOPPED"), ContainerInstanceArn: aws.String(ci + "i-1"),
			StartedAt: at(5), StoppedReason: aws.String("Essential container in task exited"),
			Containers: []types.Container{{Name: aws.String("migrate"), LastStatus: aws.String("STOPPED"), ExitCode: aws.Int32(3)}}},
	}
	instances := []types.ContainerInstance{
		{ContainerInstanceArn: aws.String(ci + "i-1"), Ec2InstanceId: aws.String("host-a"), Status: aws.String("ACTIVE"), AgentConnected: true,
			RunningTasksCount: 3, PendingTasksCount: 0,
			RegisteredResources: []types.Resource{{Name: aws.String("CPU"), IntegerValue: 2048}, {Name: aws.String("MEMORY"), IntegerValue: 4096}},
			RemainingResources:  []types.Resource{{Name: aws.String("CPU"), IntegerValue: 1024}, {Name: aws.String("MEMORY"), IntegerValue: 3072}},
			Attributes:          []types.Attribute{{Name: aws.String("ecs.availability-zone"), Value: aws.String("zone-a")}, {Name: aws.String("berth.runtime"), Value: aws.String("process")}}},
		{ContainerInstanceArn: aws.String(ci + "i-2"), Ec2InstanceId: aws.String("host-b"), Status: aws.String("DRAINING"), AgentConnected: false,
			RunningTasksCount: 0, PendingTasksCount: 1,
			RegisteredResources: []types.Resource{{Name: aws.String("CPU"), IntegerValue: 1024}, {Name: aws.String("MEMORY"), IntegerValue: 1024}},
			RemainingResources:  []types.Resource{{Name: aws.String("CPU"), IntegerValue: 1024}, {Name: aws.String("MEMORY"), IntegerValue: 896}},
			Attributes:          []types.Attribute{{Name: aws.String("ecs.availability-zone"), Value: aws.String("zone-b")}, {Name: aws.String("berth.runtime"), Value: aws.String("docker")}}},
	}
	return []types.Service{svc, worker}, tasks, instances
}

func fixturePS() PS {
	svcs, tasks, _ := fixture()
	hosts := map[string]string{arnBase + "container-instance/default/i-1": "host-a", arnBase + "container-instance/default/i-2": "host-b"}
	ps := PS{}
	for _, s := range svcs {
		ps.Services = append(ps.Services, ServiceOf(s))
	}
	for _, t := range tasks {
		ps.Tasks = append(ps.Tasks, TaskOf(t, hosts))
	}
	return ps
}

func fixtureInstances() Instances {
	_, _, cis := fixture()
	var out Instances
	for _, ci := range cis {
		out.Instances = append(out.Instances, InstanceOf(ci))
	}
	return out
}

func fixtureEvents() Events {
	return Events{Events: EventsOf([]types.ServiceEvent{
		{Id: aws.String("e2"), CreatedAt: at(90), Message: aws.String("(service web) has reached a steady state.")},
		{Id: aws.String("e1"), CreatedAt: at(61), Message: aws.String("(service web) has started 1 tasks: (task aaaa1111).")},
	})}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); go test -update rewrites it if the change is meant:\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"ps.json", func(b *bytes.Buffer) error { return JSON(b, fixturePS()) }},
		{"ps.txt", func(b *bytes.Buffer) error { return PSTable(b, fixturePS(), Style{}) }},
		{"ps-color.txt", func(b *bytes.Buffer) error { return PSTable(b, fixturePS(), Style{Color: true}) }},
		{"ps-empty.txt", func(b *bytes.Buffer) error { return PSTable(b, PS{}, Style{}) }},
		{"instances.json", func(b *bytes.Buffer) error { return JSON(b, fixtureInstances()) }},
		{"instances.txt", func(b *bytes.Buffer) error { return InstancesTable(b, fixtureInstances(), Style{}) }},
		{"events.json", func(b *bytes.Buffer) error { return JSON(b, fixtureEvents()) }},
		{"events.txt", func(b *bytes.Buffer) error {
			for _, e := range fixtureEvents().Events {
				b.WriteString(EventLine(e, time.UTC, Style{}) + "\n")
			}
			return nil
		}},
		{"logline.jsonl", func(b *bytes.Buffer) error {
			return JSONLine(b, LogLine{Timestamp: Time(at(3)), Task: "aaaa1111", Container: "web", Message: "listening on :8080"})
		}},
		{"result.json", func(b *bytes.Buffer) error {
			return JSON(b, Result{Service: "web", TaskDefinition: "web:5", Deployment: "ecs-svc/2", Outcome: "ROLLED_BACK",
				Reason: "ECS deployment circuit breaker: tasks failed to start.; rolled back to web:4", ExitCode: 2})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestTableColorKeepsAlignment: colour escapes wrap padded cells, so the
// columns line up as they do without colour.
func TestTableColorKeepsAlignment(t *testing.T) {
	var plain, color bytes.Buffer
	if err := PSTable(&plain, fixturePS(), Style{}); err != nil {
		t.Fatal(err)
	}
	if err := PSTable(&color, fixturePS(), Style{Color: true}); err != nil {
		t.Fatal(err)
	}
	stripped := ansi.ReplaceAll(color.Bytes(), nil)
	if diff := cmp.Diff(plain.String(), string(stripped)); diff != "" {
		t.Errorf("coloured table without its escapes differs from the plain one (-plain +color):\n%s", diff)
	}
	if bytes.Equal(plain.Bytes(), color.Bytes()) {
		t.Error("coloured table has no colour")
	}
}

func TestTaskDefName(t *testing.T) {
	for in, want := range map[string]string{
		arnBase + "task-definition/web:5": "web:5",
		"web:5":                           "web:5",
		"":                                "",
	} {
		if got := TaskDefName(in); got != want {
			t.Errorf("TaskDefName(%q) = %q, want %q", in, got, want)
		}
	}
}
