package ecsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
)

// The golden files of this package are rewritten with `go test -update`.
// Several test files may want that flag; whichever defines it first wins,
// and the others read it through flag.Lookup (see updateTaskDefGolden), so two
// definitions cannot panic at start-up.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func updateTaskDefGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func valPtr[T any](v T) *T { return &v }

// webTaskDef is a minimal valid EC2 task definition request.
func webTaskDef(family string) *ecs.RegisterTaskDefinitionRequest {
	return &ecs.RegisterTaskDefinitionRequest{
		Family: family,
		ContainerDefinitions: []ecs.ContainerDefinition{{
			Name:   "web",
			Image:  "nginx:1.27",
			Memory: valPtr(int32(128)),
		}},
	}
}

func mustRegisterTD(t *testing.T, s *Service, in *ecs.RegisterTaskDefinitionRequest) *ecs.TaskDefinition {
	t.Helper()
	out, err := s.RegisterTaskDefinition(bg, in)
	if err != nil {
		t.Fatalf("RegisterTaskDefinition(%s): %v", in.Family, err)
	}
	return out.TaskDefinition
}

// fullTaskDef uses every member of the request and of ContainerDefinition
// (TestFullTaskDefUsesEveryMember checks that), so the golden file shows a
// dropped member as a diff.
func fullTaskDef() *ecs.RegisterTaskDefinitionRequest {
	return &ecs.RegisterTaskDefinitionRequest{
		Family:                "full",
		Cpu:                   "1 vCPU",
		Memory:                "2 GB",
		NetworkMode:           "bridge",
		EnableFaultInjection:  valPtr(true),
		EphemeralStorage:      &ecs.EphemeralStorage{SizeInGiB: 30},
		ExecutionRoleArn:      "arn:aws:iam::123456789012:role/exec",
		TaskRoleArn:           "arn:aws:iam::123456789012:role/task",
		InferenceAccelerators: []ecs.InferenceAccelerator{{DeviceName: "acc1", DeviceType: "eia2.medium"}},
		IpcMode:               "task",
		PidMode:               "task",
		PlacementConstraints:  []ecs.TaskDefinitionPlacementConstraint{{Type: "memberOf", Expression: "attribute:ecs.os-type == linux"}},
		ProxyConfiguration: &ecs.ProxyConfiguration{
			Type:          "APPMESH",
			ContainerName: "sidecar",
			Properties:    []ecs.KeyValuePair{{Name: "ProxyIngressPort", Value: "15000"}},
		},
		RequiresCompatibilities: []string{"EC2"},
		RuntimePlatform:         &ecs.RuntimePlatform{CpuArchitecture: "X86_64", OperatingSystemFamily: "LINUX"},
		Tags:                    []ecs.Tag{{Key: "team", Value: "web"}},
		Volumes: []ecs.Volume{
			{Name: "data", Host: &ecs.HostVolumeProperties{SourcePath: "/srv/data"}},
			{Name: "cache", DockerVolumeConfiguration: &ecs.DockerVolumeConfiguration{
				Scope: "task", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs"}, Labels: map[string]string{"k": "v"},
			}},
		},
		ContainerDefinitions: []ecs.ContainerDefinition{
			{
				Name:              "app",
				Image:             "registry.example.com/team/app:1.2.3",
				Cpu:               512,
				Memory:            valPtr(int32(1024)),
				MemoryReservation: valPtr(int32(512)),
				PortMappings: []ecs.PortMapping{
					{ContainerPort: valPtr(int32(8080)), HostPort: valPtr(int32(80)), Protocol: "tcp", Name: "http", AppProtocol: "http"},
					{ContainerPort: valPtr(int32(9090))},
					{ContainerPortRange: "10000-10010", Protocol: "udp"},
				},
				Environment:      []ecs.KeyValuePair{{Name: "MODE", Value: "prod"}},
				EnvironmentFiles: []ecs.EnvironmentFile{{Type: "s3", Value: "arn:aws:s3:::bucket/app.env"}},
				Secrets:          []ecs.Secret{{Name: "DB_PASSWORD", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/db"}},
				Command:          []string{"serve", "--port", "8080"},
				EntryPoint:       []string{"/bin/app"},
				HealthCheck: &ecs.HealthCheck{
					Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
					Interval: valPtr(int32(10)), Timeout: valPtr(int32(3)), Retries: valPtr(int32(4)), StartPeriod: valPtr(int32(20)),
				},
				Essential:    valPtr(true),
				DependsOn:    []ecs.ContainerDependency{{ContainerName: "init", Condition: "SUCCESS"}, {ContainerName: "sidecar", Condition: "HEALTHY"}},
				StopTimeout:  valPtr(int32(45)),
				StartTimeout: valPtr(int32(60)),
				Ulimits:      []ecs.Ulimit{{Name: "nofile", SoftLimit: 65535, HardLimit: 65535}, {Name: "memlock", SoftLimit: -1, HardLimit: -1}},
				LogConfiguration: &ecs.LogConfiguration{
					LogDriver:     "awslogs",
					Options:       map[string]string{"awslogs-group": "/ecs/full", "awslogs-region": "us-east-1"},
					SecretOptions: []ecs.Secret{{Name: "token", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/token"}},
				},
				DockerLabels:     map[string]string{"com.example.team": "web"},
				User:             "1000:1000",
				WorkingDirectory: "/srv/app",
				LinuxParameters: &ecs.LinuxParameters{
					Capabilities:       &ecs.KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"MKNOD"}},
					Devices:            []ecs.Device{{HostPath: "/dev/fuse", ContainerPath: "/dev/fuse", Permissions: []string{"read", "write"}}},
					InitProcessEnabled: valPtr(true),
					MaxSwap:            valPtr(int32(256)),
					SharedMemorySize:   valPtr(int32(64)),
					Swappiness:         valPtr(int32(10)),
					Tmpfs:              []ecs.Tmpfs{{ContainerPath: "/tmp", Size: 64, MountOptions: []string{"noexec"}}},
				},
				CredentialSpecs:        []string{"credentialspec:arn:aws:ssm:us-east-1:123456789012:parameter/spec"},
				DisableNetworking:      valPtr(false),
				DnsSearchDomains:       []string{"svc.example.com"},
				DnsServers:             []string{"10.0.0.2"},
				DockerSecurityOptions:  []string{"no-new-privileges"},
				ExtraHosts:             []ecs.HostEntry{{Hostname: "db", IpAddress: "10.0.0.5"}},
				Hostname:               "app",
				Interactive:            valPtr(false),
				Links:                  []string{"sidecar:proxy"},
				MountPoints:            []ecs.MountPoint{{SourceVolume: "data", ContainerPath: "/data", ReadOnly: valPtr(true)}},
				Privileged:             valPtr(false),
				PseudoTerminal:         valPtr(false),
				ReadonlyRootFilesystem: valPtr(true),
				RepositoryCredentials:  &ecs.RepositoryCredentials{CredentialsParameter: "arn:aws:secretsmanager:us-east-1:123456789012:secret:reg"},
				ResourceRequirements:   []ecs.ResourceRequirement{{Type: "GPU", Value: "1"}},
				RestartPolicy:          &ecs.ContainerRestartPolicy{Enabled: valPtr(true), IgnoredExitCodes: []int32{0}, RestartAttemptPeriod: valPtr(int32(300))},
				SystemControls:         []ecs.SystemControl{{Namespace: "net.core.somaxconn", Value: "1024"}},
				VersionConsistency:     "disabled",
				VolumesFrom:            []ecs.VolumeFrom{{SourceContainer: "sidecar", ReadOnly: valPtr(true)}},
				FirelensConfiguration:  &ecs.FirelensConfiguration{Type: "fluentbit", Options: map[string]string{"enable-ecs-log-metadata": "true"}},
			},
			{
				Name:              "sidecar",
				Image:             "envoyproxy/envoy@sha256:" + strings.Repeat("ab", 32),
				Cpu:               256,
				MemoryReservation: valPtr(int32(128)),
				HealthCheck:       &ecs.HealthCheck{Command: []string{"CMD", "/healthz"}},
			},
			{
				Name:      "init",
				Image:     "busybox",
				Memory:    valPtr(int32(32)),
				Essential: valPtr(false),
				Command:   []string{"true"},
			},
		},
	}
}

// TestFullTaskDefUsesEveryMember keeps fullTaskDef complete as the model
// grows: every member of the request (and of ContainerDefinition, across
// its containers) must be set.
func TestFullTaskDefUsesEveryMember(t *testing.T) {
	in := fullTaskDef()
	rv := reflect.ValueOf(*in)
	for i := 0; i < rv.NumField(); i++ {
		if rv.Field(i).IsZero() {
			t.Errorf("fullTaskDef leaves RegisterTaskDefinitionRequest.%s unset", rv.Type().Field(i).Name)
		}
	}
	ct := reflect.TypeOf(ecs.ContainerDefinition{})
	for i := 0; i < ct.NumField(); i++ {
		set := slices.ContainsFunc(in.ContainerDefinitions, func(c ecs.ContainerDefinition) bool {
			return !reflect.ValueOf(c).Field(i).IsZero()
		})
		if !set {
			t.Errorf("fullTaskDef sets ContainerDefinition.%s in no container", ct.Field(i).Name)
		}
	}
}

// TestTaskDefFromRequestKeepsEveryMember checks that every member of the
// request except tags is a member of the wire TaskDefinition, so the JSON
// copy in taskDefFromRequest cannot drop one.
func TestTaskDefFromRequestKeepsEveryMember(t *testing.T) {
	names := func(typ reflect.Type) map[string]bool {
		m := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			m[name] = true
		}
		return m
	}
	td := names(reflect.TypeOf(ecs.TaskDefinition{}))
	for name := range names(reflect.TypeOf(ecs.RegisterTaskDefinitionRequest{})) {
		if name != "tags" && !td[name] {
			t.Errorf("request member %q is not a TaskDefinition member; RegisterTaskDefinition would drop it", name)
		}
	}
}

func TestRegisterTaskDefinitionGolden(t *testing.T) {
	s, _ := newTestService(t)
	out, err := s.RegisterTaskDefinition(bg, fullTaskDef())
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "register_task_definition.golden.json")
	if updateTaskDefGolden() {
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
		t.Fatalf("read golden file: %v (run go test -run TestRegisterTaskDefinitionGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("RegisterTaskDefinition response differs from %s (-want +got):\n%s", path, diff)
	}
	// Describe returns what Register did.
	d, err := s.DescribeTaskDefinition(bg, &ecs.DescribeTaskDefinitionRequest{TaskDefinition: "full", Include: []string{"TAGS"}})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	desc, _ := json.MarshalIndent(d, "", "  ")
	if !bytes.Equal(append(desc, '\n'), got) {
		t.Errorf("DescribeTaskDefinition differs from the RegisterTaskDefinition response:\n%s", cmp.Diff(string(got), string(desc)+"\n"))
	}
}

func TestRegisterTaskDefinitionDefaults(t *testing.T) {
	tests := []struct {
		name  string
		in    func() *ecs.RegisterTaskDefinitionRequest
		check func(t *testing.T, td *ecs.TaskDefinition)
	}{
		{
			name: "what ECS fills for a minimal EC2 definition",
			in:   func() *ecs.RegisterTaskDefinitionRequest { return webTaskDef("web") },
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				c := td.ContainerDefinitions[0]
				if c.Essential == nil || !*c.Essential {
					t.Errorf("got essential %v, want true", c.Essential)
				}
				if td.NetworkMode != "bridge" {
					t.Errorf("got networkMode %q, want bridge", td.NetworkMode)
				}
				if diff := cmp.Diff([]string{"EXTERNAL", "EC2"}, td.Compatibilities); diff != "" {
					t.Errorf("compatibilities (-want +got):\n%s", diff)
				}
				if td.Status != "ACTIVE" || td.Revision != 1 || td.TaskDefinitionArn != "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1" {
					t.Errorf("got status %s revision %d arn %s", td.Status, td.Revision, td.TaskDefinitionArn)
				}
				if td.RegisteredBy != "arn:aws:iam::123456789012:root" {
					t.Errorf("got registeredBy %q", td.RegisteredBy)
				}
				if !td.RegisteredAt.Equal(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) {
					t.Errorf("got registeredAt %v", td.RegisteredAt)
				}
				if td.RequiresCompatibilities != nil {
					t.Errorf("got requiresCompatibilities %v, want absent", td.RequiresCompatibilities)
				}
				b, _ := json.Marshal(td)
				for _, member := range []string{`"volumes":[]`, `"placementConstraints":[]`, `"requiresAttributes":[]`, `"portMappings":[]`, `"environment":[]`, `"mountPoints":[]`, `"volumesFrom":[]`, `"cpu":0`} {
					if !bytes.Contains(b, []byte(member)) {
						t.Errorf("JSON lacks %s: %s", member, b)
					}
				}
			},
		},
		{
			name: "bridge mode keeps an absent host port absent and defaults the protocol",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80))}}
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				want := []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), Protocol: "tcp"}}
				if diff := cmp.Diff(want, td.ContainerDefinitions[0].PortMappings); diff != "" {
					t.Errorf("portMappings (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "awsvpc Fargate definition: host port = container port, vCPU and GB converted, FARGATE compatible",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.NetworkMode = "awsvpc"
				in.RequiresCompatibilities = []string{"FARGATE"}
				in.Cpu, in.Memory = "0.25 vCPU", "1GB"
				in.ContainerDefinitions[0].Memory = nil
				in.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), Protocol: "udp"}}
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				want := []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), HostPort: valPtr(int32(80)), Protocol: "udp"}}
				if diff := cmp.Diff(want, td.ContainerDefinitions[0].PortMappings); diff != "" {
					t.Errorf("portMappings (-want +got):\n%s", diff)
				}
				if td.Cpu != "256" || td.Memory != "1024" {
					t.Errorf("got cpu %q memory %q, want 256 and 1024", td.Cpu, td.Memory)
				}
				if diff := cmp.Diff([]string{"EC2", "FARGATE"}, td.Compatibilities); diff != "" {
					t.Errorf("compatibilities (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "awsvpc without a Fargate size is EC2 only",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.NetworkMode = "awsvpc"
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				if diff := cmp.Diff([]string{"EC2"}, td.Compatibilities); diff != "" {
					t.Errorf("compatibilities (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "host mode fills the host port",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.NetworkMode = "host"
				in.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(8080)), HostPort: valPtr(int32(0))}}
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				if hp := td.ContainerDefinitions[0].PortMappings[0].HostPort; hp == nil || *hp != 8080 {
					t.Errorf("got hostPort %v, want 8080", hp)
				}
			},
		},
		{
			name: "health check defaults",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.ContainerDefinitions[0].HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}}
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				want := &ecs.HealthCheck{Command: []string{"CMD", "true"}, Interval: valPtr(int32(30)), Timeout: valPtr(int32(5)), Retries: valPtr(int32(3))}
				if diff := cmp.Diff(want, td.ContainerDefinitions[0].HealthCheck); diff != "" {
					t.Errorf("healthCheck (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "task memory makes container memory optional; explicit essential false kept",
			in: func() *ecs.RegisterTaskDefinitionRequest {
				in := webTaskDef("web")
				in.Memory = "512"
				in.ContainerDefinitions[0].Memory = nil
				in.ContainerDefinitions = append(in.ContainerDefinitions, ecs.ContainerDefinition{Name: "log", Image: "fluent-bit", Essential: valPtr(false)})
				return in
			},
			check: func(t *testing.T, td *ecs.TaskDefinition) {
				if e := td.ContainerDefinitions[1].Essential; e == nil || *e {
					t.Errorf("got essential %v for log, want false", e)
				}
				if td.Memory != "512" {
					t.Errorf("got memory %q, want 512", td.Memory)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestService(t)
			tt.check(t, mustRegisterTD(t, s, tt.in()))
		})
	}
}

