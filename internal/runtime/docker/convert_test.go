package docker

import (
	"net/netip"
	"testing"
	"time"

	"github.com/docker/go-units"
	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-io/berth/internal/runtime"
)

var addrComparer = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestCreateOptions(t *testing.T) {
	spec := runtime.ContainerSpec{
		Cluster: "prod", Task: "t1", Name: "web", Image: "nginx:1.27",
		EntryPoint: []string{"/docker-entrypoint.sh"},
		Command:    []string{"nginx", "-g", "daemon off;"},
		Env:        map[string]string{"B": "2", "A": "1"},
		WorkingDir: "/srv", User: "www-data",
		Labels:       map[string]string{"team": "web"},
		PortMappings: []runtime.PortMapping{{ContainerPort: 80}, {ContainerPort: 53, HostPort: 5353, Protocol: runtime.UDP, HostIP: netip.MustParseAddr("0.0.0.0")}},
		CPUShares:    512, MemoryMiB: 256, MemoryReservationMiB: 128,
		StopTimeout:        1500 * time.Millisecond,
		InitProcessEnabled: true,
		HealthCheck:        &runtime.HealthCheck{Command: []string{"CMD-SHELL", "curl -f localhost"}, StartPeriod: time.Minute},
	}
	cfg, host := createOptions(spec.WithDefaults(runtime.NofileDefault(1<<20, false)), "SIGQUIT", "sha256:abc")

	p80, p53 := network.MustParsePort("80/tcp"), network.MustParsePort("53/udp")
	wantCfg := &container.Config{
		Image:      "nginx:1.27",
		Entrypoint: []string{"/docker-entrypoint.sh"},
		Cmd:        []string{"nginx", "-g", "daemon off;"},
		Env:        []string{"A=1", "B=2"},
		WorkingDir: "/srv",
		User:       "www-data",
		Labels: map[string]string{
			"team": "web", "berth.cluster": "prod", "berth.task": "t1", "berth.container": "web",
			"berth.image-digest": "sha256:abc",
		},
		ExposedPorts: network.PortSet{p80: {}, p53: {}},
		StopSignal:   "SIGQUIT",
		StopTimeout:  new(2), // rounded up
		Healthcheck: &container.HealthConfig{
			Test:        []string{"CMD-SHELL", "curl -f localhost"},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: time.Minute,
			Retries:     3,
		},
	}
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("Config mismatch (-want +got):\n%s", diff)
	}
	wantHost := &container.HostConfig{
		Init: new(true),
		PortBindings: network.PortMap{
			p80: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}},
			p53: {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "5353"}},
		},
		Resources: container.Resources{
			CPUShares:         512,
			Memory:            256 << 20,
			MemoryReservation: 128 << 20,
			Ulimits:           []*units.Ulimit{{Name: "nofile", Soft: 65536, Hard: 65536}},
		},
	}
	if diff := cmp.Diff(wantHost, host, addrComparer); diff != "" {
		t.Errorf("HostConfig mismatch (-want +got):\n%s", diff)
	}
}

func TestStatus(t *testing.T) {
	labels := map[string]string{"berth.container": "web", "berth.task": "t1", "berth.image-digest": "sha256:img"}
	ports := network.PortMap{
		network.MustParsePort("8080/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "49153"}},
		network.MustParsePort("9090/tcp"): nil, // exposed, not published
	}
	tests := []struct {
		name string
		in   container.InspectResponse
		want runtime.Status
	}{
		{
			name: "running and healthy",
			in: container.InspectResponse{
				ID: "c1", Image: "sha256:cfg",
				State: &container.State{Status: container.StateRunning, StartedAt: "2026-01-02T03:04:05.5Z",
					FinishedAt: "0001-01-01T00:00:00Z", Health: &container.Health{Status: container.Healthy}},
				Config:          &container.Config{Labels: labels, StopSignal: "USR1"},
				NetworkSettings: &container.NetworkSettings{Ports: ports},
			},
			want: runtime.Status{
				ID: "c1", Name: "web", State: runtime.StateRunning,
				StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC),
				Ports:     []runtime.PortBinding{{ContainerPort: 8080, Protocol: runtime.TCP, HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 49153}},
				Health:    runtime.HealthHealthy, ImageDigest: "sha256:img", StopSignal: "SIGUSR1",
				Labels: map[string]string{"berth.container": "web", "berth.task": "t1"},
			},
		},
		{
			name: "killed",
			in: container.InspectResponse{
				ID: "c2", Image: "sha256:cfg",
				State: &container.State{Status: container.StateExited, ExitCode: 137, OOMKilled: true,
					StartedAt: "2026-01-02T03:04:05Z", FinishedAt: "2026-01-02T03:05:05Z",
					Health: &container.Health{Status: container.Starting}},
				Config:          &container.Config{},
				NetworkSettings: &container.NetworkSettings{Ports: ports},
			},
			want: runtime.Status{
				ID: "c2", State: runtime.StateExited, ExitCode: 137, OOMKilled: true,
				StartedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				FinishedAt: time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC),
				Health:     runtime.HealthUnknown, ImageDigest: "sha256:cfg", StopSignal: "SIGTERM",
				Labels: map[string]string{},
			},
		},
		{
			name: "exited before the engine stamped its start",
			in: container.InspectResponse{
				ID: "c4",
				State: &container.State{Status: container.StateExited, ExitCode: 3,
					StartedAt: "2026-01-02T03:04:05.414Z", FinishedAt: "2026-01-02T03:04:05.413Z"},
			},
			want: runtime.Status{
				ID: "c4", State: runtime.StateExited, ExitCode: 3,
				StartedAt:  time.Date(2026, 1, 2, 3, 4, 5, 413e6, time.UTC),
				FinishedAt: time.Date(2026, 1, 2, 3, 4, 5, 413e6, time.UTC),
				Health:     runtime.HealthUnknown, StopSignal: "SIGTERM", Labels: map[string]string{},
			},
		},
		{
			name: "created",
			in: container.InspectResponse{
				ID:    "c3",
				State: &container.State{Status: container.StateCreated, StartedAt: "0001-01-01T00:00:00Z"},
			},
			want: runtime.Status{ID: "c3", State: runtime.StateCreated, Health: runtime.HealthUnknown, StopSignal: "SIGTERM", Labels: map[string]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, status(tt.in), addrComparer); diff != "" {
				t.Errorf("status mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImageDigest(t *testing.T) {
	pulled := image.InspectResponse{ID: "sha256:cfg", RepoDigests: []string{"nginx@sha256:manifest"}}
	if got := imageDigest(pulled); got != "sha256:manifest" {
		t.Errorf("imageDigest(pulled) = %q, want the registry digest", got)
	}
	if got := imageDigest(image.InspectResponse{ID: "sha256:cfg"}); got != "sha256:cfg" {
		t.Errorf("imageDigest(built locally) = %q, want the image id", got)
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct {
		task, name, want string
	}{
		{"0123abcd", "web", "berth-0123abcd-web"},
		{"arn:aws:ecs:us-east-1:000000000000:task/prod/0123abcd", "web", "berth-0123abcd-web"},
		{"t1", "my app+1", "berth-t1-my-app-1"},
		{"", "web", ""},
	}
	for _, tt := range tests {
		if got := containerName(runtime.ContainerSpec{Task: tt.task, Name: tt.name}); got != tt.want {
			t.Errorf("containerName(%q, %q) = %q, want %q", tt.task, tt.name, got, tt.want)
		}
	}
}
