package ecsapi

import (
	"path"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

func TestImagePins(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 4096, 8192)
	inst := path.Base(ci.ContainerInstanceArn)
	def := webDef("web", 256, 512)
	def.ContainerDefinitions[0].Image = "registry.local/web:live"
	def.ContainerDefinitions = append(def.ContainerDefinitions, ecs.ContainerDefinition{Name: "sidecar", Image: "process:///bin/true", Memory: ptr(int32(16))})
	dep := f.service("web", f.taskDef(def), 4)

	// Unresolved: one task goes first.
	first, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 4)
	if err != nil || len(first) != 1 {
		t.Fatalf("first launch: %d tasks, %v; want 1 (resolving the tag)", len(first), err)
	}
	if more, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 3); err != nil || len(more) != 0 {
		t.Fatalf("while resolving: %d tasks, %v; want none", len(more), err)
	}
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: inst, Tasks: []agent.TaskStatus{{
		TaskArn: first[0].TaskArn, LastStatus: "PENDING",
		Containers: []agent.ContainerStatus{{Name: "web", ImageDigest: digest}, {Name: "sidecar", ImageDigest: "sha256:2222"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	// Resolved: the rest launch at once, pinned; the host binary is not.
	rest, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 3)
	if err != nil || len(rest) != 3 {
		t.Fatalf("after resolution: %d tasks, %v; want 3", len(rest), err)
	}
	for _, tk := range rest {
		if got := tk.Containers[0].ImageDigest; got != digest {
			t.Errorf("task %s web: imageDigest %q, want %q", tk.TaskArn, got, digest)
		}
		if got := tk.Containers[1].ImageDigest; got != "" {
			t.Errorf("task %s sidecar: imageDigest %q, want none (process:// is not pinned)", tk.TaskArn, got)
		}
	}
	// A later report of another digest (the tag moved) changes nothing.
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: inst, Tasks: []agent.TaskStatus{{
		TaskArn: rest[0].TaskArn, LastStatus: "PENDING",
		Containers: []agent.ContainerStatus{{Name: "web", ImageDigest: "sha256:9999"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	f.stopAll(first[0].TaskArn)
	again, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if err != nil || len(again) != 1 || again[0].Containers[0].ImageDigest != digest {
		t.Fatalf("relaunch: %+v, %v; want one task on %s", again, err, digest)
	}

	// A new deployment resolves again: the first task goes alone.
	out, err := f.s.UpdateService(bg, &ecs.UpdateServiceRequest{Service: "web", ForceNewDeployment: true})
	if err != nil {
		t.Fatal(err)
	}
	dep2 := out.Service.Deployments[0].Id
	if next, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep2, 4); err != nil || len(next) != 1 || next[0].Containers[0].ImageDigest != "" {
		t.Fatalf("new deployment: %+v, %v; want one unpinned task", next, err)
	}
}

// stopAll reports the tasks STOPPED by their agent.
func (f *taskFixture) stopAll(arns ...string) {
	f.t.Helper()
	for _, arn := range arns {
		tk := f.task(arn)
		if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: path.Base(tk.ContainerInstanceArn),
			Tasks: []agent.TaskStatus{{TaskArn: arn, LastStatus: "STOPPED", StoppedAt: ecs.NewTime(f.clk.Now())}}}); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestInheritImagePins(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 4096, 8192)
	def := webDef("web", 256, 512)
	def.ContainerDefinitions[0].Image = "registry.local/web:live"
	dep := f.service("web", f.taskDef(def), 1)
	first, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if err != nil || len(first) != 1 {
		t.Fatal(err)
	}
	const digest = "sha256:1111"
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: path.Base(ci.ContainerInstanceArn), Tasks: []agent.TaskStatus{{
		TaskArn: first[0].TaskArn, LastStatus: "RUNNING", Containers: []agent.ContainerStatus{{Name: "web", ImageDigest: digest}},
	}}}); err != nil {
		t.Fatal(err)
	}
	out, err := f.s.UpdateService(bg, &ecs.UpdateServiceRequest{Service: "web", ForceNewDeployment: true})
	if err != nil {
		t.Fatal(err)
	}
	dep2 := out.Service.Deployments[0].Id
	// As the controller's rollback does, in the service record's update.
	inherit := func(from, to string) error {
		return f.s.UpdateServiceRecordWithPins(bg, "default", "web", func(_ *ecs.Service, pins map[string]map[string]string) bool {
			return InheritPins(pins, from, to)
		})
	}
	if err := inherit(dep, dep2); err != nil {
		t.Fatal(err)
	}
	tasks, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep2, 2)
	if err != nil || len(tasks) != 2 || tasks[0].Containers[0].ImageDigest != digest {
		t.Fatalf("after inheriting: %+v, %v; want 2 tasks on %s at once", tasks, err, digest)
	}
	// Unknown source: nothing inherited, nothing broken.
	if err := inherit("ecs-svc/gone", dep2); err != nil {
		t.Fatal(err)
	}
}

func TestImagePinsWithoutDigest(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 4096, 8192)
	def := webDef("web", 256, 512)
	def.ContainerDefinitions[0].Image = "registry.local/web:live"
	dep := f.service("web", f.taskDef(def), 3)
	first, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 3)
	if err != nil || len(first) != 1 {
		t.Fatal(err)
	}
	// Stuck resolving for longer than resolveTimeout: one more may try.
	f.clk.Advance(resolveTimeout + time.Second)
	second, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 2)
	if err != nil || len(second) != 1 {
		t.Fatalf("after resolveTimeout: %d tasks, %v; want 1 more resolver", len(second), err)
	}
	// The first runs without a digest: the rest launch by tag.
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: path.Base(ci.ContainerInstanceArn), Tasks: []agent.TaskStatus{{
		TaskArn: first[0].TaskArn, LastStatus: "RUNNING", StartedAt: ecs.NewTime(f.clk.Now()),
	}}}); err != nil {
		t.Fatal(err)
	}
	rest, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if err != nil || len(rest) != 1 || rest[0].Containers[0].ImageDigest != "" {
		t.Fatalf("after a RUNNING task without a digest: %+v, %v; want one unpinned task", rest, err)
	}
}

func TestImagePinsDaemonTriesEachInstance(t *testing.T) {
	f := newTaskFixture(t)
	small := f.instance("default", 128, 128)
	big := f.instance("default", 4096, 8192)
	def := webDef("agent", 256, 512)
	def.ContainerDefinitions[0].Image = "registry.local/agent:live"
	dep := f.service("agent", f.taskDef(def), 0, func(in *ecs.CreateServiceRequest) {
		in.SchedulingStrategy = ecs.SchedulingStrategyDAEMON
		in.DesiredCount = nil
	})
	tasks, failures, err := f.s.LaunchDaemonTasks(bg, "default", "agent", dep, []string{path.Base(small.ContainerInstanceArn), path.Base(big.ContainerInstanceArn)})
	if err != nil || len(tasks) != 1 || tasks[0].ContainerInstanceArn != big.ContainerInstanceArn {
		t.Fatalf("got %+v (failures %+v), %v; want one resolving task, on the instance with room", tasks, failures, err)
	}
}
