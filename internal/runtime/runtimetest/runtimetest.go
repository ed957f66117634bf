// Package runtimetest is the contract test suite every runtime.Runtime
// implementation passes: the fake always, the process runtime on Linux, and
// Docker when a daemon answers. The containers run the testapp program
// (package testapp); an implementation's test provides it as an image and
// calls Run.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/runtime"
)

// waitTimeout bounds every wait for a container to change state.
const waitTimeout = 60 * time.Second

// pollInterval is how often the suite re-checks a condition it waits for.
const pollInterval = 50 * time.Millisecond

// ImageSet tells the suite how to run the testapp on the runtime under test.
type ImageSet struct {
	// TestApp is an image whose entrypoint is the testapp; the suite
	// passes the subcommand as ContainerSpec.Command.
	TestApp string
	// TestAppPath is the testapp executable's path as commands run in the
	// container (Exec, "CMD" health checks) see it.
	TestAppPath string
	// Missing is an image reference that Pull fails to fetch.
	Missing string
	// DefaultNofile is the nofile limit the runtime gives a container
	// whose spec sets none; 0 means runtime.DefaultNofileLimit. It is
	// lower only on hosts that cap it (see runtime.HostNofile).
	DefaultNofile int64
}

// Run runs the contract suite. newRuntime returns the runtime to test,
// ready for use, and arranges its own cleanup; Run calls it once per
// subtest. Subtests run in parallel.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, images ImageSet) {
	t.Helper()
	s := &suite{images: images, cluster: "runtimetest-" + randomHex(4)}
	tests := []struct {
		name string
		fn   func(t *testing.T, r runtime.Runtime)
	}{
		{"ServeHTTPThroughHostBinding", s.testServeHTTP},
		{"EnvAndCommand", s.testEnvAndCommand},
		{"ExitCode", s.testExitCode},
		{"StopSendsStopSignal", s.testStopSignal},
		{"StopKillsAfterTimeout", s.testStopKills},
		{"StopNotRunning", s.testStopNotRunning},
		{"HealthCheckHealthy", s.testHealthy},
		{"HealthCheckUnhealthy", s.testUnhealthy},
		{"DefaultNofile", s.testDefaultNofile},
		{"ExplicitUlimit", s.testExplicitUlimit},
		{"ListByLabel", s.testList},
		{"NameInUse", s.testNameInUse},
		{"LogsFollow", s.testLogsFollow},
		{"Exec", s.testExec},
		{"ExecStreams", s.testExecStreams},
		{"ExecTTY", s.testExecTTY},
		{"Remove", s.testRemove},
		{"NotFound", s.testNotFound},
		{"PullFailure", s.testPullFailure},
		{"InvalidSpec", s.testInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newRuntime(t))
		})
	}
}

type suite struct {
	images  ImageSet
	cluster string
}

// spec is a testapp container of a task of its own, running args.
func (s *suite) spec(args ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Cluster: s.cluster,
		Task:    "task-" + randomHex(6),
		Name:    "app",
		Image:   s.images.TestApp,
		Command: args,
		Env:     map[string]string{"PORT": "8080"},
	}
}

// serveSpec runs "serve" with container port 8080 published on a dynamic
// host port.
func (s *suite) serveSpec(args ...string) runtime.ContainerSpec {
	spec := s.spec(append([]string{"serve"}, args...)...)
	spec.PortMappings = []runtime.PortMapping{{ContainerPort: 8080}}
	return spec
}

// create pulls the image and creates a container that the test removes at
// its end.
func (s *suite) create(t *testing.T, r runtime.Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	if _, err := r.Pull(t.Context(), spec.Image); err != nil {
		t.Fatalf("Pull(%q): %v", spec.Image, err)
	}
	id, err := r.Create(t.Context(), spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := r.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: Remove(%s): %v", id, err)
		}
	})
	return id
}

// run creates and starts a container.
func (s *suite) run(t *testing.T, r runtime.Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	id := s.create(t, r, spec)
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	return id
}

// wait waits for the container to exit and returns its status.
func wait(t *testing.T, r runtime.Runtime, id string) runtime.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	st, err := r.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	if st.State != runtime.StateExited {
		t.Fatalf("Wait(%s): state %q, want %q", id, st.State, runtime.StateExited)
	}
	return st
}

