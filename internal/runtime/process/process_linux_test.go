package process_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/process"
	"github.com/berth-io/berth/internal/runtime/runtimetest"
)

// testWriter sends log output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func open(t *testing.T, dir string) *process.Runtime {
	t.Helper()
	r, err := process.New(process.Config{
		DataDir:      dir,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestContract(t *testing.T) {
	app := runtimetest.BuildTestApp(t)
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime {
		return open(t, t.TempDir())
	}, runtimetest.ImageSet{
		TestApp:       "process://" + app,
		TestAppPath:   app,
		Missing:       "process:///nonexistent/berth-missing-binary",
		DefaultNofile: runtime.HostNofile().Hard,
	})
}

// env is one test's runtime and testapp.
type env struct {
	t   *testing.T
	r   *process.Runtime
	app string
}

func newEnv(t *testing.T) *env {
	return &env{t: t, r: open(t, t.TempDir()), app: runtimetest.BuildTestApp(t)}
}

func (e *env) spec(args ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{Cluster: "c", Task: "t-" + e.t.Name(), Name: "app", Image: "process://" + e.app, Command: args}
}

func (e *env) run(spec runtime.ContainerSpec) string {
	e.t.Helper()
	id, err := e.r.Create(e.t.Context(), spec)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	e.t.Cleanup(func() { _ = e.r.Remove(context.Background(), id) })
	if err := e.r.Start(e.t.Context(), id); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	return id
}

// eventually polls cond every 10ms until it holds, for up to 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func inspect(t *testing.T, r runtime.Runtime, id string) runtime.Status {
	t.Helper()
	st, err := r.Inspect(t.Context(), id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return st
}

func logs(t *testing.T, r runtime.Runtime, id string) string {
	t.Helper()
	rc, err := r.Logs(t.Context(), id, false)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		image   string
		want    string
		wantErr bool
	}{
		{"process:///usr/bin/app", "/usr/bin/app", false},
		{"process:/usr/bin/app", "/usr/bin/app", false},
		{"process:///opt/x/../bin/app", "/opt/bin/app", false},
		{"process:app", "app", false},
		{"process://host/usr/bin/app", "", true},
		{"process:bin/app", "", true},
		{"process:", "", true},
		{"process://", "", true},
		{"nginx:1.27", "", true},
		{"/usr/bin/app", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			got, err := process.ParseImage(tt.image)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseImage(%q) = %q, %v; want %q, error %v", tt.image, got, err, tt.want, tt.wantErr)
			}
			if process.IsImage(tt.image) != strings.HasPrefix(tt.image, "process:") {
				t.Errorf("IsImage(%q) = %v", tt.image, !process.IsImage(tt.image))
			}
		})
	}
}

func TestPullResolvesPATH(t *testing.T) {
	e := newEnv(t)
	t.Setenv("PATH", strings.TrimSuffix(e.app, "/testapp")+":"+os.Getenv("PATH"))
	digest, err := e.r.Pull(t.Context(), "process:testapp")
	if err != nil || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("Pull(process:testapp) = %q, %v; want a digest", digest, err)
	}
	abs, err := e.r.Pull(t.Context(), "process://"+e.app)
	if err != nil || abs != digest {
		t.Errorf("Pull by absolute path = %q, %v; want the same digest %q", abs, err, digest)
	}
}

func TestPortEnvironment(t *testing.T) {
	e := newEnv(t)
	spec := e.spec("serve")
	spec.PortMappings = []runtime.PortMapping{{ContainerPort: 8080}, {ContainerPort: 9090}}
	id := e.run(spec)
	ports := inspect(t, e.r, id).Ports
	if len(ports) != 2 {
		t.Fatalf("Ports = %+v, want two", ports)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/env/", ports[0].HostPort)
	var body string
	eventually(t, "the app to answer", func() bool {
		var err error
		body, err = get(url + "PORT_9090")
		return err == nil
	})
	if want := fmt.Sprint(ports[1].HostPort); body != want {
		t.Errorf("PORT_9090 = %q, want the second binding's host port %s", body, want)
	}
	if body, _ := get(url + "PORT_8080"); body != fmt.Sprint(ports[0].HostPort) {
		t.Errorf("PORT_8080 = %q, want %d", body, ports[0].HostPort)
	}
}

func TestEntryPointReplacesImage(t *testing.T) {
	e := newEnv(t)
	spec := e.spec("world")
	spec.Image = "process:///bin/false" // never run: the entrypoint replaces it
	spec.EntryPoint = []string{e.app, "echo", "hello"}
	id := e.run(spec)
	if st, err := e.r.Wait(t.Context(), id); err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	if got := logs(t, e.r, id); got != "hello world\n" {
		t.Errorf("logs = %q, want %q", got, "hello world\n")
	}
}

func TestShellHealthCheck(t *testing.T) {
	tests := []struct {
		line string
		want runtime.Health
	}{
		{`test "$PORT" -gt 0 && test "$GREETING" = hi`, runtime.HealthHealthy},
		{`exit 1`, runtime.HealthUnhealthy},
		{`sleep 5`, runtime.HealthUnhealthy}, // times out
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			e := newEnv(t)
			spec := e.spec("serve")
			spec.Env = map[string]string{"GREETING": "hi"}
			spec.PortMappings = []runtime.PortMapping{{ContainerPort: 8080}}
			spec.HealthCheck = &runtime.HealthCheck{
				Command:  []string{"CMD-SHELL", tt.line},
				Interval: 100 * time.Millisecond,
				Timeout:  200 * time.Millisecond,
				Retries:  1,
			}
			id := e.run(spec)
			eventually(t, string(tt.want), func() bool { return inspect(t, e.r, id).Health == tt.want })
		})
	}
}