func TestRegisterTaskDefinitionRevisions(t *testing.T) {
	s, _ := newTestService(t)
	for want := int32(1); want <= 3; want++ {
		if got := mustRegisterTD(t, s, webTaskDef("web")).Revision; got != want {
			t.Fatalf("got revision %d, want %d", got, want)
		}
	}
	if got := mustRegisterTD(t, s, webTaskDef("api")).Revision; got != 1 {
		t.Fatalf("another family: got revision %d, want 1", got)
	}
	// Revisions are never reused, even after the latest one is deleted.
	if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "web:3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{"web:3"}}); err != nil {
		t.Fatal(err)
	}
	if got := mustRegisterTD(t, s, webTaskDef("web")).Revision; got != 4 {
		t.Fatalf("after deleting web:3: got revision %d, want 4", got)
	}
}

func TestRegisterTaskDefinitionValidation(t *testing.T) {
	const (
		client = ecs.ErrClient
		param  = ecs.ErrInvalidParameter
	)
	c0 := func(f func(c *ecs.ContainerDefinition)) func(*ecs.RegisterTaskDefinitionRequest) {
		return func(in *ecs.RegisterTaskDefinitionRequest) { f(&in.ContainerDefinitions[0]) }
	}
	second := func(c ecs.ContainerDefinition) func(*ecs.RegisterTaskDefinitionRequest) {
		return func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ContainerDefinitions = append(in.ContainerDefinitions, c)
		}
	}
	tests := []struct {
		name     string
		mutate   func(in *ecs.RegisterTaskDefinitionRequest)
		code     string
		inMember string // the message starts with this member path
	}{
		{"family with a dot", func(in *ecs.RegisterTaskDefinitionRequest) { in.Family = "web.v1" }, client, "family"},
		{"family too long", func(in *ecs.RegisterTaskDefinitionRequest) { in.Family = strings.Repeat("a", 256) }, client, "family"},
		{"no containers", func(in *ecs.RegisterTaskDefinitionRequest) { in.ContainerDefinitions = nil }, client, "containerDefinitions"},
		{"eleven containers", func(in *ecs.RegisterTaskDefinitionRequest) {
			for i := 0; i < 10; i++ {
				c := in.ContainerDefinitions[0]
				c.Name = "c" + string(rune('a'+i))
				in.ContainerDefinitions = append(in.ContainerDefinitions, c)
			}
		}, client, "containerDefinitions"},
		{"bad container name", c0(func(c *ecs.ContainerDefinition) { c.Name = "web app" }), client, "containerDefinitions[0].name"},
		{"duplicate container name", second(ecs.ContainerDefinition{Name: "web", Image: "x", Memory: valPtr(int32(64))}), client, "containerDefinitions[1].name"},
		{"no image", c0(func(c *ecs.ContainerDefinition) { c.Image = "" }), client, "containerDefinitions[0].image"},
		{"image too long", c0(func(c *ecs.ContainerDefinition) { c.Image = strings.Repeat("a", 256) }), client, "containerDefinitions[0].image"},
		{"image with a space", c0(func(c *ecs.ContainerDefinition) { c.Image = "nginx latest" }), client, "containerDefinitions[0].image"},
		{"bad digest", c0(func(c *ecs.ContainerDefinition) { c.Image = "nginx@sha256:abc" }), client, "containerDefinitions[0].image"},
		{"no memory anywhere", c0(func(c *ecs.ContainerDefinition) { c.Memory = nil }), client, "containerDefinitions[0].memory"},
		{"memory below 6 MiB", c0(func(c *ecs.ContainerDefinition) { c.Memory = valPtr(int32(4)) }), client, "containerDefinitions[0].memory"},
		{"memoryReservation below 6 MiB", c0(func(c *ecs.ContainerDefinition) { c.Memory, c.MemoryReservation = nil, valPtr(int32(5)) }), client, "containerDefinitions[0].memoryReservation"},
		{"memory not above memoryReservation", c0(func(c *ecs.ContainerDefinition) { c.MemoryReservation = valPtr(int32(128)) }), client, "containerDefinitions[0].memory"},
		{"negative cpu", c0(func(c *ecs.ContainerDefinition) { c.Cpu = -1 }), client, "containerDefinitions[0].cpu"},
		{"container cpu above task cpu", func(in *ecs.RegisterTaskDefinitionRequest) { in.Cpu = "256"; in.ContainerDefinitions[0].Cpu = 512 }, client, "containerDefinitions"},
		{"container memory above task memory", func(in *ecs.RegisterTaskDefinitionRequest) { in.Memory = "64" }, client, "containerDefinitions[0].memory"},
		{"bad task cpu", func(in *ecs.RegisterTaskDefinitionRequest) { in.Cpu = "lots" }, client, "cpu"},
		{"task cpu too small", func(in *ecs.RegisterTaskDefinitionRequest) { in.Cpu = "64" }, client, "cpu"},
		{"bad task memory", func(in *ecs.RegisterTaskDefinitionRequest) { in.Memory = "1 TB" }, client, "memory"},
		{"container port out of range", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(70000))}}
		}), client, "containerDefinitions[0].portMappings[0].containerPort"},
		{"host port out of range", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), HostPort: valPtr(int32(-1))}}
		}), client, "containerDefinitions[0].portMappings[0].hostPort"},
		{"port mapping without a port", c0(func(c *ecs.ContainerDefinition) { c.PortMappings = []ecs.PortMapping{{Protocol: "tcp"}} }), client, "containerDefinitions[0].portMappings[0].containerPort"},
		{"bad protocol", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), Protocol: "sctp"}}
		}), param, "containerDefinitions[0].portMappings[0].protocol"},
		{"duplicate container port", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80))}, {ContainerPort: valPtr(int32(80)), Protocol: "tcp", HostPort: valPtr(int32(8080))}}
		}), client, "containerDefinitions[0].portMappings[1]"},
		{"same port tcp and udp is fine, overlapping range is not", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(53))}, {ContainerPort: valPtr(int32(53)), Protocol: "udp"}, {ContainerPortRange: "50-60", Protocol: "udp"}}
		}), client, "containerDefinitions[0].portMappings[2]"},
		{"bad port range", c0(func(c *ecs.ContainerDefinition) { c.PortMappings = []ecs.PortMapping{{ContainerPortRange: "90-80"}} }), client, "containerDefinitions[0].portMappings[0].containerPortRange"},
		{"awsvpc host port differs", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.NetworkMode = "awsvpc"
			in.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), HostPort: valPtr(int32(8080))}}
		}, client, "containerDefinitions[0].portMappings[0].hostPort"},
		{"port mappings with networkMode none", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.NetworkMode = "none"
			in.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80))}}
		}, client, "containerDefinitions[0].portMappings"},
		{"bad port name", c0(func(c *ecs.ContainerDefinition) {
			c.PortMappings = []ecs.PortMapping{{ContainerPort: valPtr(int32(80)), Name: "-http"}}
		}), client, "containerDefinitions[0].portMappings[0].name"},
		{"empty health check command", c0(func(c *ecs.ContainerDefinition) { c.HealthCheck = &ecs.HealthCheck{Command: []string{}} }), client, "containerDefinitions[0].healthCheck.command"},
		{"health check without CMD", c0(func(c *ecs.ContainerDefinition) {
			c.HealthCheck = &ecs.HealthCheck{Command: []string{"curl localhost"}}
		}), client, "containerDefinitions[0].healthCheck.command"},
		{"health check interval 4", c0(func(c *ecs.ContainerDefinition) {
			c.HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}, Interval: valPtr(int32(4))}
		}), client, "containerDefinitions[0].healthCheck.interval"},
		{"health check timeout 61", c0(func(c *ecs.ContainerDefinition) {
			c.HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}, Timeout: valPtr(int32(61))}
		}), client, "containerDefinitions[0].healthCheck.timeout"},
		{"health check retries 11", c0(func(c *ecs.ContainerDefinition) {
			c.HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}, Retries: valPtr(int32(11))}
		}), client, "containerDefinitions[0].healthCheck.retries"},
		{"health check startPeriod 301", c0(func(c *ecs.ContainerDefinition) {
			c.HealthCheck = &ecs.HealthCheck{Command: []string{"CMD", "true"}, StartPeriod: valPtr(int32(301))}
		}), client, "containerDefinitions[0].healthCheck.startPeriod"},
		{"negative stopTimeout", c0(func(c *ecs.ContainerDefinition) { c.StopTimeout = valPtr(int32(-1)) }), client, "containerDefinitions[0].stopTimeout"},
		{"stopTimeout above a day", c0(func(c *ecs.ContainerDefinition) { c.StopTimeout = valPtr(int32(86401)) }), client, "containerDefinitions[0].stopTimeout"},
		{"dependsOn unknown container", c0(func(c *ecs.ContainerDefinition) {
			c.DependsOn = []ecs.ContainerDependency{{ContainerName: "db", Condition: "START"}}
		}), client, "containerDefinitions[0].dependsOn[0].containerName"},
		{"dependsOn itself", c0(func(c *ecs.ContainerDefinition) {
			c.DependsOn = []ecs.ContainerDependency{{ContainerName: "web", Condition: "START"}}
		}), client, "containerDefinitions[0].dependsOn[0].containerName"},
		{"dependsOn bad condition", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ContainerDefinitions[0].DependsOn = []ecs.ContainerDependency{{ContainerName: "db", Condition: "READY"}}
			in.ContainerDefinitions = append(in.ContainerDefinitions, ecs.ContainerDefinition{Name: "db", Image: "postgres", Memory: valPtr(int32(256))})
		}, param, "containerDefinitions[0].dependsOn[0].condition"},
		{"HEALTHY needs a health check", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ContainerDefinitions[0].DependsOn = []ecs.ContainerDependency{{ContainerName: "db", Condition: "HEALTHY"}}
			in.ContainerDefinitions = append(in.ContainerDefinitions, ecs.ContainerDefinition{Name: "db", Image: "postgres", Memory: valPtr(int32(256))})
		}, client, "containerDefinitions[0].dependsOn[0].condition"},
		{"COMPLETE on an essential container", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ContainerDefinitions[0].DependsOn = []ecs.ContainerDependency{{ContainerName: "db", Condition: "COMPLETE"}}
			in.ContainerDefinitions = append(in.ContainerDefinitions, ecs.ContainerDefinition{Name: "db", Image: "postgres", Memory: valPtr(int32(256))})
		}, client, "containerDefinitions[0].dependsOn[0].condition"},
		{"dependency cycle", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ContainerDefinitions[0].DependsOn = []ecs.ContainerDependency{{ContainerName: "db", Condition: "START"}}
			in.ContainerDefinitions = append(in.ContainerDefinitions, ecs.ContainerDefinition{
				Name: "db", Image: "postgres", Memory: valPtr(int32(256)),
				DependsOn: []ecs.ContainerDependency{{ContainerName: "web", Condition: "START"}},
			})
		}, client, "containerDefinitions[0].dependsOn"},
		{"no essential container", c0(func(c *ecs.ContainerDefinition) { c.Essential = valPtr(false) }), client, "containerDefinitions"},
		{"bad ulimit name", c0(func(c *ecs.ContainerDefinition) {
			c.Ulimits = []ecs.Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}}
		}), param, "containerDefinitions[0].ulimits[0].name"},
		{"ulimit soft above hard", c0(func(c *ecs.ContainerDefinition) {
			c.Ulimits = []ecs.Ulimit{{Name: "nofile", SoftLimit: 2048, HardLimit: 1024}}
		}), client, "containerDefinitions[0].ulimits[0].softLimit"},
		{"ulimit soft unlimited, hard not", c0(func(c *ecs.ContainerDefinition) {
			c.Ulimits = []ecs.Ulimit{{Name: "memlock", SoftLimit: -1, HardLimit: 1024}}
		}), client, "containerDefinitions[0].ulimits[0].softLimit"},
		{"duplicate ulimit", c0(func(c *ecs.ContainerDefinition) {
			c.Ulimits = []ecs.Ulimit{{Name: "nofile", SoftLimit: 1, HardLimit: 1}, {Name: "nofile", SoftLimit: 2, HardLimit: 2}}
		}), client, "containerDefinitions[0].ulimits[1].name"},
		{"bad log driver", c0(func(c *ecs.ContainerDefinition) { c.LogConfiguration = &ecs.LogConfiguration{LogDriver: "loki"} }), param, "containerDefinitions[0].logConfiguration.logDriver"},
		{"mount of an unknown volume", c0(func(c *ecs.ContainerDefinition) {
			c.MountPoints = []ecs.MountPoint{{SourceVolume: "data", ContainerPath: "/data"}}
		}), client, "containerDefinitions[0].mountPoints[0].sourceVolume"},
		{"volumesFrom an unknown container", c0(func(c *ecs.ContainerDefinition) { c.VolumesFrom = []ecs.VolumeFrom{{SourceContainer: "db"}} }), client, "containerDefinitions[0].volumesFrom[0].sourceContainer"},
		{"link to an unknown container", c0(func(c *ecs.ContainerDefinition) { c.Links = []string{"db:database"} }), client, "containerDefinitions[0].links[0]"},
		{"links outside bridge mode", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.NetworkMode = "host"
			in.ContainerDefinitions[0].Links = []string{"db"}
		}, client, "containerDefinitions[0].links"},
		{"hostname with awsvpc", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.NetworkMode = "awsvpc"
			in.ContainerDefinitions[0].Hostname = "web"
		}, client, "containerDefinitions[0].hostname"},
		{"duplicate volume", func(in *ecs.RegisterTaskDefinitionRequest) { in.Volumes = []ecs.Volume{{Name: "v"}, {Name: "v"}} }, client, "volumes[1].name"},
		{"bad network mode", func(in *ecs.RegisterTaskDefinitionRequest) { in.NetworkMode = "nat" }, param, "networkMode"},
		{"bad compatibility", func(in *ecs.RegisterTaskDefinitionRequest) { in.RequiresCompatibilities = []string{"LAMBDA"} }, param, "requiresCompatibilities[0]"},
		{"bad pidMode", func(in *ecs.RegisterTaskDefinitionRequest) { in.PidMode = "container" }, param, "pidMode"},
		{"bad ipcMode", func(in *ecs.RegisterTaskDefinitionRequest) { in.IpcMode = "shareable" }, param, "ipcMode"},
		{"ephemeral storage too small", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.EphemeralStorage = &ecs.EphemeralStorage{SizeInGiB: 20}
		}, client, "ephemeralStorage.sizeInGiB"},
		{"Fargate without awsvpc", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities = []string{"FARGATE"}
			in.Cpu, in.Memory = "256", "512"
		}, client, "networkMode"},
		{"Fargate without task cpu", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities, in.NetworkMode, in.Memory = []string{"FARGATE"}, "awsvpc", "512"
		}, client, "cpu"},
		{"Fargate size that does not exist", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities, in.NetworkMode, in.Cpu, in.Memory = []string{"FARGATE"}, "awsvpc", "256", "4096"
		}, client, "memory"},
		{"Fargate stopTimeout above 120", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities, in.NetworkMode, in.Cpu, in.Memory = []string{"FARGATE"}, "awsvpc", "256", "512"
			in.ContainerDefinitions[0].StopTimeout = valPtr(int32(121))
		}, client, "containerDefinitions[0].stopTimeout"},
		{"Fargate privileged", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities, in.NetworkMode, in.Cpu, in.Memory = []string{"FARGATE"}, "awsvpc", "256", "512"
			in.ContainerDefinitions[0].Privileged = valPtr(true)
		}, client, "containerDefinitions[0].privileged"},
		{"EXTERNAL with awsvpc", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.RequiresCompatibilities, in.NetworkMode = []string{"EXTERNAL"}, "awsvpc"
		}, client, "requiresCompatibilities"},
		{"placement constraint of type distinctInstance", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{{Type: "distinctInstance"}}
		}, param, "placementConstraints[0].type"},
		{"memberOf without expression", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{{Type: "memberOf"}}
		}, client, "placementConstraints[0].expression"},
		{"memberOf expression too long", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{{Type: "memberOf", Expression: strings.Repeat("a", 2001)}}
		}, client, "placementConstraints[0].expression"},
		{"memberOf expression that does not parse", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{{Type: "memberOf", Expression: "attribute:ecs.os-type =="}}
		}, client, "placementConstraints[0].expression"},
		{"memberOf on an unknown subject", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{{Type: "memberOf", Expression: "color == red"}}
		}, client, "placementConstraints[0].expression"},
		{"eleven placement constraints", func(in *ecs.RegisterTaskDefinitionRequest) {
			for i := 0; i < 11; i++ {
				in.PlacementConstraints = append(in.PlacementConstraints, ecs.TaskDefinitionPlacementConstraint{Type: "memberOf", Expression: "attribute:a == b"})
			}
		}, param, "placementConstraints"},
		{"proxy for an unknown container", func(in *ecs.RegisterTaskDefinitionRequest) {
			in.ProxyConfiguration = &ecs.ProxyConfiguration{Type: "APPMESH", ContainerName: "envoy"}
		}, client, "proxyConfiguration.containerName"},
		{"reserved tag", func(in *ecs.RegisterTaskDefinitionRequest) { in.Tags = []ecs.Tag{{Key: "aws:owner", Value: "x"}} }, param, "tags[0].key"},
		{"too big", c0(func(c *ecs.ContainerDefinition) {
			c.Environment = []ecs.KeyValuePair{{Name: "BLOB", Value: strings.Repeat("x", 70<<10)}}
		}), client, "containerDefinitions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestService(t)
			in := webTaskDef("web")
			tt.mutate(in)
			_, err := s.RegisterTaskDefinition(bg, in)
			wantCode(t, err, tt.code)
			if !strings.HasPrefix(exceptionMessage(err), tt.inMember+":") {
				t.Errorf("got message %q, want it to start with %q", exceptionMessage(err), tt.inMember+":")
			}
			// Nothing was stored: the family's first revision is still 1.
			if got := mustRegisterTD(t, s, webTaskDef("web")).Revision; got != 1 {
				t.Errorf("after a failed register: got revision %d, want 1", got)
			}
		})
	}
}