func inspect(t *testing.T, r runtime.Runtime, id string) runtime.Status {
	t.Helper()
	st, err := r.Inspect(t.Context(), id)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", id, err)
	}
	return st
}

// logs returns the container's output so far.
func logs(t *testing.T, r runtime.Runtime, id string) string {
	t.Helper()
	rc, err := r.Logs(t.Context(), id, false)
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Logs(%s): read: %v", id, err)
	}
	return string(b)
}

// eventually polls cond until it returns true, failing the test at the
// deadline with the last description cond gave.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", waitTimeout, what, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// waitLogs waits until the container's output contains want.
func waitLogs(t *testing.T, r runtime.Runtime, id, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("logs to contain %q", want), func() (bool, string) {
		got := logs(t, r, id)
		return strings.Contains(got, want), fmt.Sprintf("logs %q", got)
	})
}

func (s *suite) testServeHTTP(t *testing.T, r runtime.Runtime) {
	spec := s.serveSpec()
	digest, err := r.Pull(t.Context(), spec.Image)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if !strings.HasPrefix(digest, "sha256:") {
		t.Errorf("Pull digest = %q, want sha256:...", digest)
	}
	id := s.run(t, r, spec)

	st := inspect(t, r, id)
	if st.State != runtime.StateRunning {
		t.Fatalf("state = %q, want running", st.State)
	}
	if st.ID != id || st.Name != "app" {
		t.Errorf("ID, Name = %q, %q; want %q, app", st.ID, st.Name, id)
	}
	if st.StartedAt.IsZero() || !st.FinishedAt.IsZero() {
		t.Errorf("StartedAt, FinishedAt = %v, %v; want set, zero", st.StartedAt, st.FinishedAt)
	}
	if st.ImageDigest != digest {
		t.Errorf("ImageDigest = %q, want Pull's %q", st.ImageDigest, digest)
	}
	for k, v := range map[string]string{runtime.LabelCluster: s.cluster, runtime.LabelTask: spec.Task, runtime.LabelContainer: "app"} {
		if st.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, st.Labels[k], v)
		}
	}
	if len(st.Ports) != 1 {
		t.Fatalf("Ports = %+v, want one binding", st.Ports)
	}
	b := st.Ports[0]
	if b.ContainerPort != 8080 || b.Protocol != runtime.TCP || b.HostIP != runtime.DefaultHostIP || b.HostPort == 0 {
		t.Fatalf("binding = %+v, want 8080/tcp on 127.0.0.1:<dynamic>", b)
	}

	url := fmt.Sprintf("http://127.0.0.1:%d/", b.HostPort)
	eventually(t, "an HTTP answer from "+url, func() (bool, string) {
		body, err := httpGet(t.Context(), url)
		return err == nil && body == "hello from testapp\n", fmt.Sprintf("body %q, err %v", body, err)
	})
}

func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

func (s *suite) testEnvAndCommand(t *testing.T, r runtime.Runtime) {
	spec := s.spec("print-env", "GREETING", "OTHER")
	spec.Env["GREETING"] = "hello world"
	spec.Env["OTHER"] = "a=b"
	id := s.run(t, r, spec)
	if st := wait(t, r, id); st.ExitCode != 0 {
		t.Fatalf("exit code = %d, want 0; logs:\n%s", st.ExitCode, logs(t, r, id))
	}
	got := logs(t, r, id)
	for _, want := range []string{"GREETING=hello world\n", "OTHER=a=b\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("logs = %q, want them to contain %q", got, want)
		}
	}

	id = s.run(t, r, s.spec("echo", "one", "two words", ""))
	wait(t, r, id)
	if got, want := logs(t, r, id), "one two words \n"; got != want {
		t.Errorf("echo logs = %q, want %q (arguments passed one for one)", got, want)
	}
}