func TestExecTTY(t *testing.T) {
	e := newEnv(t)
	spec := e.spec("serve")
	spec.PortMappings = []runtime.PortMapping{{ContainerPort: 8080}}
	id := e.run(spec)
	var out strings.Builder
	code, err := e.r.Exec(t.Context(), id, runtime.ExecRequest{
		Cmd:    []string{"/bin/sh", "-c", "tty; echo TERM=$TERM"},
		TTY:    true,
		Stdout: &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("Exec = %d, %v; want 0, nil", code, err)
	}
	if got := out.String(); !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "TERM=xterm") {
		t.Errorf("output = %q, want a /dev/pts terminal and TERM=xterm", got)
	}
}

func TestReadoptAfterRestart(t *testing.T) {
	dir := t.TempDir()
	app := runtimetest.BuildTestApp(t)
	first, err := process.New(process.Config{DataDir: dir, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	spec := runtime.ContainerSpec{Cluster: "c", Task: "t1", Name: "web", Image: "process://" + app, Command: []string{"serve"},
		PortMappings: []runtime.PortMapping{{ContainerPort: 8080}},
		HealthCheck:  &runtime.HealthCheck{Command: []string{"CMD", app, "health"}, Interval: 100 * time.Millisecond}}
	id, err := first.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	before := inspect(t, first, id)
	url := fmt.Sprintf("http://127.0.0.1:%d/", before.Ports[0].HostPort)
	eventually(t, "the app to answer", func() bool { _, err := get(url); return err == nil })
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// The agent restarts: a new runtime on the same data directory.
	second := open(t, dir)
	t.Cleanup(func() { _ = second.Remove(context.Background(), id) })
	cs, err := second.List(t.Context(), map[string]string{runtime.LabelCluster: "c"})
	if err != nil || len(cs) != 1 || cs[0].ID != id || cs[0].State != runtime.StateRunning {
		t.Fatalf("List after restart = %+v, %v; want the running container %s", cs, err, id)
	}
	after := inspect(t, second, id)
	if !after.StartedAt.Equal(before.StartedAt) || after.Ports[0] != before.Ports[0] {
		t.Errorf("status after restart = %+v, want it to match %+v", after, before)
	}
	if _, err := get(url); err != nil {
		t.Errorf("the re-adopted process no longer answers: %v", err)
	}
	eventually(t, "health checks to resume", func() bool { return inspect(t, second, id).Health == runtime.HealthHealthy })

	if err := second.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st := inspect(t, second, id)
	if st.State != runtime.StateExited || st.ExitCode != runtime.ExitCodeUnknown {
		t.Errorf("after Stop: %s/%d, want exited/%d (not our child: exit code unknown)", st.State, st.ExitCode, runtime.ExitCodeUnknown)
	}
	if got := logs(t, second, id); !strings.Contains(got, "signal: SIGTERM") {
		t.Errorf("logs = %q, want the stop signal delivered by the new runtime", got)
	}
}

func TestExitedWhileAway(t *testing.T) {
	dir := t.TempDir()
	app := runtimetest.BuildTestApp(t)
	first, err := process.New(process.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id, err := first.Create(t.Context(), runtime.ContainerSpec{Name: "web", Image: "process://" + app, Command: []string{"serve"},
		PortMappings: []runtime.PortMapping{{ContainerPort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir, id)
	_ = first.Close()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The first runtime, closed, still reaps its child; wait for that.
	eventually(t, "the process to be gone", func() bool { return syscall.Kill(pid, 0) != nil })

	second := open(t, dir)
	st := inspect(t, second, id)
	if st.State != runtime.StateExited || st.ExitCode != runtime.ExitCodeUnknown || st.FinishedAt.IsZero() {
		t.Errorf("status = %s/%d finished %v; want exited/%d with a finish time", st.State, st.ExitCode, st.FinishedAt, runtime.ExitCodeUnknown)
	}
}

func TestReusedPidIsNotAdopted(t *testing.T) {
	dir := t.TempDir()
	app := runtimetest.BuildTestApp(t)
	first, err := process.New(process.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id, err := first.Create(t.Context(), runtime.ContainerSpec{Name: "web", Image: "process://" + app, Command: []string{"serve"},
		PortMappings: []runtime.PortMapping{{ContainerPort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir, id)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	_ = first.Close()
	// Pretend the pid now belongs to another process: this test's.
	rewriteState(t, dir, id, func(s string) string {
		return strings.Replace(s, fmt.Sprintf(`"Pid": %d,`, pid), fmt.Sprintf(`"Pid": %d,`, os.Getpid()), 1)
	})
	second := open(t, dir)
	if st := inspect(t, second, id); st.State != runtime.StateExited {
		t.Errorf("state = %s, want exited: pid %d started at another time", st.State, os.Getpid())
	}
}

func statePath(dir, id string) string { return filepath.Join(dir, "containers", id, "state.json") }

// pidOf reads the container's pid from its state file.
func pidOf(t *testing.T, dir, id string) int {
	t.Helper()
	b, err := os.ReadFile(statePath(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(b, &st); err != nil || st.Pid == 0 {
		t.Fatalf("state file: pid %d, %v", st.Pid, err)
	}
	return st.Pid
}

func rewriteState(t *testing.T, dir, id string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(statePath(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(b))
	if edited == string(b) {
		t.Fatal("rewriteState: the edit changed nothing")
	}
	if err := os.WriteFile(statePath(dir, id), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
}