func TestDescribeTaskDefinition(t *testing.T) {
	s, _ := newTestService(t)
	in := webTaskDef("web")
	in.Tags = []ecs.Tag{{Key: "env", Value: "prod"}}
	mustRegisterTD(t, s, in)                 // web:1
	mustRegisterTD(t, s, webTaskDef("web"))  // web:2
	mustRegisterTD(t, s, webTaskDef("web"))  // web:3, deregistered below
	mustRegisterTD(t, s, webTaskDef("solo")) // solo:1, deregistered below
	for _, ref := range []string{"web:3", "solo:1"} {
		if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: ref}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		in         ecs.DescribeTaskDefinitionRequest
		wantRev    int32
		wantStatus string
		wantTags   []ecs.Tag
		code       string
	}{
		{name: "bare family is the latest ACTIVE revision", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web"}, wantRev: 2, wantStatus: "ACTIVE"},
		{name: "family:revision", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:1"}, wantRev: 1, wantStatus: "ACTIVE"},
		{name: "ARN", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"}, wantRev: 2, wantStatus: "ACTIVE"},
		{name: "INACTIVE by revision", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:3"}, wantRev: 3, wantStatus: "INACTIVE"},
		{name: "tags on request", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:1", Include: []string{"TAGS"}}, wantRev: 1, wantStatus: "ACTIVE", wantTags: []ecs.Tag{{Key: "env", Value: "prod"}}},
		{name: "TAGS without tags is []", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:2", Include: []string{"TAGS"}}, wantRev: 2, wantStatus: "ACTIVE", wantTags: []ecs.Tag{}},
		{name: "family with no ACTIVE revision", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "solo"}, code: ecs.ErrClient},
		{name: "unknown family", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "nope"}, code: ecs.ErrClient},
		{name: "unknown revision", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:9"}, code: ecs.ErrClient},
		{name: "malformed reference", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:latest"}, code: ecs.ErrInvalidParameter},
		{name: "bad include", in: ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web", Include: []string{"SECRETS"}}, code: ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.DescribeTaskDefinition(bg, &tt.in)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("DescribeTaskDefinition: %v", err)
			}
			if out.TaskDefinition.Revision != tt.wantRev || out.TaskDefinition.Status != tt.wantStatus {
				t.Errorf("got revision %d %s, want %d %s", out.TaskDefinition.Revision, out.TaskDefinition.Status, tt.wantRev, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantTags, out.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
	_, err := s.DescribeTaskDefinition(bg, &ecs.DescribeTaskDefinitionRequest{TaskDefinition: "nope"})
	if got := exceptionMessage(err); got != "Unable to describe task definition." {
		t.Errorf("got message %q, want ECS's %q", got, "Unable to describe task definition.")
	}
}

// seedRevisions registers revisions 1..n of each family.
func seedRevisions(t *testing.T, s *Service, n int, families ...string) {
	t.Helper()
	for _, f := range families {
		for i := 0; i < n; i++ {
			mustRegisterTD(t, s, webTaskDef(f))
		}
	}
}

func tdARNs(refs ...string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = "arn:aws:ecs:us-east-1:123456789012:task-definition/" + r
	}
	return out
}

func TestListTaskDefinitions(t *testing.T) {
	s, _ := newTestService(t)
	seedRevisions(t, s, 10, "web")
	seedRevisions(t, s, 2, "web-2", "api")
	for _, ref := range []string{"web:1", "api:2"} {
		if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: ref}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{"api:2"}}); err != nil {
		t.Fatal(err)
	}
	webASC := tdARNs("web:2", "web:3", "web:4", "web:5", "web:6", "web:7", "web:8", "web:9", "web:10")
	tests := []struct {
		name string
		in   ecs.ListTaskDefinitionsRequest
		want []string
		code string
	}{
		{name: "ACTIVE by default, family then numeric revision", in: ecs.ListTaskDefinitionsRequest{},
			want: append(append(tdARNs("api:1"), webASC...), tdARNs("web-2:1", "web-2:2")...)},
		{name: "DESC reverses family and revision", in: ecs.ListTaskDefinitionsRequest{Sort: "DESC"},
			want: append(append(tdARNs("web-2:2", "web-2:1"), reversedStrings(webASC)...), tdARNs("api:1")...)},
		{name: "familyPrefix is the exact family", in: ecs.ListTaskDefinitionsRequest{FamilyPrefix: "web"}, want: webASC},
		{name: "INACTIVE", in: ecs.ListTaskDefinitionsRequest{Status: "INACTIVE"}, want: tdARNs("web:1")},
		{name: "DELETE_IN_PROGRESS", in: ecs.ListTaskDefinitionsRequest{Status: "DELETE_IN_PROGRESS"}, want: tdARNs("api:2")},
		{name: "unknown family", in: ecs.ListTaskDefinitionsRequest{FamilyPrefix: "nope"}, want: []string{}},
		{name: "bad status", in: ecs.ListTaskDefinitionsRequest{Status: "DELETED"}, code: ecs.ErrInvalidParameter},
		{name: "bad sort", in: ecs.ListTaskDefinitionsRequest{Sort: "UP"}, code: ecs.ErrInvalidParameter},
		{name: "bad familyPrefix", in: ecs.ListTaskDefinitionsRequest{FamilyPrefix: "web/1"}, code: ecs.ErrInvalidParameter},
		{name: "maxResults 0", in: ecs.ListTaskDefinitionsRequest{MaxResults: valPtr(int32(0))}, code: ecs.ErrInvalidParameter},
		{name: "maxResults 101", in: ecs.ListTaskDefinitionsRequest{MaxResults: valPtr(int32(101))}, code: ecs.ErrInvalidParameter},
		{name: "bad token", in: ecs.ListTaskDefinitionsRequest{NextToken: "!!"}, code: ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.ListTaskDefinitions(bg, &tt.in)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("ListTaskDefinitions: %v", err)
			}
			if diff := cmp.Diff(tt.want, out.TaskDefinitionArns); diff != "" {
				t.Errorf("ARNs (-want +got):\n%s", diff)
			}
			if out.NextToken != "" {
				t.Errorf("got nextToken %q, want none", out.NextToken)
			}
		})
	}
	for _, order := range []string{"ASC", "DESC"} {
		t.Run("pages of 4 "+order, func(t *testing.T) {
			all, err := s.ListTaskDefinitions(bg, &ecs.ListTaskDefinitionsRequest{Sort: order})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			token := ""
			for pages := 1; ; pages++ {
				out, err := s.ListTaskDefinitions(bg, &ecs.ListTaskDefinitionsRequest{Sort: order, MaxResults: valPtr(int32(4)), NextToken: token})
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if len(out.TaskDefinitionArns) > 4 {
					t.Fatalf("page %d has %d items, want at most 4", pages, len(out.TaskDefinitionArns))
				}
				got = append(got, out.TaskDefinitionArns...)
				if token = out.NextToken; token == "" {
					break
				}
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
			}
			if diff := cmp.Diff(all.TaskDefinitionArns, got); diff != "" {
				t.Errorf("pages joined differ from one listing (-want +got):\n%s", diff)
			}
		})
	}
}

func reversedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestTaskDefSortKeys checks the sort keys against the order ECS documents:
// family (byte order) then revision number, and DESC the exact reverse.
func TestTaskDefSortKeys(t *testing.T) {
	var entries []taskDefEntry
	for _, f := range []string{"web", "web-2", "web2", "Web", "a", "a_b", "z", "web-"} {
		for _, r := range []int32{1, 2, 9, 10, 11, 100, 2147483647} {
			entries = append(entries, taskDefEntry{family: f, rev: r})
		}
	}
	want := slices.Clone(entries)
	sort.Slice(want, func(i, j int) bool {
		if want[i].family != want[j].family {
			return want[i].family < want[j].family
		}
		return want[i].rev < want[j].rev
	})
	asc := slices.Clone(entries)
	sort.Slice(asc, func(i, j int) bool { return taskDefSortKey(asc[i]) < taskDefSortKey(asc[j]) })
	desc := slices.Clone(entries)
	sort.Slice(desc, func(i, j int) bool { return taskDefSortKeyDesc(desc[i]) < taskDefSortKeyDesc(desc[j]) })
	slices.Reverse(desc)
	allow := cmp.AllowUnexported(taskDefEntry{})
	if diff := cmp.Diff(want, asc, allow); diff != "" {
		t.Errorf("ASC order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, desc, allow); diff != "" {
		t.Errorf("DESC order reversed (-want +got):\n%s", diff)
	}
}

func TestListTaskDefinitionFamilies(t *testing.T) {
	s, _ := newTestService(t)
	seedRevisions(t, s, 2, "web", "web-api", "worker", "batch")
	// worker: no ACTIVE revision left; batch: one ACTIVE of two.
	for _, ref := range []string{"worker:1", "worker:2", "batch:1"} {
		if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: ref}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		in   ecs.ListTaskDefinitionFamiliesRequest
		want []string
		code string
	}{
		{name: "ALL by default", in: ecs.ListTaskDefinitionFamiliesRequest{}, want: []string{"batch", "web", "web-api", "worker"}},
		{name: "ALL", in: ecs.ListTaskDefinitionFamiliesRequest{Status: "ALL"}, want: []string{"batch", "web", "web-api", "worker"}},
		{name: "ACTIVE", in: ecs.ListTaskDefinitionFamiliesRequest{Status: "ACTIVE"}, want: []string{"batch", "web", "web-api"}},
		{name: "INACTIVE", in: ecs.ListTaskDefinitionFamiliesRequest{Status: "INACTIVE"}, want: []string{"worker"}},
		{name: "familyPrefix is a prefix", in: ecs.ListTaskDefinitionFamiliesRequest{FamilyPrefix: "w"}, want: []string{"web", "web-api", "worker"}},
		{name: "no match", in: ecs.ListTaskDefinitionFamiliesRequest{FamilyPrefix: "x"}, want: []string{}},
		{name: "bad status", in: ecs.ListTaskDefinitionFamiliesRequest{Status: "DELETE_IN_PROGRESS"}, code: ecs.ErrInvalidParameter},
		{name: "bad maxResults", in: ecs.ListTaskDefinitionFamiliesRequest{MaxResults: valPtr(int32(1000))}, code: ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.ListTaskDefinitionFamilies(bg, &tt.in)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("ListTaskDefinitionFamilies: %v", err)
			}
			if diff := cmp.Diff(tt.want, out.Families); diff != "" {
				t.Errorf("families (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("pages of 3", func(t *testing.T) {
		p1, err := s.ListTaskDefinitionFamilies(bg, &ecs.ListTaskDefinitionFamiliesRequest{MaxResults: valPtr(int32(3))})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := s.ListTaskDefinitionFamilies(bg, &ecs.ListTaskDefinitionFamiliesRequest{MaxResults: valPtr(int32(3)), NextToken: p1.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"batch", "web", "web-api"}, p1.Families); diff != "" || p1.NextToken == "" {
			t.Errorf("page 1 (-want +got):\n%s (token %q)", diff, p1.NextToken)
		}
		if diff := cmp.Diff([]string{"worker"}, p2.Families); diff != "" || p2.NextToken != "" {
			t.Errorf("page 2 (-want +got):\n%s (token %q)", diff, p2.NextToken)
		}
	})
	t.Run("a family with only DELETE_IN_PROGRESS revisions is INACTIVE", func(t *testing.T) {
		if _, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{"worker:1", "worker:2"}}); err != nil {
			t.Fatal(err)
		}
		out, err := s.ListTaskDefinitionFamilies(bg, &ecs.ListTaskDefinitionFamiliesRequest{Status: "INACTIVE"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"worker"}, out.Families); diff != "" {
			t.Errorf("families (-want +got):\n%s", diff)
		}
	})
}

func TestDeregisterTaskDefinition(t *testing.T) {
	s, clk := newTestService(t)
	seedRevisions(t, s, 2, "web")
	clk.Advance(time.Hour)
	out, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"})
	if err != nil {
		t.Fatalf("DeregisterTaskDefinition: %v", err)
	}
	td := out.TaskDefinition
	if td.Status != "INACTIVE" || td.DeregisteredAt == nil || !td.DeregisteredAt.Equal(clk.Now()) || td.Revision != 1 {
		t.Errorf("got status %s deregisteredAt %v revision %d, want INACTIVE at %v revision 1", td.Status, td.DeregisteredAt, td.Revision, clk.Now())
	}
	d, err := s.DescribeTaskDefinition(bg, &ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:1"})
	if err != nil || d.TaskDefinition.Status != "INACTIVE" {
		t.Fatalf("describe after deregister: %v, %+v", err, d)
	}
	t.Run("again is a no-op", func(t *testing.T) {
		clk.Advance(time.Hour)
		again, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "web:1"})
		if err != nil {
			t.Fatal(err)
		}
		if !again.TaskDefinition.DeregisteredAt.Equal(td.DeregisteredAt.Time) {
			t.Errorf("got deregisteredAt %v, want the first %v", again.TaskDefinition.DeregisteredAt, td.DeregisteredAt)
		}
	})
	if _, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{"web:1"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, code string
	}{
		{"bare family", "web", ecs.ErrClient},
		{"missing revision", "web:7", ecs.ErrClient},
		{"missing family", "nope:1", ecs.ErrClient},
		{"DELETE_IN_PROGRESS", "web:1", ecs.ErrClient},
		{"malformed", "web:0", ecs.ErrInvalidParameter},
		{"not a task definition ARN", "arn:aws:ecs:us-east-1:123456789012:cluster/web", ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: tt.ref})
			wantCode(t, err, tt.code)
		})
	}
}