func (s *suite) testExitCode(t *testing.T, r runtime.Runtime) {
	id := s.run(t, r, s.spec("exit", "3"))
	st := wait(t, r, id)
	if st.ExitCode != 3 {
		t.Errorf("ExitCode = %d, want 3", st.ExitCode)
	}
	if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("StartedAt, FinishedAt = %v, %v; want set and ordered", st.StartedAt, st.FinishedAt)
	}
	if len(st.Ports) != 0 {
		t.Errorf("Ports = %+v, want none", st.Ports)
	}
	again := inspect(t, r, id)
	if again.State != runtime.StateExited || again.ExitCode != 3 {
		t.Errorf("Inspect after exit = %s/%d, want exited/3", again.State, again.ExitCode)
	}
}

func (s *suite) testStopSignal(t *testing.T, r runtime.Runtime) {
	spec := s.serveSpec()
	spec.StopSignal = "USR1"
	id := s.run(t, r, spec)
	if got := inspect(t, r, id).StopSignal; got != "SIGUSR1" {
		t.Errorf("StopSignal = %q, want SIGUSR1", got)
	}
	waitLogs(t, r, id, "listening on")

	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := r.Stop(ctx, id, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st := inspect(t, r, id)
	if st.State != runtime.StateExited || st.ExitCode != 0 {
		t.Errorf("after Stop: %s/%d, want exited/0 (the app exits 0 on a signal)", st.State, st.ExitCode)
	}
	if got := logs(t, r, id); !strings.Contains(got, "signal: SIGUSR1\n") {
		t.Errorf("logs = %q, want the app to have received SIGUSR1", got)
	}
}

func (s *suite) testStopKills(t *testing.T, r runtime.Runtime) {
	spec := s.serveSpec("-ignore-signals")
	spec.StopTimeout = time.Second
	id := s.run(t, r, spec)
	waitLogs(t, r, id, "listening on")

	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	start := time.Now()
	if err := r.Stop(ctx, id, 0); err != nil { // 0: the spec's StopTimeout
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("Stop returned after %v, want it to wait out the 1s stop timeout", took)
	}
	st := inspect(t, r, id)
	if st.State != runtime.StateExited || st.ExitCode != 137 {
		t.Errorf("after Stop: %s/%d, want exited/137 (SIGKILL)", st.State, st.ExitCode)
	}
	if got := logs(t, r, id); !strings.Contains(got, "signal: SIGTERM (ignored)") {
		t.Errorf("logs = %q, want SIGTERM delivered before SIGKILL", got)
	}
}

func (s *suite) testStopNotRunning(t *testing.T, r runtime.Runtime) {
	id := s.create(t, r, s.spec("exit", "0"))
	if err := r.Stop(t.Context(), id, time.Second); err != nil {
		t.Fatalf("Stop of a created container: %v", err)
	}
	st, err := r.Wait(t.Context(), id)
	if err != nil {
		t.Fatalf("Wait on a created container: %v", err)
	}
	if st.State != runtime.StateCreated || st.Health != runtime.HealthUnknown {
		t.Errorf("state, health = %s, %s; want created, UNKNOWN", st.State, st.Health)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start after Stop of a created container: %v", err)
	}
	wait(t, r, id)
	if err := r.Stop(t.Context(), id, time.Second); err != nil {
		t.Errorf("Stop of an exited container: %v", err)
	}
}

func (s *suite) healthSpec(check ...string) runtime.ContainerSpec {
	spec := s.serveSpec()
	spec.HealthCheck = &runtime.HealthCheck{
		Command:  append([]string{"CMD", s.images.TestAppPath}, check...),
		Interval: 500 * time.Millisecond,
		Timeout:  5 * time.Second,
		Retries:  2,
	}
	return spec
}

func waitHealth(t *testing.T, r runtime.Runtime, id string, want runtime.Health) {
	t.Helper()
	eventually(t, "health "+string(want), func() (bool, string) {
		st := inspect(t, r, id)
		return st.Health == want, fmt.Sprintf("state %s, health %s", st.State, st.Health)
	})
}

func (s *suite) testHealthy(t *testing.T, r runtime.Runtime) {
	id := s.create(t, r, s.healthSpec("health"))
	if got := inspect(t, r, id).Health; got != runtime.HealthUnknown {
		t.Errorf("health before start = %s, want UNKNOWN", got)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	waitHealth(t, r, id, runtime.HealthHealthy)
}

func (s *suite) testUnhealthy(t *testing.T, r runtime.Runtime) {
	id := s.run(t, r, s.healthSpec("exit", "1"))
	waitHealth(t, r, id, runtime.HealthUnhealthy)
	if st := inspect(t, r, id); st.State != runtime.StateRunning {
		t.Errorf("state = %s, want an unhealthy container left running", st.State)
	}
}

func (s *suite) testDefaultNofile(t *testing.T, r runtime.Runtime) {
	n := s.images.DefaultNofile
	if n == 0 {
		n = runtime.DefaultNofileLimit
	}
	if n != runtime.DefaultNofileLimit {
		t.Logf("this host caps the default nofile at %d (no CAP_SYS_RESOURCE, hard limit below %d)", n, runtime.DefaultNofileLimit)
	}
	id := s.run(t, r, s.spec("nofile"))
	wait(t, r, id)
	if got, want := logs(t, r, id), fmt.Sprintf("nofile soft=%d hard=%d\n", n, n); got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
}

func (s *suite) testExplicitUlimit(t *testing.T, r runtime.Runtime) {
	spec := s.spec("nofile")
	// Soft and hard alike: a Go program raises a lower soft limit to
	// hard-1 at startup, so it cannot report the soft limit it was given.
	spec.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 4096, Hard: 4096}}
	id := s.run(t, r, spec)
	wait(t, r, id)
	if got, want := logs(t, r, id), "nofile soft=4096 hard=4096\n"; got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
}

