package fake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
	"github.com/berth-io/berth/internal/runtime/runtimetest"
	"github.com/berth-io/berth/internal/runtime/testapp"
)

const (
	testAppImage = "berth-testapp:fake"
	testAppPath  = "/testapp"
	missingImage = "registry.invalid/missing:1"
)

// testAppBehavior runs the testapp in-process: the container's program is
// testapp.Main, and Exec and health checks run it for cmd[0] == /testapp.
func testAppBehavior() fake.Behavior {
	return fake.Behavior{
		Program: func(ctx context.Context, p *fake.Proc) int {
			return testapp.Main(ctx, p.Args, testAppSystem(p))
		},
		Exec: func(ctx context.Context, p *fake.Proc, cmd []string) int {
			if len(cmd) == 0 || cmd[0] != testAppPath {
				fmt.Fprintf(p.Stdout, "exec %q: no such file\n", cmd)
				return 127
			}
			return testapp.Main(ctx, cmd[1:], testAppSystem(p))
		},
	}
}

func testAppSystem(p *fake.Proc) testapp.System {
	return testapp.System{
		Getenv:  p.Getenv,
		Stdout:  p.Stdout,
		Signals: p.Signals,
		Listen:  p.Listen,
		// As a Go program sees it when soft and hard are alike (its
		// runtime raises a lower soft limit to hard-1).
		Nofile: func() (uint64, uint64, error) {
			for _, u := range p.Spec.Ulimits {
				if u.Name == "nofile" {
					return uint64(u.Hard), uint64(u.Hard), nil
				}
			}
			return 0, 0, errors.New("no nofile ulimit")
		},
		Stdin:  p.Stdin,
		Stderr: p.Stderr,
		Terminal: func() (string, int, int, error) {
			if !p.TTY {
				return "", 0, 0, errors.New("not a terminal")
			}
			sz := p.TermSize()
			return "/dev/pts/fake", int(sz.Rows), int(sz.Cols), nil
		},
	}
}

func TestContract(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
		return fake.New(fake.Config{Images: map[string]fake.Behavior{
			testAppImage: testAppBehavior(),
			missingImage: {PullErr: "pull access denied for registry.invalid/missing, repository does not exist"},
		}})
	}, runtimetest.ImageSet{TestApp: testAppImage, TestAppPath: testAppPath, Missing: missingImage})
}

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func spec(image string) runtime.ContainerSpec {
	return runtime.ContainerSpec{Cluster: "c", Task: "t1", Name: "app", Image: image}
}

// launch pulls, creates and starts a container.
func launch(t *testing.T, f *fake.Fake, s runtime.ContainerSpec) (string, error) {
	t.Helper()
	if _, err := f.Pull(t.Context(), s.Image); err != nil {
		return "", err
	}
	id, err := f.Create(t.Context(), s)
	if err != nil {
		return "", err
	}
	return id, f.Start(t.Context(), id)
}

