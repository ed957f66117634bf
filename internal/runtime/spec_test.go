package runtime_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/runtime"
)

func valid() runtime.ContainerSpec {
	return runtime.ContainerSpec{Name: "app", Image: "nginx:1.27"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*runtime.ContainerSpec)
		wantField string // "" means valid
	}{
		{"minimal", func(s *runtime.ContainerSpec) {}, ""},
		{"no name", func(s *runtime.ContainerSpec) { s.Name = "" }, "Name"},
		{"no image", func(s *runtime.ContainerSpec) { s.Image = "" }, "Image"},
		{"env name with =", func(s *runtime.ContainerSpec) { s.Env = map[string]string{"A=B": "x"} }, "Env"},
		{"reserved label", func(s *runtime.ContainerSpec) { s.Labels = map[string]string{"berth.task": "x"} }, "Labels"},
		{"stop signal label", func(s *runtime.ContainerSpec) { s.Labels = map[string]string{runtime.LabelStopSignal: "SIGINT"} }, ""},
		{"bad stop signal label", func(s *runtime.ContainerSpec) { s.Labels = map[string]string{runtime.LabelStopSignal: "SIGNOPE"} }, "Labels[berth.stop-signal]"},
		{"port without container port", func(s *runtime.ContainerSpec) { s.PortMappings = []runtime.PortMapping{{HostPort: 80}} }, "PortMappings[0].ContainerPort"},
		{"bad protocol", func(s *runtime.ContainerSpec) {
			s.PortMappings = []runtime.PortMapping{{ContainerPort: 80, Protocol: "sctp"}}
		}, "PortMappings[0].Protocol"},
		{"port mapped twice", func(s *runtime.ContainerSpec) {
			s.PortMappings = []runtime.PortMapping{{ContainerPort: 80}, {ContainerPort: 80, Protocol: runtime.TCP, HostPort: 8080}}
		}, "PortMappings[1]"},
		{"same port, both protocols", func(s *runtime.ContainerSpec) {
			s.PortMappings = []runtime.PortMapping{{ContainerPort: 53}, {ContainerPort: 53, Protocol: runtime.UDP}}
		}, ""},
		{"reservation above limit", func(s *runtime.ContainerSpec) { s.MemoryMiB, s.MemoryReservationMiB = 128, 256 }, "MemoryReservationMiB"},
		{"reservation alone", func(s *runtime.ContainerSpec) { s.MemoryReservationMiB = 256 }, ""},
		{"negative cpu", func(s *runtime.ContainerSpec) { s.CPUShares = -1 }, "CPUShares"},
		{"unknown ulimit", func(s *runtime.ContainerSpec) { s.Ulimits = []runtime.Ulimit{{Name: "files", Soft: 1, Hard: 1}} }, "Ulimits[0].Name"},
		{"ulimit twice", func(s *runtime.ContainerSpec) {
			s.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}, {Name: "nofile", Soft: 2, Hard: 2}}
		}, "Ulimits[1].Name"},
		{"soft above hard", func(s *runtime.ContainerSpec) { s.Ulimits = []runtime.Ulimit{{Name: "core", Soft: 2, Hard: 1}} }, "Ulimits[0].Soft"},
		{"bad stop signal", func(s *runtime.ContainerSpec) { s.StopSignal = "SIGFOO" }, "StopSignal"},
		{"numeric stop signal", func(s *runtime.ContainerSpec) { s.StopSignal = "10" }, ""},
		{"health check without CMD", func(s *runtime.ContainerSpec) {
			s.HealthCheck = &runtime.HealthCheck{Command: []string{"curl", "-f", "http://localhost/"}}
		}, "HealthCheck.Command"},
		{"CMD-SHELL with two lines", func(s *runtime.ContainerSpec) {
			s.HealthCheck = &runtime.HealthCheck{Command: []string{"CMD-SHELL", "a", "b"}}
		}, "HealthCheck.Command"},
		{"CMD health check", func(s *runtime.ContainerSpec) {
			s.HealthCheck = &runtime.HealthCheck{Command: []string{"CMD", "/bin/check", "--quick"}}
		}, ""},
		{"negative retries", func(s *runtime.ContainerSpec) {
			s.HealthCheck = &runtime.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Retries: -1}
		}, "HealthCheck.Retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.edit(&s)
			err := s.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var se *runtime.SpecError
			if !errors.As(err, &se) || !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want a *SpecError matching ErrInvalidSpec", err)
			}
			if se.Field != tt.wantField {
				t.Errorf("Validate() field = %q, want %q (%v)", se.Field, tt.wantField, err)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	nofile := runtime.Ulimit{Name: "nofile", Soft: 65536, Hard: 65536}
	anyIP := netip.MustParseAddr("0.0.0.0")
	in := runtime.ContainerSpec{
		Name:  "app",
		Image: "app:1",
		Env:   map[string]string{"A": "1"},
		PortMappings: []runtime.PortMapping{
			{ContainerPort: 80},
			{ContainerPort: 53, HostPort: 5353, Protocol: runtime.UDP, HostIP: anyIP},
		},
		Ulimits:     []runtime.Ulimit{{Name: "core", Soft: 0, Hard: 0}},
		HealthCheck: &runtime.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Retries: 5},
	}
	want := runtime.ContainerSpec{
		Name:  "app",
		Image: "app:1",
		Env:   map[string]string{"A": "1"},
		PortMappings: []runtime.PortMapping{
			{ContainerPort: 80, Protocol: runtime.TCP, HostIP: runtime.DefaultHostIP},
			{ContainerPort: 53, HostPort: 5353, Protocol: runtime.UDP, HostIP: anyIP},
		},
		Ulimits:     []runtime.Ulimit{{Name: "core"}, nofile},
		StopTimeout: 30 * time.Second,
		HealthCheck: &runtime.HealthCheck{
			Command:  []string{"CMD-SHELL", "true"},
			Interval: 30 * time.Second,
			Timeout:  5 * time.Second,
			Retries:  5,
		},
	}
	got := in.WithDefaults(nofile)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("WithDefaults mismatch (-want +got):\n%s", diff)
	}

	// The copy shares nothing with the original.
	got.Env["A"] = "changed"
	got.PortMappings[0].HostPort = 1
	got.HealthCheck.Retries = 9
	if in.Env["A"] != "1" || in.PortMappings[0].HostPort != 0 || in.HealthCheck.Retries != 5 {
		t.Errorf("WithDefaults shares memory with its receiver: %+v", in)
	}

	// An explicit nofile wins over the default.
	explicit := runtime.ContainerSpec{Name: "a", Image: "b", Ulimits: []runtime.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}}
	if got := explicit.WithDefaults(nofile).Ulimits; !cmp.Equal(got, explicit.Ulimits) {
		t.Errorf("Ulimits = %+v, want the explicit nofile only", got)
	}
}