func (s *suite) testList(t *testing.T, r runtime.Runtime) {
	a := s.serveSpec()
	running := s.run(t, r, a)
	b := s.spec("exit", "0")
	created := s.create(t, r, b)

	ids := func(labels map[string]string) []string {
		t.Helper()
		cs, err := r.List(t.Context(), labels)
		if err != nil {
			t.Fatalf("List(%v): %v", labels, err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}

	got, err := r.List(t.Context(), map[string]string{runtime.LabelTask: a.Task})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []runtime.Container{{
		ID:     running,
		Name:   "app",
		Image:  a.Image,
		State:  runtime.StateRunning,
		Labels: map[string]string{runtime.LabelCluster: s.cluster, runtime.LabelTask: a.Task, runtime.LabelContainer: "app"},
	}}
	// Images may add labels of their own; compare the berth ones.
	for i := range got {
		for k := range got[i].Labels {
			if !strings.HasPrefix(k, "berth.") {
				delete(got[i].Labels, k)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(task) mismatch (-want +got):\n%s", diff)
	}

	all := ids(map[string]string{runtime.LabelCluster: s.cluster})
	for _, id := range []string{running, created} {
		if !slices.Contains(all, id) {
			t.Errorf("List(cluster) = %v, want it to include %s", all, id)
		}
	}
	both := ids(map[string]string{runtime.LabelCluster: s.cluster, runtime.LabelTask: b.Task})
	if !slices.Equal(both, []string{created}) {
		t.Errorf("List(cluster, task) = %v, want [%s]", both, created)
	}
	if none := ids(map[string]string{runtime.LabelTask: "no-such-task"}); len(none) != 0 {
		t.Errorf("List(no-such-task) = %v, want none", none)
	}
}

func (s *suite) testNameInUse(t *testing.T, r runtime.Runtime) {
	spec := s.spec("exit", "0")
	s.create(t, r, spec)
	id, err := r.Create(t.Context(), spec)
	if err == nil {
		_ = r.Remove(context.Background(), id)
	}
	if !errors.Is(err, runtime.ErrNameInUse) {
		t.Errorf("second Create for the same task and name: err = %v, want ErrNameInUse", err)
	}
}

func (s *suite) testLogsFollow(t *testing.T, r runtime.Runtime) {
	id := s.run(t, r, s.serveSpec())
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	rc, err := r.Logs(ctx, id, true)
	if err != nil {
		t.Fatalf("Logs(follow): %v", err)
	}
	defer rc.Close()

	// Read until the app says it listens, then stop it: the stream must
	// deliver the signal line and end.
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "listening on") {
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("reading followed logs: %v (got %q)", err, got.String())
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx, id, 30*time.Second) }()
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading followed logs to the end: %v", err)
	}
	got.Write(rest)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !strings.Contains(got.String(), "signal: SIGTERM\n") {
		t.Errorf("followed logs = %q, want them to end with the signal line", got.String())
	}
}

func (s *suite) testExec(t *testing.T, r runtime.Runtime) {
	spec := s.serveSpec()
	spec.Env["GREETING"] = "hi there"
	id := s.run(t, r, spec)
	waitLogs(t, r, id, "listening on")

	var out strings.Builder
	code, err := r.Exec(t.Context(), id, runtime.ExecRequest{
		Cmd:    []string{s.images.TestAppPath, "print-env", "GREETING"},
		Stdout: &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("Exec(print-env) = %d, %v; want 0, nil", code, err)
	}
	if got, want := out.String(), "GREETING=hi there\n"; got != want {
		t.Errorf("Exec output = %q, want %q (the container's environment)", got, want)
	}

	code, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{s.images.TestAppPath, "exit", "4"}})
	if err != nil || code != 4 {
		t.Errorf("Exec(exit 4) = %d, %v; want 4, nil", code, err)
	}

	if err := r.Stop(t.Context(), id, 30*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	_, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{s.images.TestAppPath, "exit", "0"}})
	if !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("Exec in an exited container: err = %v, want ErrNotRunning", err)
	}
}