func TestDeleteTaskDefinitions(t *testing.T) {
	s, clk := newTestService(t)
	seedRevisions(t, s, 3, "web")
	if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "web:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "web:3"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	out, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{
		"web:1", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3", "web:1", "web:2", "web:9", "web", "bad name:1",
	}})
	if err != nil {
		t.Fatalf("DeleteTaskDefinitions: %v", err)
	}
	var deleted []string
	for _, td := range out.TaskDefinitions {
		deleted = append(deleted, td.TaskDefinitionArn)
		if td.Status != "DELETE_IN_PROGRESS" || td.DeleteRequestedAt == nil || !td.DeleteRequestedAt.Equal(clk.Now()) {
			t.Errorf("%s: got status %s deleteRequestedAt %v", td.TaskDefinitionArn, td.Status, td.DeleteRequestedAt)
		}
	}
	if diff := cmp.Diff(tdARNs("web:1", "web:3"), deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	wantFailures := []ecs.Failure{
		{Arn: tdARNs("web:2")[0], Reason: reasonTaskDefActive},
		{Arn: tdARNs("web:9")[0], Reason: reasonTaskDefNotFound},
		{Arn: "web", Reason: reasonTaskDefInvalid},
		{Arn: "bad name:1", Reason: reasonTaskDefInvalid},
	}
	if diff := cmp.Diff(wantFailures, out.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	t.Run("stays describable by revision", func(t *testing.T) {
		d, err := s.DescribeTaskDefinition(bg, &ecs.DescribeTaskDefinitionRequest{TaskDefinition: "web:1"})
		if err != nil || d.TaskDefinition.Status != "DELETE_IN_PROGRESS" {
			t.Fatalf("got %v, %+v", err, d)
		}
	})
	t.Run("deleting again returns it again", func(t *testing.T) {
		again, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: []string{"web:1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.TaskDefinitions) != 1 || len(again.Failures) != 0 {
			t.Errorf("got %d definitions and failures %v, want 1 and none", len(again.TaskDefinitions), again.Failures)
		}
	})
	t.Run("counts", func(t *testing.T) {
		for _, n := range []int{0, 11} {
			refs := make([]string, n)
			for i := range refs {
				refs[i] = "web:1"
			}
			_, err := s.DeleteTaskDefinitions(bg, &ecs.DeleteTaskDefinitionsRequest{TaskDefinitions: refs})
			wantCode(t, err, ecs.ErrInvalidParameter)
		}
	})
}

func TestParseTaskSizes(t *testing.T) {
	cpu := []struct {
		in   string
		want int // 0: error
	}{
		{"256", 256}, {"1024", 1024}, {"1 vCPU", 1024}, {"1 vcpu", 1024}, {"0.25 vCPU", 256}, {".5 vCPU", 512},
		{"2vCPU", 2048}, {"192 vCPU", 196608}, {"64", 0}, {"0.1 vCPU", 0}, {"lots", 0}, {"", 0}, {"-1", 0}, {"200 vCPU", 0},
	}
	for _, tt := range cpu {
		got, err := parseTaskCPU(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("parseTaskCPU(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	mem := []struct {
		in   string
		want int
	}{
		{"512", 512}, {"1 GB", 1024}, {"1GB", 1024}, {"0.5 gb", 512}, {"30 GB", 30720}, {"5", 0}, {"1 TB", 0}, {"", 0},
	}
	for _, tt := range mem {
		got, err := parseTaskMemory(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("parseTaskMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	sizes := []struct {
		cpu, mem int
		want     bool
	}{
		{256, 512, true}, {256, 2048, true}, {256, 3072, false}, {512, 4096, true}, {1024, 8192, true},
		{1024, 1024, false}, {4096, 30720, true}, {8192, 20480, true}, {8192, 18432, false}, {16384, 122880, true}, {128, 512, false},
	}
	for _, tt := range sizes {
		if got := fargateSizeOK(tt.cpu, tt.mem); got != tt.want {
			t.Errorf("fargateSizeOK(%d, %d) = %v, want %v", tt.cpu, tt.mem, got, tt.want)
		}
	}
}

// exceptionMessage returns the message of an *awserr.Error ("" otherwise).
func exceptionMessage(err error) string {
	var e *awserr.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}
