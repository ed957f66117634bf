package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
)

func TestNextAction(t *testing.T) {
	tests := []struct {
		last             string
		running, stopped action
	}{
		{statusProvisioning, actPull, actDeactivate},
		{statusPending, actStart, actDeactivate},
		{statusActivating, actActivate, actDeactivate},
		{statusRunning, actMonitor, actDeactivate},
		{statusDeactivating, actBeginStop, actBeginStop},
		{statusStopping, actStop, actStop},
		{statusDeprovisioning, actDeprovision, actDeprovision},
		{statusStopped, actDone, actDone},
	}
	if len(tests) != len(statusOrder()) {
		t.Fatalf("the table covers %d statuses, the lifecycle has %d", len(tests), len(statusOrder()))
	}
	for _, tt := range tests {
		t.Run(tt.last, func(t *testing.T) {
			if got := nextAction(tt.last, statusRunning); got != tt.running {
				t.Errorf("desired RUNNING: got %v, want %v", got, tt.running)
			}
			if got := nextAction(tt.last, statusStopped); got != tt.stopped {
				t.Errorf("desired STOPPED: got %v, want %v", got, tt.stopped)
			}
		})
	}
}

func TestLaterStatusNeverGoesBack(t *testing.T) {
	order := statusOrder()
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			if got := laterStatus(a, b); got != want {
				t.Errorf("laterStatus(%s, %s): got %s, want %s", a, b, got, want)
			}
		}
	}
}

