package ecsapi

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Golden files are rewritten with `go test -update`. Other test files may
// define that flag too, so it is defined only if absent and read by name.
var _ = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	return true
}()

func goldenUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares v, as indented JSON with random IDs numbered in order
// of appearance, with testdata/name.golden.json.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(normalizeIDs(b), '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if goldenUpdating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run with -update)", path, err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// normalizeIDs replaces UUIDs and 32-hex-digit IDs with <id1>, <id2>, ...
func normalizeIDs(b []byte) []byte {
	re := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b`)
	seen := map[string][]byte{}
	return re.ReplaceAllFunc(b, func(m []byte) []byte {
		if r, ok := seen[string(m)]; ok {
			return r
		}
		r := fmt.Appendf(nil, "<id%d>", len(seen)+1)
		seen[string(m)] = r
		return r
	})
}

func TestRunTaskGolden(t *testing.T) {
	f := newTaskFixture(t)
	if _, err := f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{
		TotalResources:           totalResources(2048, 3928),
		InstanceIdentityDocument: `{"instanceId":"i-0a1b2c3d4e5f60718","availabilityZone":"us-east-1b","instanceType":"t3.medium"}`,
		VersionInfo:              &ecs.VersionInfo{AgentVersion: "1.89.0", AgentHash: "abc123", DockerVersion: "DockerVersion: 27.3.1"},
		Tags:                     []ecs.Tag{{Key: "env", Value: "test"}},
	}); err != nil {
		t.Fatal(err)
	}
	td := f.taskDef(ecs.TaskDefinition{Family: "shop", ContainerDefinitions: []ecs.ContainerDefinition{
		{Name: "web", Image: "nginx:1.27", Cpu: 256, Memory: ptr(int32(512)),
			PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(80)), HostPort: ptr(int32(8080)), Protocol: "tcp"}}},
		{Name: "log", Image: "fluent-bit:3", Cpu: 64, MemoryReservation: ptr(int32(64))},
	}})
	run, err := f.s.RunTask(bg, &ecs.RunTaskRequest{
		TaskDefinition: td, StartedBy: "ci/job-7", EnableExecuteCommand: true,
		Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web", Command: []string{"nginx", "-g", "daemon off;"}}}},
		Tags:      []ecs.Tag{{Key: "owner", Value: "shop"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "run_task", run)

	desc, err := f.s.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesRequest{
		ContainerInstances: []string{run.Tasks[0].ContainerInstanceArn}, Include: []string{"TAGS"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "describe_container_instances", desc)
}

func TestRunTask(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 2048, 4096, ecs.Attribute{Name: "ecs.availability-zone", Value: "us-east-1c"})
	td := f.taskDef(webDef("web", 256, 512, 8080))
	out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{
		TaskDefinition: td, Count: ptr(int32(2)), StartedBy: "me", Tags: []ecs.Tag{{Key: "a", Value: "b"}},
		EnableExecuteCommand: true,
		Overrides:            &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web", Cpu: ptr(int32(128))}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Both copies need host port 8080, so only one fits.
	if len(out.Tasks) != 1 || len(out.Failures) != 1 {
		t.Fatalf("got %d tasks, %d failures, want 1 and 1: %+v", len(out.Tasks), len(out.Failures), out)
	}
	if got, want := out.Failures[0], (ecs.Failure{Arn: ci.ContainerInstanceArn, Reason: "RESOURCE:PORTS"}); got.Arn != want.Arn || got.Reason != want.Reason || got.Detail == "" {
		t.Errorf("got failure %+v, want %+v with a detail", got, want)
	}
	tk := out.Tasks[0]
	id := taskIDOf(&tk)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || tk.TaskArn != f.s.taskARN("default", id) {
		t.Errorf("got task ARN %s, want task/default/<32 hex>", tk.TaskArn)
	}
	want := ecs.Task{
		TaskArn:              tk.TaskArn,
		ClusterArn:           f.s.clusterARN("default"),
		TaskDefinitionArn:    f.s.taskDefARN("web", 1),
		ContainerInstanceArn: ci.ContainerInstanceArn,
		Containers: []ecs.Container{{
			ContainerArn: tk.Containers[0].ContainerArn, TaskArn: tk.TaskArn, Name: "web", Image: testImage,
			LastStatus: "PENDING", HealthStatus: "UNKNOWN", NetworkBindings: []ecs.NetworkBinding{}, Cpu: "128", Memory: "512",
		}},
		Overrides: &ecs.TaskOverride{
			ContainerOverrides:            []ecs.ContainerOverride{{Name: "web", Cpu: ptr(int32(128))}},
			InferenceAcceleratorOverrides: []ecs.InferenceAcceleratorOverride{},
		},
		LastStatus:           "PROVISIONING",
		DesiredStatus:        "RUNNING",
		HealthStatus:         "UNKNOWN",
		Cpu:                  "128",
		Memory:               "512",
		CreatedAt:            ecs.NewTime(f.clk.Now()),
		Group:                "family:web",
		StartedBy:            "me",
		LaunchType:           "EC2",
		Version:              1,
		Tags:                 []ecs.Tag{{Key: "a", Value: "b"}},
		EnableExecuteCommand: true,
		Attachments:          []ecs.Attachment{},
		AvailabilityZone:     "us-east-1c",
	}
	if diff := cmp.Diff(want, tk); diff != "" {
		t.Errorf("task (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(tk.Containers[0].ContainerArn, "arn:aws:ecs:us-east-1:123456789012:container/default/"+id+"/") {
		t.Errorf("got container ARN %s, want container/default/%s/<uuid>", tk.Containers[0].ContainerArn, id)
	}
	// The stored record is what RunTask returned.
	got, err := f.s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Tasks: []string{tk.TaskArn}, Include: []string{"TAGS"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Tasks[0]); diff != "" {
		t.Errorf("stored task (-want +got):\n%s", diff)
	}
	// The cluster counts it as pending.
	cl, err := f.s.DescribeClusters(bg, &ecs.DescribeClustersRequest{})
	if err != nil || cl.Clusters[0].PendingTasksCount != 1 || cl.Clusters[0].RunningTasksCount != 0 {
		t.Errorf("cluster %+v (%v), want 1 pending and 0 running", cl, err)
	}
}

func TestRunTaskReservationIsVisible(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 1024, 2048)
	td := f.taskDef(ecs.TaskDefinition{Family: "mix", ContainerDefinitions: []ecs.ContainerDefinition{
		// memoryReservation is what ECS reserves when both are set.
		{Name: "a", Image: "a", Cpu: 100, Memory: ptr(int32(512)), MemoryReservation: ptr(int32(128)),
			PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(80)), HostPort: ptr(int32(8080))}, {ContainerPort: ptr(int32(81)), HostPort: ptr(int32(0))}}},
		{Name: "b", Image: "b", Cpu: 50, Memory: ptr(int32(256)),
			PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(53)), HostPort: ptr(int32(5353)), Protocol: "udp"}}},
	}})
	if _, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td}); err != nil {
		t.Fatal(err)
	}
	got := f.describeInstance("default", ci.ContainerInstanceArn)
	want := []ecs.Resource{
		{Name: "CPU", Type: "INTEGER", IntegerValue: 1024 - 150},
		{Name: "MEMORY", Type: "INTEGER", IntegerValue: 2048 - 128 - 256},
		{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "2375", "2376", "51678", "51679", "8080"}},
		{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{"5353"}},
	}
	if diff := cmp.Diff(want, got.RemainingResources); diff != "" {
		t.Errorf("remainingResources (-want +got):\n%s", diff)
	}
	if got.PendingTasksCount != 1 || got.RunningTasksCount != 0 || got.Version != 2 {
		t.Errorf("got pending %d running %d version %d, want 1, 0, 2", got.PendingTasksCount, got.RunningTasksCount, got.Version)
	}
	if diff := cmp.Diff(ci.RegisteredResources, got.RegisteredResources); diff != "" {
		t.Errorf("registeredResources changed (-before +after):\n%s", diff)
	}
}

func TestRunTaskSizes(t *testing.T) {
	tests := []struct {
		name      string
		td        ecs.TaskDefinition
		overrides *ecs.TaskOverride
		wantCPU   int32
		wantMem   int32
		wantPorts []string // beyond the reserved ones
	}{
		{"task-level sizes win", ecs.TaskDefinition{Family: "f", Cpu: "512", Memory: "1024",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i", Cpu: 10, Memory: ptr(int32(10))}}}, nil, 512, 1024, nil},
		{"vCPU and GB forms", ecs.TaskDefinition{Family: "f", Cpu: "0.5 vCPU", Memory: "1 GB",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i"}}}, nil, 512, 1024, nil},
		{"task-level overrides", ecs.TaskDefinition{Family: "f", Cpu: "512", Memory: "1024",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i"}}}, &ecs.TaskOverride{Cpu: "1 vcpu", Memory: "300"}, 1024, 300, nil},
		{"container memory overrides", ecs.TaskDefinition{Family: "f",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i", Cpu: 10, Memory: ptr(int32(100))}}},
			&ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "c", MemoryReservation: ptr(int32(50))}}}, 10, 50, nil},
		{"host mode reserves container ports", ecs.TaskDefinition{Family: "f", NetworkMode: "host",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i", Memory: ptr(int32(10)),
				PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(9000))}}}}}, nil, 0, 10, []string{"9000"}},
		{"bridge dynamic ports are not reserved", ecs.TaskDefinition{Family: "f", NetworkMode: "bridge",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: "c", Image: "i", Memory: ptr(int32(10)),
				PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(9000))}}}}}, nil, 0, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTaskFixture(t)
			ci := f.instance("default", 4096, 4096)
			out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: f.taskDef(tt.td), Overrides: tt.overrides})
			if err != nil || len(out.Tasks) != 1 {
				t.Fatalf("RunTask: %v %+v", err, out)
			}
			if tk := out.Tasks[0]; tk.Cpu != fmt.Sprint(tt.wantCPU) || tk.Memory != fmt.Sprint(tt.wantMem) {
				t.Errorf("got task cpu %s memory %s, want %d and %d", tk.Cpu, tk.Memory, tt.wantCPU, tt.wantMem)
			}
			cpu, mem, ports := remaining(f.describeInstance("default", ci.ContainerInstanceArn))
			wantPorts := append(defaultReservedPorts(), tt.wantPorts...)
			if cpu != 4096-tt.wantCPU || mem != 4096-tt.wantMem || !cmp.Equal(ports, wantPorts) {
				t.Errorf("got remaining cpu %d mem %d ports %v, want %d %d %v", cpu, mem, ports, 4096-tt.wantCPU, 4096-tt.wantMem, wantPorts)
			}
		})
	}
}

func TestRunTaskPlacementFailures(t *testing.T) {
	tests := []struct {
		name       string
		instances  [][2]int32 // cpu, memory of each instance
		td         ecs.TaskDefinition
		count      int32
		wantTasks  int
		wantReason string
		wantOn     int // index of the instance the failure names; -1: the first in ID order
	}{
		{"cpu", [][2]int32{{100, 4096}}, webDef("w", 200, 10), 1, 0, "RESOURCE:CPU", 0},
		{"memory", [][2]int32{{1024, 100}}, webDef("w", 10, 200), 1, 0, "RESOURCE:MEMORY", 0},
		{"ports", [][2]int32{{1024, 1024}}, webDef("w", 10, 10, 8080), 2, 1, "RESOURCE:PORTS", 0},
		{"reserved port", [][2]int32{{1024, 1024}}, webDef("w", 10, 10, 22), 1, 0, "RESOURCE:PORTS", 0},
		{"closest instance is named", [][2]int32{{100, 100}, {1024, 100}}, webDef("w", 500, 500), 1, 0, "RESOURCE:MEMORY", 1},
		{"fills what fits", [][2]int32{{250, 4096}, {250, 4096}}, webDef("w", 100, 10), 5, 4, "RESOURCE:CPU", -1},
		{"udp ports", [][2]int32{{1024, 1024}}, ecs.TaskDefinition{Family: "u", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "u", Image: "u", Memory: ptr(int32(10)),
			PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(53)), HostPort: ptr(int32(53)), Protocol: "udp"}}}}}, 2, 1, "RESOURCE:PORTS_UDP", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTaskFixture(t)
			var insts []*ecs.ContainerInstance
			for _, r := range tt.instances {
				insts = append(insts, f.instance("default", r[0], r[1]))
			}
			out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: f.taskDef(tt.td), Count: ptr(tt.count)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Tasks) != tt.wantTasks || len(out.Failures) != int(tt.count)-tt.wantTasks {
				t.Fatalf("got %d tasks and %d failures, want %d and %d", len(out.Tasks), len(out.Failures), tt.wantTasks, int(tt.count)-tt.wantTasks)
			}
			on := ""
			if tt.wantOn >= 0 {
				on = insts[tt.wantOn].ContainerInstanceArn
			} else {
				for _, ci := range insts {
					if on == "" || ci.ContainerInstanceArn < on {
						on = ci.ContainerInstanceArn
					}
				}
			}
			for _, fl := range out.Failures {
				if fl.Arn != on || fl.Reason != tt.wantReason || fl.Detail == "" {
					t.Errorf("got failure %+v, want arn %s, reason %s and a detail", fl, on, tt.wantReason)
				}
			}
		})
	}

	t.Run("no container instances", func(t *testing.T) {
		f := newTaskFixture(t)
		_, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: f.taskDef(webDef("w", 1, 1))})
		wantCode(t, err, ecs.ErrInvalidParameter)
		if msg := err.(*awserr.Error).Message; msg != "No Container Instances were found in your cluster." {
			t.Errorf("got message %q, want ECS's", msg)
		}
	})
	t.Run("agent disconnected", func(t *testing.T) {
		f := newTaskFixture(t)
		ci := f.instance("default", 1024, 1024)
		f.setAgentConnected("default", ci.ContainerInstanceArn, false)
		out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: f.taskDef(webDef("w", 1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		if want := []ecs.Failure{{Arn: ci.ContainerInstanceArn, Reason: "AGENT"}}; !cmp.Equal(out.Failures, want) || len(out.Tasks) != 0 {
			t.Errorf("got %+v, want no tasks and failures %+v", out, want)
		}
	})
}

func TestRunTaskResolvesTaskDefinition(t *testing.T) {
	f := newTaskFixture(t)
	f.instance("default", 4096, 4096)
	f.taskDef(webDef("web", 1, 1))                     // web:1 ACTIVE
	f.taskDef(webDef("web", 2, 2))                     // web:2 ACTIVE
	inactive := webDef("web", 3, 3)                    //
	inactive.Status = ecs.TaskDefinitionStatusINACTIVE //
	f.taskDef(inactive)                                // web:3 INACTIVE
	f.taskDef(ecs.TaskDefinition{Family: "old", Status: "INACTIVE", ContainerDefinitions: webDef("old", 1, 1).ContainerDefinitions})

	tests := []struct {
		name, ref string
		wantArn   string
		code      string
	}{
		{"family is the latest ACTIVE revision", "web", f.s.taskDefARN("web", 2), ""},
		{"family and revision", "web:1", f.s.taskDefARN("web", 1), ""},
		{"ARN", f.s.taskDefARN("web", 1), f.s.taskDefARN("web", 1), ""},
		{"inactive revision", "web:3", "", ecs.ErrInvalidParameter},
		{"unknown revision", "web:9", "", ecs.ErrClient},
		{"unknown family", "nope", "", ecs.ErrClient},
		{"family without ACTIVE revisions", "old", "", ecs.ErrClient},
		{"malformed", "web:x", "", ecs.ErrInvalidParameter},
		{"empty", "", "", ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: tt.ref})
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Tasks[0].TaskDefinitionArn; got != tt.wantArn {
				t.Errorf("got %s, want %s", got, tt.wantArn)
			}
		})
	}
}

func TestRunTaskValidation(t *testing.T) {
	f := newTaskFixture(t)
	f.instance("default", 4096, 4096)
	td := f.taskDef(webDef("web", 1, 1))
	awsvpc := f.taskDef(ecs.TaskDefinition{Family: "vpc", NetworkMode: "awsvpc", ContainerDefinitions: webDef("vpc", 1, 1).ContainerDefinitions})
	netCfg := &ecs.NetworkConfiguration{AwsvpcConfiguration: &ecs.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}
	long := strings.Repeat("x", 8200)

	tests := []struct {
		name string
		in   ecs.RunTaskRequest
		code string
	}{
		{"count 0", ecs.RunTaskRequest{TaskDefinition: td, Count: ptr(int32(0))}, ecs.ErrInvalidParameter},
		{"count 11", ecs.RunTaskRequest{TaskDefinition: td, Count: ptr(int32(11))}, ecs.ErrInvalidParameter},
		{"launch type and strategy", ecs.RunTaskRequest{TaskDefinition: td, LaunchType: "EC2",
			CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 1}}}, ecs.ErrInvalidParameter},
		{"unknown launch type", ecs.RunTaskRequest{TaskDefinition: td, LaunchType: "LAMBDA"}, ecs.ErrInvalidParameter},
		{"managed instances launch type", ecs.RunTaskRequest{TaskDefinition: td, LaunchType: "MANAGED_INSTANCES"}, ecs.ErrInvalidParameter},
		{"strategy provider not in cluster", ecs.RunTaskRequest{TaskDefinition: td,
			CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 1}}}, ecs.ErrInvalidParameter},
		{"bad strategy weight", ecs.RunTaskRequest{TaskDefinition: td,
			CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 2000}}}, ecs.ErrInvalidParameter},
		{"startedBy too long", ecs.RunTaskRequest{TaskDefinition: td, StartedBy: strings.Repeat("s", 129)}, ecs.ErrInvalidParameter},
		{"group too long", ecs.RunTaskRequest{TaskDefinition: td, Group: strings.Repeat("g", 256)}, ecs.ErrInvalidParameter},
		{"client token too long", ecs.RunTaskRequest{TaskDefinition: td, ClientToken: strings.Repeat("c", 65)}, ecs.ErrInvalidParameter},
		{"reserved tag", ecs.RunTaskRequest{TaskDefinition: td, Tags: []ecs.Tag{{Key: "aws:x"}}}, ecs.ErrInvalidParameter},
		{"propagate SERVICE", ecs.RunTaskRequest{TaskDefinition: td, PropagateTags: "SERVICE"}, ecs.ErrInvalidParameter},
		{"propagate unknown", ecs.RunTaskRequest{TaskDefinition: td, PropagateTags: "ALL"}, ecs.ErrInvalidParameter},
		{"override of unknown container", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "db"}}}}, ecs.ErrInvalidParameter},
		{"override without name", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Cpu: ptr(int32(1))}}}}, ecs.ErrInvalidParameter},
		{"container overridden twice", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web"}, {Name: "web"}}}}, ecs.ErrInvalidParameter},
		{"memory below reservation", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web", Memory: ptr(int32(64)), MemoryReservation: ptr(int32(128))}}}}, ecs.ErrInvalidParameter},
		{"negative cpu override", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web", Cpu: ptr(int32(-1))}}}}, ecs.ErrInvalidParameter},
		{"bad task cpu override", ecs.RunTaskRequest{TaskDefinition: td, Overrides: &ecs.TaskOverride{Cpu: "lots"}}, ecs.ErrInvalidParameter},
		{"bad task memory override", ecs.RunTaskRequest{TaskDefinition: td, Overrides: &ecs.TaskOverride{Memory: "0"}}, ecs.ErrInvalidParameter},
		{"overrides too long", ecs.RunTaskRequest{TaskDefinition: td,
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "web", Command: []string{long}}}}}, ecs.ErrInvalidParameter},
		{"unknown constraint type", ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "sameHost"}}}, ecs.ErrInvalidParameter},
		{"memberOf without expression", ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf"}}}, ecs.ErrInvalidParameter},
		{"memberOf bad expression", ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "attribute:a =="}}}, ecs.ErrInvalidParameter},
		{"distinctInstance with expression", ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "distinctInstance", Expression: "x"}}}, ecs.ErrInvalidParameter},
		{"too many constraints", ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: slices.Repeat([]ecs.PlacementConstraint{{Type: "distinctInstance"}}, 11)}, ecs.ErrInvalidParameter},
		{"binpack on ports", ecs.RunTaskRequest{TaskDefinition: td, PlacementStrategy: []ecs.PlacementStrategy{{Type: "binpack", Field: "ports"}}}, ecs.ErrInvalidParameter},
		{"spread without field", ecs.RunTaskRequest{TaskDefinition: td, PlacementStrategy: []ecs.PlacementStrategy{{Type: "spread"}}}, ecs.ErrInvalidParameter},
		{"unknown strategy", ecs.RunTaskRequest{TaskDefinition: td, PlacementStrategy: []ecs.PlacementStrategy{{Type: "fancy"}}}, ecs.ErrInvalidParameter},
		{"too many strategies", ecs.RunTaskRequest{TaskDefinition: td, PlacementStrategy: slices.Repeat([]ecs.PlacementStrategy{{Type: "random"}}, 6)}, ecs.ErrInvalidParameter},
		{"awsvpc without network configuration", ecs.RunTaskRequest{TaskDefinition: awsvpc}, ecs.ErrInvalidParameter},
		{"network configuration on bridge", ecs.RunTaskRequest{TaskDefinition: td, NetworkConfiguration: netCfg}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.RunTaskRequest{TaskDefinition: td, Cluster: "nope"}, ecs.ErrClusterNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.RunTask(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}

	// And the valid counterparts of the placement and network rules.
	ok := []struct {
		name string
		in   ecs.RunTaskRequest
	}{
		{"constraints and strategies", ecs.RunTaskRequest{TaskDefinition: td,
			PlacementConstraints: []ecs.PlacementConstraint{{Type: "distinctInstance"}, {Type: "memberOf", Expression: "attribute:ecs.os-type == linux"}},
			PlacementStrategy:    []ecs.PlacementStrategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "binpack", Field: "memory"}, {Type: "random"}}}},
		{"awsvpc with network configuration", ecs.RunTaskRequest{TaskDefinition: awsvpc, NetworkConfiguration: netCfg}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if out, err := f.s.RunTask(bg, &tt.in); err != nil || len(out.Tasks) != 1 {
				t.Errorf("RunTask: %v, %+v; want one task", err, out)
			}
		})
	}
}

func TestRunTaskLaunchTypes(t *testing.T) {
	f := newTaskFixture(t)
	f.instance("default", 4096, 4096)
	td := f.taskDef(webDef("web", 1, 1), ecs.Tag{Key: "from", Value: "taskdef"}, ecs.Tag{Key: "x", Value: "td"})
	if _, err := f.s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{
		Cluster: "default", CapacityProviders: []string{"small", "big"},
		DefaultCapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "small", Weight: 1}, {CapacityProvider: "big", Weight: 3}},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		in                 ecs.RunTaskRequest
		wantLaunch, wantCP string
		wantTags           []ecs.Tag
	}{
		{"cluster default strategy", ecs.RunTaskRequest{}, "", "big", nil},
		{"given strategy with a base", ecs.RunTaskRequest{CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{
			{CapacityProvider: "big", Weight: 5}, {CapacityProvider: "small", Base: 1}}}, "", "small", nil},
		{"FARGATE is recorded", ecs.RunTaskRequest{LaunchType: "FARGATE"}, "FARGATE", "", nil},
		{"EXTERNAL", ecs.RunTaskRequest{LaunchType: "EXTERNAL"}, "EXTERNAL", "", nil},
		{"propagated tags", ecs.RunTaskRequest{LaunchType: "EC2", PropagateTags: "TASK_DEFINITION", Tags: []ecs.Tag{{Key: "x", Value: "run"}}},
			"EC2", "", []ecs.Tag{{Key: "from", Value: "taskdef"}, {Key: "x", Value: "run"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.TaskDefinition = td
			out, err := f.s.RunTask(bg, &tt.in)
			if err != nil || len(out.Tasks) != 1 {
				t.Fatalf("RunTask: %v %+v", err, out)
			}
			tk := out.Tasks[0]
			if tk.LaunchType != tt.wantLaunch || tk.CapacityProviderName != tt.wantCP {
				t.Errorf("got launchType %q capacityProvider %q, want %q %q", tk.LaunchType, tk.CapacityProviderName, tt.wantLaunch, tt.wantCP)
			}
			if diff := cmp.Diff(tt.wantTags, tk.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunTaskConcurrentNeverOvercommits runs many RunTask calls at once
// through two API instances over one store, so placements race both on
// s.mu and on the store's compare-and-swap.
func TestRunTaskConcurrentNeverOvercommits(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1000, 100000)
	b := f.instance("default", 500, 100000)
	td := f.taskDef(webDef("web", 100, 10))
	other := New(Config{Store: f.s.st, Region: "us-east-1", AccountID: "123456789012", Now: f.clk.Now})

	const callers = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed, failed, retryable := 0, 0, 0
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := f.s
			if i%2 == 1 {
				api = other
			}
			out, err := api.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td})
			mu.Lock()
			defer mu.Unlock()
			var e *awserr.Error
			switch {
			case err == nil:
				placed += len(out.Tasks)
				failed += len(out.Failures)
			case errors.As(err, &e) && e.Code == ecs.ErrUpdateInProgress:
				// Lost the compare-and-swap race too often: retryable, nothing placed.
				retryable++
			default:
				t.Errorf("RunTask: %v", err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d placed, %d failures, %d retryable errors", placed, failed, retryable)

	if placed != 15 {
		t.Errorf("placed %d tasks, want 15 (1500 CPU / 100)", placed)
	}
	for _, ci := range []*ecs.ContainerInstance{a, b} {
		got := f.describeInstance("default", ci.ContainerInstanceArn)
		cpu, _, _ := remaining(got)
		tasks, err := f.s.ListTasks(bg, &ecs.ListTasksRequest{ContainerInstance: ci.ContainerInstanceArn})
		if err != nil {
			t.Fatal(err)
		}
		n := int32(len(tasks.TaskArns))
		if cpu < 0 || cpu != resourceInt(got.RegisteredResources, "CPU")-100*n || got.PendingTasksCount != n {
			t.Errorf("instance %s: remaining cpu %d, pending %d with %d tasks on it: overcommitted or miscounted", instanceIDOf(ci), cpu, got.PendingTasksCount, n)
		}
	}
}

func TestStartTask(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 1024)
	small := f.instance("default", 50, 1024)
	draining := f.instance("default", 1024, 1024)
	away := f.instance("default", 1024, 1024)
	gone := f.instance("default", 1024, 1024)
	if _, err := f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{draining.ContainerInstanceArn}, Status: "DRAINING"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: gone.ContainerInstanceArn}); err != nil {
		t.Fatal(err)
	}
	f.setAgentConnected("default", away.ContainerInstanceArn, false)
	td := f.taskDef(webDef("web", 100, 100))

	out, err := f.s.StartTask(bg, &ecs.StartTaskRequest{
		TaskDefinition: td, Group: "batch", StartedBy: "cron",
		ContainerInstances: []string{a.ContainerInstanceArn, instanceIDOf(a), small.ContainerInstanceArn, draining.ContainerInstanceArn,
			away.ContainerInstanceArn, gone.ContainerInstanceArn, "feedface"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 2 {
		t.Fatalf("got %d tasks, want 2 (instance a twice)", len(out.Tasks))
	}
	for _, tk := range out.Tasks {
		if tk.ContainerInstanceArn != a.ContainerInstanceArn || tk.Group != "batch" || tk.StartedBy != "cron" || tk.LaunchType != "EC2" {
			t.Errorf("got task on %s group %s startedBy %s launchType %s, want a, batch, cron, EC2", tk.ContainerInstanceArn, tk.Group, tk.StartedBy, tk.LaunchType)
		}
	}
	wantFailures := []ecs.Failure{
		{Arn: small.ContainerInstanceArn, Reason: "RESOURCE:CPU"},
		{Arn: draining.ContainerInstanceArn, Reason: "DRAINING"},
		{Arn: away.ContainerInstanceArn, Reason: "AGENT"},
		{Arn: gone.ContainerInstanceArn, Reason: "MISSING"},
		{Arn: f.s.instanceARN("default", "feedface"), Reason: "MISSING"},
	}
	if diff := cmp.Diff(wantFailures, out.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	got := f.describeInstance("default", a.ContainerInstanceArn)
	if cpu, mem, _ := remaining(got); cpu != 1024-200 || mem != 1024-200 || got.PendingTasksCount != 2 {
		t.Errorf("instance a: remaining cpu %d mem %d pending %d, want 824, 824, 2", cpu, mem, got.PendingTasksCount)
	}

	eleven := slices.Repeat([]string{a.ContainerInstanceArn}, 11)
	errs := []struct {
		name string
		in   ecs.StartTaskRequest
		code string
	}{
		{"no instances", ecs.StartTaskRequest{TaskDefinition: td}, ecs.ErrInvalidParameter},
		{"too many instances", ecs.StartTaskRequest{TaskDefinition: td, ContainerInstances: eleven}, ecs.ErrInvalidParameter},
		{"unknown task definition", ecs.StartTaskRequest{TaskDefinition: "nope", ContainerInstances: []string{a.ContainerInstanceArn}}, ecs.ErrClient},
		{"bad override", ecs.StartTaskRequest{TaskDefinition: td, ContainerInstances: []string{a.ContainerInstanceArn},
			Overrides: &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{{Name: "db"}}}}, ecs.ErrInvalidParameter},
		{"startedBy too long", ecs.StartTaskRequest{TaskDefinition: td, ContainerInstances: []string{a.ContainerInstanceArn}, StartedBy: strings.Repeat("s", 129)}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.StartTaskRequest{Cluster: "nope", TaskDefinition: td, ContainerInstances: []string{a.ContainerInstanceArn}}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.StartTask(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestStopTask(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 1024, 1024)
	td := f.taskDef(webDef("web", 100, 100, 8080))
	run := func() ecs.Task {
		t.Helper()
		out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td})
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("RunTask: %v %+v", err, out)
		}
		return out.Tasks[0]
	}

	// With the agent connected the stop is only requested: the agent
	// finishes it, so lastStatus stays and the reservation is kept.
	tk := run()
	f.clk.Advance(time.Minute)
	out, err := f.s.StopTask(bg, &ecs.StopTaskRequest{Task: tk.TaskArn, Reason: "done"})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Task
	if got.DesiredStatus != "STOPPED" || got.LastStatus != "PROVISIONING" || got.StoppedReason != "done" ||
		got.StopCode != "UserInitiated" || got.Version != 2 || !got.StoppingAt.Equal(f.clk.Now()) || got.StoppedAt != nil {
		t.Errorf("got desired %s last %s reason %q code %s version %d stoppingAt %v stoppedAt %v; want STOPPED, PROVISIONING, done, UserInitiated, 2, now, nil",
			got.DesiredStatus, got.LastStatus, got.StoppedReason, got.StopCode, got.Version, got.StoppingAt, got.StoppedAt)
	}
	if cpu, _, ports := remaining(f.describeInstance("default", ci.ContainerInstanceArn)); cpu != 924 || !slices.Contains(ports, "8080") {
		t.Errorf("got remaining cpu %d ports %v, want the reservation kept (924, 8080)", cpu, ports)
	}
	// Stopping again changes nothing.
	f.clk.Advance(time.Minute)
	again, err := f.s.StopTask(bg, &ecs.StopTaskRequest{Task: taskIDOf(&tk), Reason: "other"})
	if err != nil || again.Task.Version != 2 || again.Task.StoppedReason != "done" {
		t.Errorf("second StopTask: %v %+v, want the task unchanged", err, again)
	}
	// It is listed as desired STOPPED, no longer RUNNING.
	if l, _ := f.s.ListTasks(bg, &ecs.ListTasksRequest{DesiredStatus: "STOPPED"}); !cmp.Equal(l.TaskArns, []string{tk.TaskArn}) {
		t.Errorf("ListTasks STOPPED: %v, want %s", l.TaskArns, tk.TaskArn)
	}

	// A PROVISIONING task whose agent is gone stops at once and frees its
	// reservation, so the port can be used again.
	f.setAgentConnected("default", ci.ContainerInstanceArn, true)
	if _, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: ci.ContainerInstanceArn, Force: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	ci = f.instance("default", 1024, 1024)
	tk = run()
	f.setAgentConnected("default", ci.ContainerInstanceArn, false)
	out, err = f.s.StopTask(bg, &ecs.StopTaskRequest{Task: tk.TaskArn})
	if err != nil {
		t.Fatal(err)
	}
	got = out.Task
	if got.LastStatus != "STOPPED" || got.DesiredStatus != "STOPPED" || got.StoppedReason != "Task stopped by user" || got.StoppedAt == nil ||
		got.Version != 2 || got.Containers[0].LastStatus != "STOPPED" {
		t.Errorf("got last %s desired %s reason %q stoppedAt %v version %d container %s; want STOPPED, STOPPED, ECS's default reason, set, 2, STOPPED",
			got.LastStatus, got.DesiredStatus, got.StoppedReason, got.StoppedAt, got.Version, got.Containers[0].LastStatus)
	}
	inst := f.describeInstance("default", ci.ContainerInstanceArn)
	if cpu, mem, ports := remaining(inst); cpu != 1024 || mem != 1024 || slices.Contains(ports, "8080") || inst.PendingTasksCount != 0 {
		t.Errorf("got remaining cpu %d mem %d ports %v pending %d, want all released", cpu, mem, ports, inst.PendingTasksCount)
	}
	if cl, _ := f.s.DescribeClusters(bg, &ecs.DescribeClustersRequest{}); cl.Clusters[0].PendingTasksCount != 0 {
		t.Errorf("cluster pending count %d, want 0", cl.Clusters[0].PendingTasksCount)
	}

	errs := []struct {
		name string
		in   ecs.StopTaskRequest
		code string
		msg  string
	}{
		{"unknown task", ecs.StopTaskRequest{Task: "0123456789abcdef0123456789abcdef"}, ecs.ErrInvalidParameter, "The referenced task was not found."},
		{"task of another cluster", ecs.StopTaskRequest{Task: f.s.taskARN("other", taskIDOf(&tk))}, ecs.ErrInvalidParameter, "The referenced task was not found."},
		{"malformed", ecs.StopTaskRequest{Task: "a:b"}, ecs.ErrInvalidParameter, "Task Identifier is invalid"},
		{"reason too long", ecs.StopTaskRequest{Task: tk.TaskArn, Reason: strings.Repeat("r", 256)}, ecs.ErrInvalidParameter, ""},
		{"unknown cluster", ecs.StopTaskRequest{Cluster: "nope", Task: tk.TaskArn}, ecs.ErrClusterNotFound, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.StopTask(bg, &tt.in)
			wantCode(t, err, tt.code)
			if msg := err.(*awserr.Error).Message; tt.msg != "" && msg != tt.msg {
				t.Errorf("got message %q, want %q", msg, tt.msg)
			}
		})
	}
}

func TestDescribeTasks(t *testing.T) {
	f := newTaskFixture(t)
	f.cluster("other")
	f.instance("default", 1024, 1024)
	td := f.taskDef(webDef("web", 1, 1))
	out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td, Tags: []ecs.Tag{{Key: "k", Value: "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	tk := out.Tasks[0]
	id := taskIDOf(&tk)

	got, err := f.s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Tasks: []string{id, tk.TaskArn, "feedface", f.s.taskARN("other", id), "a/b/c"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tasks) != 2 || got.Tasks[0].TaskArn != tk.TaskArn || got.Tasks[1].TaskArn != tk.TaskArn || got.Tasks[0].Tags != nil {
		t.Errorf("got tasks %+v, want the task twice, without tags", got.Tasks)
	}
	wantFailures := []ecs.Failure{
		{Arn: f.s.taskARN("default", "feedface"), Reason: "MISSING"},
		{Arn: f.s.taskARN("other", id), Reason: "MISSING"},
		{Arn: "a/b/c", Reason: "MISSING"},
	}
	if diff := cmp.Diff(wantFailures, got.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	got, err = f.s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Tasks: []string{id}, Include: []string{"TAGS"}})
	if err != nil || !cmp.Equal(got.Tasks[0].Tags, []ecs.Tag{{Key: "k", Value: "v"}}) {
		t.Errorf("with TAGS: %v %+v, want the tags", err, got)
	}

	errs := []struct {
		name string
		in   ecs.DescribeTasksRequest
		code string
	}{
		{"none", ecs.DescribeTasksRequest{}, ecs.ErrInvalidParameter},
		{"too many", ecs.DescribeTasksRequest{Tasks: slices.Repeat([]string{id}, 101)}, ecs.ErrInvalidParameter},
		{"bad include", ecs.DescribeTasksRequest{Tasks: []string{id}, Include: []string{"HEALTH"}}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.DescribeTasksRequest{Cluster: "nope", Tasks: []string{id}}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.DescribeTasks(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestListTasks(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 4096, 4096)
	b := f.instance("default", 4096, 4096)
	web := f.taskDef(webDef("web", 1, 1))
	api := f.taskDef(webDef("api", 1, 1))
	// A service record, as the services code stores it.
	op, err := state.PutOp(state.ServiceKey("default", "shop"), &ecs.Service{ServiceName: "shop", Status: "ACTIVE"}, store.Absent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	start := func(td, inst string, in ecs.StartTaskRequest) string {
		t.Helper()
		in.TaskDefinition, in.ContainerInstances = td, []string{inst}
		out, err := f.s.StartTask(bg, &in)
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("StartTask: %v %+v", err, out)
		}
		return out.Tasks[0].TaskArn
	}
	t1 := start(web, a.ContainerInstanceArn, ecs.StartTaskRequest{StartedBy: "ecs-svc/1", Group: "service:shop"})
	t2 := start(web, b.ContainerInstanceArn, ecs.StartTaskRequest{})
	t3 := start(api, a.ContainerInstanceArn, ecs.StartTaskRequest{StartedBy: "cron"})
	t4 := start(api, b.ContainerInstanceArn, ecs.StartTaskRequest{})
	fargate, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: api, LaunchType: "FARGATE"})
	if err != nil {
		t.Fatal(err)
	}
	t5 := fargate.Tasks[0].TaskArn
	if _, err := f.s.StopTask(bg, &ecs.StopTaskRequest{Task: t4}); err != nil {
		t.Fatal(err)
	}
	sorted := func(arns ...string) []string { slices.Sort(arns); return arns }

	tests := []struct {
		name string
		in   ecs.ListTasksRequest
		want []string
	}{
		{"desired RUNNING by default", ecs.ListTasksRequest{}, sorted(t1, t2, t3, t5)},
		{"desired STOPPED", ecs.ListTasksRequest{DesiredStatus: "STOPPED"}, []string{t4}},
		{"desired PENDING matches nothing", ecs.ListTasksRequest{DesiredStatus: "PENDING"}, []string{}},
		{"family", ecs.ListTasksRequest{Family: "web"}, sorted(t1, t2)},
		{"service", ecs.ListTasksRequest{ServiceName: "shop"}, []string{t1}},
		{"service ARN", ecs.ListTasksRequest{ServiceName: f.s.serviceARN("default", "shop")}, []string{t1}},
		{"instance by ARN", ecs.ListTasksRequest{ContainerInstance: a.ContainerInstanceArn, LaunchType: "EC2"}, sorted(t1, t3)},
		{"instance by ID", ecs.ListTasksRequest{ContainerInstance: instanceIDOf(b), Family: "web"}, []string{t2}},
		{"startedBy", ecs.ListTasksRequest{StartedBy: "cron"}, []string{t3}},
		{"launch type", ecs.ListTasksRequest{LaunchType: "FARGATE"}, []string{t5}},
		{"daemon", ecs.ListTasksRequest{DaemonName: "d"}, []string{}},
		{"unknown cluster name in family", ecs.ListTasksRequest{Family: "nope"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.s.ListTasks(bg, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.TaskArns); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("paginates", func(t *testing.T) {
		var got []string
		token := ""
		for range 10 {
			out, err := f.s.ListTasks(bg, &ecs.ListTasksRequest{MaxResults: ptr(int32(3)), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out.TaskArns...)
			if token = out.NextToken; token == "" {
				break
			}
		}
		if diff := cmp.Diff(sorted(t1, t2, t3, t5), got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})

	errs := []struct {
		name string
		in   ecs.ListTasksRequest
		code string
	}{
		{"unknown service", ecs.ListTasksRequest{ServiceName: "nope"}, ecs.ErrServiceNotFound},
		{"bad desired status", ecs.ListTasksRequest{DesiredStatus: "PROVISIONING"}, ecs.ErrInvalidParameter},
		{"bad launch type", ecs.ListTasksRequest{LaunchType: "LAMBDA"}, ecs.ErrInvalidParameter},
		{"bad instance", ecs.ListTasksRequest{ContainerInstance: "a:b"}, ecs.ErrInvalidParameter},
		{"bad maxResults", ecs.ListTasksRequest{MaxResults: ptr(int32(0))}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.ListTasksRequest{Cluster: "nope"}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.ListTasks(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

// TestRunTaskOverJSON runs the operations through the JSON protocol edge,
// as the AWS CLI reaches them.
func TestRunTaskOverJSON(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 1024, 1024)
	f.taskDef(webDef("web", 1, 1))
	ops := f.s.Ops()
	out, err := ops["RunTask"](bg, []byte(`{"taskDefinition":"web","count":1,"overrides":{"containerOverrides":[{"name":"web","environment":[{"name":"A","value":"1"}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"failures":[]`, `"lastStatus":"PROVISIONING"`, `"attachments":[]`, `"networkBindings":[]`, `"containerInstanceArn":"` + ci.ContainerInstanceArn + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("RunTask response %s lacks %s", b, want)
		}
	}
	if _, err := ops["StopTask"](bg, []byte(`{}`)); err == nil {
		t.Error("StopTask without task: got no error, want InvalidParameterException")
	} else {
		wantCode(t, err, ecs.ErrInvalidParameter)
	}
}