// testExecStreams: output on stdout and stderr apart, stdin in, and a
// command whose stdin never ends still returns when it exits.
func (s *suite) testExecStreams(t *testing.T, r runtime.Runtime) {
	id := s.run(t, r, s.serveSpec())
	waitLogs(t, r, id, "listening on")
	app := s.images.TestAppPath

	var stdout, stderr strings.Builder
	code, err := r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "echo", "hi"}, Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 0 || stdout.String() != "hi\n" || stderr.String() != "" {
		t.Errorf("Exec(echo hi) = %d, %v, stdout %q, stderr %q; want 0, nil, \"hi\\n\", \"\"", code, err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	code, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "stderr", "oops"}, Stdout: &stdout, Stderr: &stderr})
	if err != nil || code != 0 || stdout.String() != "" || stderr.String() != "oops\n" {
		t.Errorf("Exec(stderr oops) = %d, %v, stdout %q, stderr %q; want 0, nil, \"\", \"oops\\n\"", code, err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	in := "line 1\nline 2\n"
	code, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "cat"}, Stdin: strings.NewReader(in), Stdout: &stdout})
	if err != nil || code != 0 || stdout.String() != in {
		t.Errorf("Exec(cat) = %d, %v, stdout %q; want 0, nil, %q", code, err, stdout.String(), in)
	}

	pr, pw := io.Pipe() // never written: an interactive user who typed nothing
	defer pw.Close()
	start := time.Now()
	code, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "exit", "5"}, Stdin: pr})
	if err != nil || code != 5 {
		t.Errorf("Exec(exit 5) with open stdin = %d, %v; want 5, nil", code, err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Exec(exit 5) with open stdin took %v; want it to return when the command exits", d)
	}
}