func TestPlanStart(t *testing.T) {
	code := func(v int32) *int32 { return &v }
	dep := func(name, cond string) []ecs.ContainerDependency {
		return []ecs.ContainerDependency{{ContainerName: name, Condition: cond}}
	}
	tests := []struct {
		name       string
		cs         []depView
		pendingFor time.Duration
		want       startPlan
	}{
		{name: "no dependencies: start all",
			cs:   []depView{{Name: "a", State: cCreated}, {Name: "b", State: cCreated}},
			want: startPlan{Start: []string{"a", "b"}}},
		{name: "all started: ready",
			cs:   []depView{{Name: "a", State: cRunning}, {Name: "b", State: cExited, ExitCode: code(0)}},
			want: startPlan{Ready: true}},
		{name: "START waits for the dependency to start",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("db", "START")}, {Name: "db", State: cCreated}},
			want: startPlan{Start: []string{"db"}}},
		{name: "START holds once it runs",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("db", "START")}, {Name: "db", State: cRunning}},
			want: startPlan{Start: []string{"app"}}},
		{name: "COMPLETE waits while it runs",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "COMPLETE")}, {Name: "init", State: cRunning}},
			want: startPlan{}},
		{name: "COMPLETE holds on any exit",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "COMPLETE")}, {Name: "init", State: cExited, ExitCode: code(3)}},
			want: startPlan{Start: []string{"app"}}},
		{name: "SUCCESS holds on exit 0",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "SUCCESS")}, {Name: "init", State: cExited, ExitCode: code(0)}},
			want: startPlan{Start: []string{"app"}}},
		{name: "SUCCESS fails on another exit code",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "SUCCESS")}, {Name: "init", State: cExited, ExitCode: code(1)}},
			want: startPlan{Failed: "container app depends on init succeeding (SUCCESS), but it exited with exit code 1"}},
		{name: "HEALTHY waits and polls",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("db", "HEALTHY")}, {Name: "db", State: cRunning, HasHealth: true, Health: runtime.HealthUnknown}},
			want: startPlan{Poll: true}},
		{name: "HEALTHY holds",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("db", "HEALTHY")}, {Name: "db", State: cRunning, HasHealth: true, Health: runtime.HealthHealthy}},
			want: startPlan{Start: []string{"app"}}},
		{name: "HEALTHY without a health check fails",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("db", "HEALTHY")}, {Name: "db", State: cRunning}},
			want: startPlan{Failed: "container app depends on db being HEALTHY, but db has no health check"}},
		{name: "missing dependency fails",
			cs:   []depView{{Name: "app", State: cCreated, DependsOn: dep("ghost", "START")}},
			want: startPlan{Failed: "container app depends on ghost, which is not in the task"}},
		{name: "unsatisfiable propagates",
			cs: []depView{
				{Name: "web", State: cCreated, DependsOn: dep("app", "START")},
				{Name: "app", State: cCreated, DependsOn: dep("init", "SUCCESS")},
				{Name: "init", State: cExited, ExitCode: code(2)}},
			want: startPlan{Failed: "container web depends on app, which cannot start (container app depends on init succeeding (SUCCESS), but it exited with exit code 2)"}},
		{name: "cycle fails",
			cs: []depView{
				{Name: "a", State: cCreated, DependsOn: dep("b", "START")},
				{Name: "b", State: cCreated, DependsOn: dep("a", "START")}},
			want: startPlan{Failed: "container dependencies form a cycle: a -> b -> a"}},
		{name: "startTimeout running: poll",
			cs:         []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "COMPLETE"), StartTimeout: 10 * time.Second}, {Name: "init", State: cRunning}},
			pendingFor: 5 * time.Second,
			want:       startPlan{Poll: true}},
		{name: "startTimeout ran out",
			cs:         []depView{{Name: "app", State: cCreated, DependsOn: dep("init", "COMPLETE"), StartTimeout: 10 * time.Second}, {Name: "init", State: cRunning}},
			pendingFor: 10 * time.Second,
			want:       startPlan{Failed: "container app: dependencies not resolved within its startTimeout of 10s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, planStart(tt.cs, tt.pendingFor)); diff != "" {
				t.Errorf("planStart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopWaves(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		deps  map[string][]string
		want  [][]string
	}{
		{name: "independent: one wave", names: []string{"a", "b"}, want: [][]string{{"a", "b"}}},
		{name: "chain: reverse order",
			names: []string{"db", "app", "proxy"},
			deps:  map[string][]string{"app": {"db"}, "proxy": {"app"}},
			want:  [][]string{{"proxy"}, {"app"}, {"db"}}},
		{name: "diamond",
			names: []string{"db", "cache", "app", "log"},
			deps:  map[string][]string{"app": {"db", "cache"}},
			want:  [][]string{{"app", "log"}, {"db", "cache"}}},
		{name: "cycle: the rest together",
			names: []string{"a", "b", "c"},
			deps:  map[string][]string{"a": {"b"}, "b": {"a"}},
			want:  [][]string{{"c"}, {"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, stopWaves(tt.names, tt.deps)); diff != "" {
				t.Errorf("stopWaves (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskHealth(t *testing.T) {
	ess := func(h runtime.Health) healthView { return healthView{Essential: true, HasHealth: true, Health: h} }
	side := func(h runtime.Health) healthView { return healthView{HasHealth: true, Health: h} }
	tests := []struct {
		name string
		cs   []healthView
		want string
	}{
		{"no checks", []healthView{{Essential: true}}, "UNKNOWN"},
		{"all essential healthy", []healthView{ess("HEALTHY"), ess("HEALTHY"), {Essential: true}}, "HEALTHY"},
		{"one essential unknown", []healthView{ess("HEALTHY"), ess("UNKNOWN")}, "UNKNOWN"},
		{"one essential unhealthy", []healthView{ess("HEALTHY"), ess("UNHEALTHY")}, "UNHEALTHY"},
		{"non-essential ignored", []healthView{ess("HEALTHY"), side("UNHEALTHY")}, "HEALTHY"},
		{"only non-essential checks", []healthView{side("HEALTHY"), {Essential: true}}, "UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := taskHealth(tt.cs); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestContainerSpec(t *testing.T) {
	def := ecs.ContainerDefinition{
		Name: "web", Image: "nginx:1.27",
		EntryPoint: []string{"/docker-entrypoint.sh"}, Command: []string{"nginx", "-g", "daemon off;"},
		Environment:  []ecs.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		PortMappings: []ecs.PortMapping{{ContainerPort: i32(80)}, {ContainerPort: i32(53), HostPort: i32(5353), Protocol: "udp"}},
		Cpu:          256, Memory: i32(512), MemoryReservation: i32(128),
		Ulimits: []ecs.Ulimit{{Name: "nproc", SoftLimit: 100, HardLimit: 200}},
		User:    "nginx", WorkingDirectory: "/srv",
		DockerLabels:     map[string]string{"team": "shop", runtime.LabelStopSignal: "SIGQUIT"},
		LinuxParameters:  &ecs.LinuxParameters{InitProcessEnabled: new(true)},
		HealthCheck:      &ecs.HealthCheck{Command: []string{"CMD-SHELL", "curl -f localhost"}, Interval: i32(10), Timeout: i32(2), Retries: i32(5), StartPeriod: i32(30)},
		StopTimeout:      i32(60),
		Essential:        new(true),
		LogConfiguration: &ecs.LogConfiguration{LogDriver: "awslogs"},
	}
	got, err := containerSpec("prod", "agent1", "task1", def, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	want := runtime.ContainerSpec{
		Cluster: "prod", Task: "task1", Name: "web", Image: "nginx:1.27",
		EntryPoint: []string{"/docker-entrypoint.sh"}, Command: []string{"nginx", "-g", "daemon off;"},
		Env:        map[string]string{"A": "1", "B": "2"},
		WorkingDir: "/srv", User: "nginx",
		Labels: map[string]string{"team": "shop", runtime.LabelStopSignal: "SIGQUIT", LabelAgent: "agent1"},
		PortMappings: []runtime.PortMapping{
			{ContainerPort: 80},
			{ContainerPort: 53, HostPort: 5353, Protocol: runtime.UDP},
		},
		CPUShares: 256, MemoryMiB: 512, MemoryReservationMiB: 128,
		Ulimits:            []runtime.Ulimit{{Name: "nproc", Soft: 100, Hard: 200}},
		StopTimeout:        time.Minute,
		InitProcessEnabled: true,
		HealthCheck: &runtime.HealthCheck{Command: []string{"CMD-SHELL", "curl -f localhost"},
			Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 5, StartPeriod: 30 * time.Second},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("containerSpec (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the spec does not validate: %v", err)
	}

	bad := ecs.ContainerDefinition{Name: "x", Image: "x", PortMappings: []ecs.PortMapping{{ContainerPortRange: "8000-8010"}}}
	if _, err := containerSpec("c", "a", "t", bad, netip.Addr{}); err == nil {
		t.Error("port range: got no error, want one")
	}
}

func TestWithOverride(t *testing.T) {
	def := ecs.ContainerDefinition{Name: "web", Command: []string{"serve"}, Cpu: 256, Memory: i32(512),
		Environment: []ecs.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}}
	got := withOverride(def, &ecs.ContainerOverride{Name: "web", Command: []string{"migrate"}, Cpu: i32(128),
		MemoryReservation: i32(64), Environment: []ecs.KeyValuePair{{Name: "B", Value: "x"}, {Name: "C", Value: "3"}}})
	want := ecs.ContainerDefinition{Name: "web", Command: []string{"migrate"}, Cpu: 128, Memory: i32(512), MemoryReservation: i32(64),
		Environment: []ecs.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "x"}, {Name: "C", Value: "3"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withOverride (-want +got):\n%s", diff)
	}
	if got := withOverride(def, nil); !cmp.Equal(got, def) {
		t.Errorf("no override: got %+v, want the definition", got)
	}
}

func TestLogNames(t *testing.T) {
	lc := func(opts map[string]string) *ecs.LogConfiguration {
		return &ecs.LogConfiguration{LogDriver: "awslogs", Options: opts}
	}
	tests := []struct {
		name                  string
		lc                    *ecs.LogConfiguration
		wantGroup, wantStream string
	}{
		{"defaults", nil, "/berth/shop", "web/t1"},
		{"group", lc(map[string]string{"awslogs-group": "/ecs/shop"}), "/ecs/shop", "web/t1"},
		{"group and prefix", lc(map[string]string{"awslogs-group": "/ecs/shop", "awslogs-stream-prefix": "ecs"}), "/ecs/shop", "ecs/web/t1"},
		{"prefix only", lc(map[string]string{"awslogs-stream-prefix": "p"}), "/berth/shop", "p/web/t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, s := logNames("shop", "t1", ecs.ContainerDefinition{Name: "web", LogConfiguration: tt.lc})
			if g != tt.wantGroup || s != tt.wantStream {
				t.Errorf("got %s %s, want %s %s", g, s, tt.wantGroup, tt.wantStream)
			}
		})
	}
}

func TestPlanPoll(t *testing.T) {
	task := func(id, desired string) agent.AssignedTask {
		return agent.AssignedTask{Task: ecs.Task{TaskArn: "arn:aws:ecs:r:1:task/c/" + id, DesiredStatus: desired}}
	}
	arn := func(id string) string { return "arn:aws:ecs:r:1:task/c/" + id }
	got := planPoll(
		[]agent.AssignedTask{task("new", "RUNNING"), task("live", "STOPPED"), task("done", "RUNNING"), task("adopt", "RUNNING")},
		map[string]bool{arn("live"): true, arn("gone"): true},
		map[string]bool{arn("done"): true, arn("old"): true},
		[]string{"adopt", "orphan"},
	)
	want := pollPlan{
		Start:    []agent.AssignedTask{task("new", "RUNNING"), task("adopt", "RUNNING")},
		Update:   []agent.AssignedTask{task("live", "STOPPED")},
		Withdraw: []string{arn("gone")},
		Forget:   []string{arn("old")},
		Orphans:  []string{"orphan"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planPoll (-want +got):\n%s", diff)
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	got := expired(now, time.Hour, []janitorView{
		{ID: "active", Active: true, Since: now.Add(-2 * time.Hour)},
		{ID: "old", Since: now.Add(-time.Hour)},
		{ID: "young", Since: now.Add(-59 * time.Minute)},
		{ID: "unknown"},
	})
	if want := []string{"old"}; !cmp.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPinnedImage(t *testing.T) {
	const d = "sha256:0123"
	for _, c := range []struct{ image, digest, want string }{
		{"web:v1", d, "web:v1@" + d},
		{"registry.local:5000/team/web", d, "registry.local:5000/team/web@" + d},
		{"web:v1", "", "web:v1"},
		{"web@sha256:aaaa", d, "web@sha256:aaaa"},
		{"process:///usr/bin/app", d, "process:///usr/bin/app"},
	} {
		if got := pinnedImage(c.image, c.digest); got != c.want {
			t.Errorf("pinnedImage(%q, %q) = %q, want %q", c.image, c.digest, got, c.want)
		}
	}
}

func TestContainerSpecPublishAddress(t *testing.T) {
	def := ecs.ContainerDefinition{Name: "web", Image: "web:1", PortMappings: []ecs.PortMapping{{ContainerPort: new(int32(8080))}}}
	got, err := containerSpec("c", "a", "t", def, netip.MustParseAddr("10.1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PortMappings) != 1 || got.PortMappings[0].HostIP != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("port mappings %+v, want one bound to 10.1.2.3 (--publish-address)", got.PortMappings)
	}
	got, _ = containerSpec("c", "a", "t", def, netip.Addr{})
	if got.WithDefaults(runtime.Ulimit{}).PortMappings[0].HostIP != runtime.DefaultHostIP {
		t.Errorf("without a publish address: %+v, want the runtime's default 127.0.0.1", got.PortMappings)
	}
}