func TestNofileDefault(t *testing.T) {
	tests := []struct {
		name     string
		hard     uint64
		canRaise bool
		want     int64
	}{
		{"high hard limit", 1 << 20, false, 65536},
		{"low hard limit, may raise", 4096, true, 65536},
		{"low hard limit, may not raise", 20000, false, 20000},
		{"unknown", 0, false, 65536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runtime.NofileDefault(tt.hard, tt.canRaise)
			want := runtime.Ulimit{Name: "nofile", Soft: tt.want, Hard: tt.want}
			if got != want {
				t.Errorf("NofileDefault(%d, %v) = %+v, want %+v", tt.hard, tt.canRaise, got, want)
			}
		})
	}
}

func TestAllLabels(t *testing.T) {
	s := runtime.ContainerSpec{Cluster: "prod", Task: "abc", Name: "web", Labels: map[string]string{"team": "x"}}
	want := map[string]string{"team": "x", "berth.cluster": "prod", "berth.task": "abc", "berth.container": "web"}
	if diff := cmp.Diff(want, s.AllLabels()); diff != "" {
		t.Errorf("AllLabels mismatch (-want +got):\n%s", diff)
	}
	if s.Labels["berth.task"] != "" {
		t.Error("AllLabels modified the spec's Labels")
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		wantNum  int
		wantErr  bool
	}{
		{"SIGTERM", "SIGTERM", 15, false},
		{"term", "SIGTERM", 15, false},
		{"USR1", "SIGUSR1", 10, false},
		{" sigquit ", "SIGQUIT", 3, false},
		{"9", "SIGKILL", 9, false},
		{"64", "", 0, true},
		{"SIGFOO", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		name, num, err := runtime.ParseSignal(tt.in)
		if name != tt.wantName || num != tt.wantNum || (err != nil) != tt.wantErr {
			t.Errorf("ParseSignal(%q) = %q, %d, %v; want %q, %d, error %v", tt.in, name, num, err, tt.wantName, tt.wantNum, tt.wantErr)
		}
	}
}

func TestResolveStopSignal(t *testing.T) {
	tests := []struct {
		name        string
		spec        string
		specLabel   string
		image       string
		imageLabel  string
		want        string
		wantErrFrom bool
	}{
		{"nothing set", "", "", "", "", "SIGTERM", false},
		{"spec wins", "USR1", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", false},
		{"image STOPSIGNAL next", "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGINT", false},
		{"then the spec's label", "", "SIGHUP", "", "SIGQUIT", "SIGHUP", false},
		{"then the image's label", "", "", "", "SIGQUIT", "SIGQUIT", false},
		{"numeric image signal", "", "", "2", "", "SIGINT", false},
		{"bad image signal", "", "", "SIGWHAT", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := runtime.ContainerSpec{StopSignal: tt.spec}
			if tt.specLabel != "" {
				spec.Labels = map[string]string{runtime.LabelStopSignal: tt.specLabel}
			}
			var imageLabels map[string]string
			if tt.imageLabel != "" {
				imageLabels = map[string]string{runtime.LabelStopSignal: tt.imageLabel}
			}
			got, err := runtime.ResolveStopSignal(spec, tt.image, imageLabels)
			if got != tt.want || (err != nil) != tt.wantErrFrom {
				t.Errorf("ResolveStopSignal = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErrFrom)
			}
		})
	}
}

func TestHealthTracker(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type check struct {
		at     time.Duration // since start
		passed bool
		want   runtime.Health
	}
	tests := []struct {
		name   string
		hc     runtime.HealthCheck
		checks []check
	}{
		{"passes at once", runtime.HealthCheck{Retries: 3}, []check{
			{time.Second, true, runtime.HealthHealthy},
		}},
		{"unhealthy after retries", runtime.HealthCheck{Retries: 3}, []check{
			{1 * time.Second, false, runtime.HealthUnknown},
			{2 * time.Second, false, runtime.HealthUnknown},
			{3 * time.Second, false, runtime.HealthUnhealthy},
			{4 * time.Second, true, runtime.HealthHealthy},
		}},
		{"a pass resets the streak", runtime.HealthCheck{Retries: 2}, []check{
			{1 * time.Second, true, runtime.HealthHealthy},
			{2 * time.Second, false, runtime.HealthHealthy},
			{3 * time.Second, true, runtime.HealthHealthy},
			{4 * time.Second, false, runtime.HealthHealthy},
			{5 * time.Second, false, runtime.HealthUnhealthy},
		}},
		{"start period forgives failures", runtime.HealthCheck{Retries: 1, StartPeriod: 10 * time.Second}, []check{
			{1 * time.Second, false, runtime.HealthUnknown},
			{9 * time.Second, false, runtime.HealthUnknown},
			{10 * time.Second, false, runtime.HealthUnhealthy},
		}},
		{"start period ends with the first pass", runtime.HealthCheck{Retries: 1, StartPeriod: 10 * time.Second}, []check{
			{1 * time.Second, true, runtime.HealthHealthy},
			{2 * time.Second, false, runtime.HealthUnhealthy},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := runtime.NewHealthTracker(tt.hc, start)
			if h.Status() != runtime.HealthUnknown {
				t.Fatalf("initial status %s, want UNKNOWN", h.Status())
			}
			for i, c := range tt.checks {
				if got := h.Record(c.passed, start.Add(c.at)); got != c.want {
					t.Fatalf("check %d (passed %v at %v): status %s, want %s", i, c.passed, c.at, got, c.want)
				}
			}
		})
	}
}

func TestPullErrorUnwraps(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&runtime.PullError{Image: "x:1", Message: "dial: connection refused", Err: cause})
	if !errors.Is(err, cause) {
		t.Error("PullError does not unwrap to its cause")
	}
	if got, want := err.Error(), "pull image x:1: dial: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