// testExecTTY: with TTY the command runs on a terminal that takes the
// sizes Resize delivers; without, on none.
func (s *suite) testExecTTY(t *testing.T, r runtime.Runtime) {
	id := s.run(t, r, s.serveSpec())
	waitLogs(t, r, id, "listening on")
	app := s.images.TestAppPath

	var out strings.Builder
	code, err := r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "tty"}, Stdout: &out})
	if err != nil || code != 1 || out.String() != "not a tty\n" {
		t.Errorf("Exec(tty) without TTY = %d, %v, %q; want 1, nil, \"not a tty\\n\"", code, err, out.String())
	}

	out.Reset()
	code, err = r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "tty"}, TTY: true, Stdout: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "/dev/pts/") {
		t.Errorf("Exec(tty) with TTY = %d, %v, %q; want 0, nil, a /dev/pts/ name", code, err, out.String())
	}

	// size prints the terminal's size for every line it reads: type
	// lines until it shows the size sent, then resize and again.
	resize := make(chan runtime.TermSize, 1)
	resize <- runtime.TermSize{Rows: 30, Cols: 100}
	pr, pw := io.Pipe()
	var got lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(t.Context(), id, runtime.ExecRequest{Cmd: []string{app, "size"}, TTY: true, Stdin: pr, Stdout: &got, Resize: resize})
		done <- err
	}()
	for _, want := range []runtime.TermSize{{Rows: 30, Cols: 100}, {Rows: 40, Cols: 120}} {
		if want.Rows == 40 {
			resize <- want
		}
		line := fmt.Sprintf("size %dx%d", want.Rows, want.Cols)
		deadline := time.Now().Add(waitTimeout)
		for !strings.Contains(got.String(), line) {
			if time.Now().After(deadline) {
				t.Fatalf("terminal output %q never showed %q", got.String(), line)
			}
			if _, err := pw.Write([]byte("\n")); err != nil {
				t.Fatalf("write stdin: %v (output %q)", err, got.String())
			}
			time.Sleep(pollInterval)
		}
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Exec(size): %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Exec(size) did not return after its stdin closed")
	}
}

// lockedBuffer is a strings.Builder safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (s *suite) testRemove(t *testing.T, r runtime.Runtime) {
	spec := s.serveSpec()
	id := s.run(t, r, spec)
	if err := r.Remove(t.Context(), id); err != nil {
		t.Fatalf("Remove of a running container: %v", err)
	}
	if _, err := r.Inspect(t.Context(), id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect after Remove: err = %v, want ErrNotFound", err)
	}
	cs, err := r.List(t.Context(), map[string]string{runtime.LabelTask: spec.Task})
	if err != nil || len(cs) != 0 {
		t.Errorf("List after Remove = %v, %v; want none", cs, err)
	}
	// The task's container name is free again.
	s.create(t, r, spec)
}

func (s *suite) testNotFound(t *testing.T, r runtime.Runtime) {
	const id = "0123456789abcdef0123456789abcdef"
	ctx := t.Context()
	calls := map[string]func() error{
		"Inspect": func() error { _, err := r.Inspect(ctx, id); return err },
		"Start":   func() error { return r.Start(ctx, id) },
		"Stop":    func() error { return r.Stop(ctx, id, time.Second) },
		"Remove":  func() error { return r.Remove(ctx, id) },
		"Wait":    func() error { _, err := r.Wait(ctx, id); return err },
		"Logs":    func() error { _, err := r.Logs(ctx, id, false); return err },
		"Exec": func() error {
			_, err := r.Exec(ctx, id, runtime.ExecRequest{Cmd: []string{"true"}})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s(unknown id): err = %v, want ErrNotFound", name, err)
		}
	}
}

func (s *suite) testPullFailure(t *testing.T, r runtime.Runtime) {
	_, err := r.Pull(t.Context(), s.images.Missing)
	var pe *runtime.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("Pull(%q): err = %v (%T), want *runtime.PullError", s.images.Missing, err, err)
	}
	if pe.Image != s.images.Missing || pe.Message == "" {
		t.Errorf("PullError = %+v, want Image %q and the engine's message", pe, s.images.Missing)
	}
	t.Logf("pull failure message: %s", pe.Message)
}

func (s *suite) testInvalidSpec(t *testing.T, r runtime.Runtime) {
	spec := s.spec("exit", "0")
	spec.Ulimits = []runtime.Ulimit{{Name: "nofiles", Soft: 1, Hard: 1}}
	_, err := r.Create(t.Context(), spec)
	var se *runtime.SpecError
	if !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &se) || se.Field != "Ulimits[0].Name" {
		t.Errorf("Create with a bad ulimit: err = %v, want a *SpecError for Ulimits[0].Name", err)
	}
}

// BuildTestApp builds the testapp as a static Linux binary in a temporary
// directory and returns its path.
func BuildTestApp(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the testapp needs the go command: %v", err)
	}
	out := filepath.Join(t.TempDir(), "testapp")
	cmd := exec.CommandContext(t.Context(), gobin, "build", "-trimpath", "-o", out,
		"github.com/berth-io/berth/internal/runtime/testapp/cmd/testapp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testapp: %v\n%s", err, b)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