func inspect(t *testing.T, f *fake.Fake, id string) runtime.Status {
	t.Helper()
	st, err := f.Inspect(t.Context(), id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return st
}

func TestRunTimeAndExitCode(t *testing.T) {
	clock := fake.NewManualClock(start)
	f := fake.New(fake.Config{Clock: clock, Default: fake.Behavior{RunTime: time.Minute, ExitCode: 2, Logs: "starting\n"}})
	id, err := launch(t, f, spec("app:1"))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if st := inspect(t, f, id); st.State != runtime.StateRunning {
		t.Fatalf("after 59s: state %s, want running", st.State)
	}
	clock.Advance(time.Second)
	st := inspect(t, f, id)
	want := runtime.Status{
		ID: id, Name: "app", State: runtime.StateExited, ExitCode: 2,
		StartedAt: start, FinishedAt: start.Add(time.Minute),
		Health: runtime.HealthUnknown, StopSignal: "SIGTERM",
		ImageDigest: st.ImageDigest,
		Labels:      map[string]string{runtime.LabelCluster: "c", runtime.LabelTask: "t1", runtime.LabelContainer: "app"},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	rc, err := f.Logs(t.Context(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if string(b) != "starting\n" {
		t.Errorf("logs = %q, want %q", b, "starting\n")
	}
}

func TestFailures(t *testing.T) {
	startErr := errors.New("CannotStartContainerError: boom")
	createErr := errors.New("create failed")
	f := fake.New(fake.Config{Images: map[string]fake.Behavior{
		"pull:1":   {PullErr: "manifest unknown"},
		"create:1": {CreateErr: createErr},
		"start:1":  {StartErr: startErr},
	}})
	tests := []struct {
		image string
		check func(error) bool
	}{
		{"pull:1", func(err error) bool {
			var pe *runtime.PullError
			return errors.As(err, &pe) && pe.Message == "manifest unknown" && pe.Image == "pull:1"
		}},
		{"create:1", func(err error) bool { return errors.Is(err, createErr) }},
		{"start:1", func(err error) bool { return errors.Is(err, startErr) }},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			s := spec(tt.image)
			s.Task = tt.image
			if _, err := launch(t, f, s); !tt.check(err) {
				t.Errorf("launch: err = %v, want the configured failure", err)
			}
		})
	}
}

func TestStopHeededAndIgnored(t *testing.T) {
	tests := []struct {
		name     string
		beh      fake.Behavior
		advance  time.Duration // clock time Stop has to wait
		wantCode int
	}{
		{"heeded", fake.Behavior{StopExitCode: 0}, 0, 0},
		{"heeded with code", fake.Behavior{StopExitCode: 143}, 0, 143},
		{"ignored", fake.Behavior{IgnoreStop: true}, 10 * time.Second, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fake.NewManualClock(start)
			f := fake.New(fake.Config{Clock: clock, Default: tt.beh})
			s := spec("app:1")
			s.StopSignal = "SIGINT"
			s.StopTimeout = 10 * time.Second
			id, err := launch(t, f, s)
			if err != nil {
				t.Fatal(err)
			}
			stopped := make(chan error, 1)
			go func() { stopped <- f.Stop(t.Context(), id, 0) }()
			if tt.advance > 0 {
				// Stop has sent the signal once a kill timer is pending.
				waitFor(t, "Stop to arm its kill timer", func() bool { return clock.Pending() > 0 })
				clock.Advance(tt.advance)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if st := inspect(t, f, id); st.State != runtime.StateExited || st.ExitCode != tt.wantCode {
				t.Errorf("after Stop: %s/%d, want exited/%d", st.State, st.ExitCode, tt.wantCode)
			}
			if sigs, _ := f.Signals(id); !cmp.Equal(sigs, []string{"SIGINT"}) {
				t.Errorf("signals sent = %v, want [SIGINT]", sigs)
			}
		})
	}
}

func TestHealthSequence(t *testing.T) {
	clock := fake.NewManualClock(start)
	seq := []runtime.Health{runtime.HealthUnknown, runtime.HealthHealthy, runtime.HealthUnhealthy}
	f := fake.New(fake.Config{Clock: clock, Default: fake.Behavior{Health: seq}})
	s := spec("app:1")
	s.HealthCheck = &runtime.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second}
	id, err := launch(t, f, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.Health{runtime.HealthUnknown, runtime.HealthUnknown, runtime.HealthHealthy, runtime.HealthUnhealthy, runtime.HealthUnhealthy}
	var got []runtime.Health
	for range want {
		got = append(got, inspect(t, f, id).Health)
		clock.Advance(5 * time.Second)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("health over time (-want +got):\n%s", diff)
	}
}

func TestHealthFromExec(t *testing.T) {
	clock := fake.NewManualClock(start)
	code := 1
	f := fake.New(fake.Config{Clock: clock, Default: fake.Behavior{
		Exec: func(ctx context.Context, p *fake.Proc, cmd []string) int { return code },
	}})
	s := spec("app:1")
	s.HealthCheck = &runtime.HealthCheck{Command: []string{"CMD", "check"}, Interval: time.Second, Retries: 2}
	id, err := launch(t, f, s)
	if err != nil {
		t.Fatal(err)
	}
	// Each check runs in a goroutine and schedules the next when done.
	for range 2 {
		waitFor(t, "the next health check to be scheduled", func() bool { return clock.Pending() > 0 })
		clock.Advance(time.Second)
	}
	waitFor(t, "UNHEALTHY", func() bool { return inspect(t, f, id).Health == runtime.HealthUnhealthy })
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestExitAndSpec(t *testing.T) {
	f := fake.New(fake.Config{})
	s := spec("app:1")
	s.Env = map[string]string{"A": "1"}
	id, err := launch(t, f, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Spec(id)
	if err != nil {
		t.Fatal(err)
	}
	want := s.WithDefaults(runtime.NofileDefault(0, true))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Spec mismatch (-want +got):\n%s", diff)
	}
	if err := f.Exit(id, 9); err != nil {
		t.Fatal(err)
	}
	st, err := f.Wait(t.Context(), id)
	if err != nil || st.ExitCode != 9 {
		t.Errorf("Wait = %d, %v; want 9, nil", st.ExitCode, err)
	}
	if err := f.Start(t.Context(), id); !errors.Is(err, fake.ErrExited) {
		t.Errorf("Start after exit: err = %v, want ErrExited", err)
	}
}
