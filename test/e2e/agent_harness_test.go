package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The runtimes `berth agent --runtime` offers.
const (
	runtimeDocker  = "docker"
	runtimeProcess = "process"
)

// agentRuntimes is the table the agent tests run over.
var agentRuntimes = []string{runtimeDocker, runtimeProcess}

// Time limits of the agent tests. They bound waits; nothing sleeps for
// them.
const (
	agentRegisterTimeout = 20 * time.Second
	taskTimeout          = 30 * time.Second
	taskPoll             = 50 * time.Millisecond
)

// agentOptions configures one `berth agent` process.
type agentOptions struct {
	// Runtime is docker or process (--runtime).
	Runtime string
	// Cluster to join (--cluster); default: a fresh name per agent.
	Cluster string
	// AZ is --availability-zone, if set.
	AZ string
	// CPU (units) and Memory (MiB) the agent offers; default 8192 each, so
	// a test's tasks never wait for resources.
	CPU, Memory int32
	// DataDir is the agent's --data-dir; default a fresh temporary one.
	DataDir string
	// Args are extra command-line flags.
	Args []string
}

// agentProc is one running (or stopped) `berth agent` process.
type agentProc struct {
	tb      testing.TB
	srv     *serverProc
	opts    agentOptions
	logPath string // stdout and stderr of every run, appended

	// Set by start; valid while running.
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	runCount int
	logStart int64 // size of the log when the current run started

	// instanceARN is the container instance the agent registered as (the
	// latest run's).
	instanceARN string
}

// startAgent runs `berth agent` against srv and waits until its container
// instance is registered and shows agentConnected. When the test ends it
// stops every task of the cluster still running, stops the agent, and
// removes what the tasks left behind (Docker containers, processes).
func startAgent(tb testing.TB, srv *serverProc, opts agentOptions) *agentProc {
	tb.Helper()
	if opts.Runtime == "" {
		opts.Runtime = runtimeProcess
	}
	if opts.Cluster == "" {
		opts.Cluster = "e2e-" + opts.Runtime + "-" + randomHex(4)
	}
	if opts.CPU == 0 {
		opts.CPU = 8192
	}
	if opts.Memory == 0 {
		opts.Memory = 8192
	}
	if opts.DataDir == "" {
		opts.DataDir = tb.TempDir()
	}
	a := &agentProc{tb: tb, srv: srv, opts: opts, logPath: filepath.Join(tb.TempDir(), "agent.log")}
	tb.Cleanup(a.cleanup)
	a.start()
	return a
}

// agentJoinToken reads the token the server keeps in its data dir.
func (s *serverProc) agentJoinToken(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "join-token"))
	if err != nil {
		tb.Fatalf("read the server's join token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// start launches the agent and waits until it registered and the server
// shows it connected.
func (a *agentProc) start() {
	a.tb.Helper()
	if a.running() {
		a.tb.Fatalf("start: berth agent already running")
	}
	a.runCount++
	args := []string{"agent", "-v",
		"--server", a.srv.endpoint,
		"--cluster", a.opts.Cluster,
		"--data-dir", a.opts.DataDir,
		"--runtime", a.opts.Runtime,
		"--cpu", strconv.Itoa(int(a.opts.CPU)),
		"--memory", strconv.Itoa(int(a.opts.Memory)),
		"--hostname", "e2e-" + a.opts.Cluster,
	}
	if a.opts.AZ != "" {
		args = append(args, "--availability-zone", a.opts.AZ)
	}
	args = append(args, a.opts.Args...)
	// The output goes to a file, not a pipe: processes the agent starts
	// may outlive it, and a pipe they inherited would keep Wait waiting.
	f, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.tb.Fatalf("open agent log: %v", err)
	}
	defer f.Close()
	st, _ := f.Stat()
	a.logStart = st.Size()
	fmt.Fprintf(f, "=== run %d: %s %s\n", a.runCount, berthBin, strings.Join(args, " "))
	cmd := exec.Command(berthBin, args...)
	cmd.Env = append(envWithout(os.Environ(), "BERTH_"), "BERTH_JOIN_TOKEN="+a.srv.agentJoinToken(a.tb))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		a.tb.Fatalf("start berth agent: %v", err)
	}
	exited := make(chan struct{})
	a.cmd, a.exited = cmd, exited
	go func() {
		a.waitErr = cmd.Wait()
		close(exited)
	}()
	a.instanceARN = a.waitRegistered()
	a.waitConnected(true, agentRegisterTimeout)
}

// registeredRE matches the agent's log line for a registration.
var registeredRE = regexp.MustCompile(`msg=registered .*?container_instance=(\S+)`)

// waitRegistered waits for this run's "registered" log line and returns
// the container instance ARN it names.
func (a *agentProc) waitRegistered() string {
	a.tb.Helper()
	deadline := time.Now().Add(agentRegisterTimeout)
	for {
		if m := registeredRE.FindStringSubmatch(a.runOutput()); m != nil {
			return m[1]
		}
		select {
		case <-a.exited:
			a.tb.Fatalf("berth agent exited before registering: %v\n%s", a.waitErr, a.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.tb.Fatalf("berth agent did not register within %v\n%s", agentRegisterTimeout, a.output())
		}
	}
}

// instance describes the agent's container instance.
func (a *agentProc) instance(ctx context.Context) (types.ContainerInstance, error) {
	out, err := a.srv.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String(a.opts.Cluster), ContainerInstances: []string{a.instanceARN},
	})
	if err != nil {
		return types.ContainerInstance{}, err
	}
	if len(out.ContainerInstances) != 1 {
		return types.ContainerInstance{}, fmt.Errorf("DescribeContainerInstances(%s): %d instances, failures %+v", a.instanceARN, len(out.ContainerInstances), out.Failures)
	}
	return out.ContainerInstances[0], nil
}

// waitConnected polls DescribeContainerInstances until agentConnected is
// want, failing the test after d. It returns how long that took.
func (a *agentProc) waitConnected(want bool, d time.Duration) time.Duration {
	a.tb.Helper()
	start := time.Now()
	waitFor(a.tb, d, fmt.Sprintf("instance %s agentConnected %v", a.instanceARN, want), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ci, err := a.instance(ctx)
		if err != nil {
			return false, err.Error()
		}
		return ci.AgentConnected == want, fmt.Sprintf("agentConnected %v, status %s", ci.AgentConnected, aws.ToString(ci.Status))
	})
	return time.Since(start)
}

func (a *agentProc) running() bool {
	if a.exited == nil {
		return false
	}
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM (the agent stops; its tasks keep running) and waits.
func (a *agentProc) stop() {
	a.tb.Helper()
	if !a.running() {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		if a.waitErr != nil {
			a.tb.Errorf("berth agent exited uncleanly after SIGTERM: %v", a.waitErr)
		}
	case <-time.After(stopTimeout):
		_ = a.cmd.Process.Kill()
		<-a.exited
		a.tb.Errorf("berth agent did not exit within %v of SIGTERM; killed it", stopTimeout)
	}
}

// kill9 kills the agent with SIGKILL, as a crash would, and waits for it
// to be gone. Its tasks keep running.
func (a *agentProc) kill9() {
	a.tb.Helper()
	if !a.running() {
		a.tb.Fatalf("kill9: berth agent is not running")
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
}

// restart starts the agent again on the same data dir (stopping it first
// if it still runs) and waits until it registered and is connected.
func (a *agentProc) restart() {
	a.tb.Helper()
	a.stop()
	a.start()
}

// output returns everything the agent printed in every run.
func (a *agentProc) output() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

// runOutput returns what the current run printed.
func (a *agentProc) runOutput() string {
	out := a.output()
	if int64(len(out)) < a.logStart {
		return ""
	}
	return out[a.logStart:]
}

// cleanup stops the cluster's tasks through the API while the agent still
// runs, stops the agent, and removes what is left: Docker containers
// labelled with the cluster, processes of the process runtime.
func (a *agentProc) cleanup() {
	tb := a.tb
	if tb.Failed() {
		tb.Logf("tasks of cluster %s at the failure:\n%s", a.opts.Cluster, a.dumpTasks())
	}
	if a.running() {
		a.stopAllTasks()
	}
	a.stop()
	switch a.opts.Runtime {
	case runtimeDocker:
		removeDockerContainers(tb, "berth.cluster="+a.opts.Cluster)
	case runtimeProcess:
		a.killProcesses()
	}
	if tb.Failed() {
		tb.Logf("berth agent output (data dir %s):\n%s", a.opts.DataDir, a.output())
	}
}

// stopAllTasks stops every task of the cluster that is not STOPPED and
// waits (bounded) until the agent reports them STOPPED.
func (a *agentProc) stopAllTasks() {
	tb := a.tb
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	arns, err := a.listTasks(ctx, types.DesiredStatusRunning)
	if err != nil {
		tb.Logf("cleanup: ListTasks: %v", err)
		return
	}
	for _, arn := range arns {
		if _, err := a.srv.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(a.opts.Cluster), Task: aws.String(arn), Reason: aws.String("e2e cleanup")}); err != nil {
			tb.Logf("cleanup: StopTask %s: %v", arn, err)
		}
	}
	pending := arns
	for len(pending) > 0 && ctx.Err() == nil {
		tasks, err := describeTasks(ctx, a.srv.ecs, a.opts.Cluster, pending)
		if err != nil {
			tb.Logf("cleanup: DescribeTasks: %v", err)
			return
		}
		pending = pending[:0:0]
		for _, t := range tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				pending = append(pending, aws.ToString(t.TaskArn))
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(pending) > 0 {
		tb.Errorf("cleanup: tasks not STOPPED 45s after StopTask: %v", pending)
	}
}

// listTasks lists the cluster's tasks with the given desired status.
func (a *agentProc) listTasks(ctx context.Context, desired types.DesiredStatus) ([]string, error) {
	var arns []string
	p := ecs.NewListTasksPaginator(a.srv.ecs, &ecs.ListTasksInput{Cluster: aws.String(a.opts.Cluster), DesiredStatus: desired})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		arns = append(arns, page.TaskArns...)
	}
	return arns, nil
}

// dumpTasks returns DescribeTasks of every task of the cluster as JSON,
// for failure messages.
func (a *agentProc) dumpTasks() string {
	if !a.srv.running() {
		return "(server not running)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all []string
	for _, d := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		arns, err := a.listTasks(ctx, d)
		if err != nil {
			return "ListTasks: " + err.Error()
		}
		all = append(all, arns...)
	}
	if len(all) == 0 {
		return "(no tasks)"
	}
	tasks, err := describeTasks(ctx, a.srv.ecs, a.opts.Cluster, all)
	if err != nil {
		return "DescribeTasks: " + err.Error()
	}
	return taskJSON(tasks...)
}

// killProcesses SIGKILLs the process groups of the process runtime's
// containers that still run (after a failed test, or a task the agent lost
// track of). It reads the runtime's state files.
func (a *agentProc) killProcesses() {
	for _, c := range processContainers(a.tb, a.opts.DataDir) {
		if c.Pid <= 0 || !processAlive(c.Pid, c.StartTicks) {
			continue
		}
		a.tb.Logf("cleanup: killing leftover process group %d of container %s (%s)", c.Pid, c.ID, c.Spec.Name)
		_ = syscall.Kill(-c.Pid, syscall.SIGKILL)
	}
}

// processContainer is what the agent tests read from a process runtime
// state file (<agent data dir>/process/containers/<id>/state.json).
type processContainer struct {
	ID         string
	Pid        int
	StartTicks uint64
	State      string
	Spec       struct {
		Task string
		Name string
	}
}

// processContainers reads every state file of the process runtime under
// an agent's data dir.
func processContainers(tb testing.TB, agentDataDir string) []processContainer {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(agentDataDir, "process", "containers", "*", "state.json"))
	if err != nil {
		tb.Fatalf("glob state files: %v", err)
	}
	var out []processContainer
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			tb.Errorf("read %s: %v", p, err)
			continue
		}
		var c processContainer
		if err := json.Unmarshal(b, &c); err != nil {
			tb.Errorf("decode %s: %v", p, err)
			continue
		}
		out = append(out, c)
	}
	return out
}

// processAlive reports whether pid runs and is the process that started
// at startTicks (field 22 of /proc/<pid>/stat), not a zombie.
func processAlive(pid int, startTicks uint64) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return false
	}
	fields := strings.Fields(s[i+1:]) // fields[0] is field 3, the state
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return false
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	return err == nil && ticks == startTicks
}

// ---- The test app ----

// testApp is how a task definition runs the testapp program
// (internal/runtime/testapp) on one runtime.
type testApp struct {
	Runtime string
	// Image runs the testapp with the container's command as its
	// arguments: a Docker image whose entrypoint it is, or process:///path.
	Image string
	// Path is the testapp's path as the container sees it (for
	// health checks).
	Path string
	// Digest is the imageDigest the agent should report.
	Digest string
	// Missing is an image the runtime cannot pull.
	Missing string
}

// buildTestAppBinary builds the testapp as a static binary in a temporary
// directory and returns its path.
func buildTestAppBinary(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "testapp")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-o", out, "github.com/berth-io/berth/internal/runtime/testapp/cmd/testapp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build testapp: %v\n%s", err, b)
	}
	return out
}

// newTestApp prepares the testapp for runtime rt: the binary for the
// process runtime, a FROM scratch image (removed when the test ends) for
// Docker. It skips the test when rt is docker and no engine answers.
func newTestApp(tb testing.TB, rt string) testApp {
	tb.Helper()
	if rt == runtimeDocker {
		requireDocker(tb)
	}
	bin := buildTestAppBinary(tb)
	switch rt {
	case runtimeProcess:
		b, err := os.ReadFile(bin)
		if err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return testApp{
			Runtime: rt,
			Image:   "process://" + bin,
			Path:    bin,
			Digest:  "sha256:" + hex.EncodeToString(sum[:]),
			Missing: "process://" + filepath.Join(tb.TempDir(), "no-such-program"),
		}
	case runtimeDocker:
		tag := buildDockerImage(tb, bin)
		id := strings.TrimSpace(dockerOut(tb, "image", "inspect", "--format", "{{.Id}}", tag))
		return testApp{
			Runtime: rt,
			Image:   tag,
			Path:    "/testapp",
			Digest:  id,
			Missing: "127.0.0.1:1/berth-e2e/missing:latest", // nothing listens there
		}
	default:
		tb.Fatalf("unknown runtime %q", rt)
		return testApp{}
	}
}

// ---- Docker ----

// requireDocker skips the test when no Docker engine answers.
func requireDocker(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		tb.Skipf("skipping the docker runtime: no docker command (%v); install Docker and start dockerd to run it (CI does)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		tb.Skipf("skipping the docker runtime: no Docker engine answers (%v: %s); start dockerd (or set DOCKER_HOST) to run it (CI does)", err, strings.TrimSpace(string(out)))
	}
}

// dockerOut runs the docker command and returns its stdout, failing the
// test on an error.
func dockerOut(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := dockerRun(args...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return out
}

// dockerRun runs the docker command with a time limit.
func dockerRun(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// buildDockerImage builds a FROM scratch image holding the testapp binary
// bin as /testapp, its entrypoint, with the legacy builder (nothing to
// pull), under a tag of its own that is removed when the test ends.
func buildDockerImage(tb testing.TB, bin string) string {
	tb.Helper()
	dir := tb.TempDir()
	b, err := os.ReadFile(bin)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testapp"), b, 0o755); err != nil {
		tb.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY testapp /testapp\nENTRYPOINT [\"/testapp\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		tb.Fatal(err)
	}
	tag := "berth-e2e-testapp:" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("DOCKER_BUILDKIT=0 docker build -t %s: %v\n%s", tag, err, out)
	}
	tb.Cleanup(func() {
		if _, err := dockerRun("image", "rm", "--force", tag); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	})
	return tag
}

// removeDockerContainers force-removes every container with the label
// filter (key=value).
func removeDockerContainers(tb testing.TB, label string) {
	tb.Helper()
	out, err := dockerRun("ps", "--all", "--quiet", "--no-trunc", "--filter", "label="+label)
	if err != nil {
		tb.Errorf("cleanup: %v", err)
		return
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return
	}
	if _, err := dockerRun(append([]string{"rm", "--force", "--volumes"}, ids...)...); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
}

// ---- Tasks ----

// describeTasks describes arns (any number) in cluster.
func describeTasks(ctx context.Context, c *ecs.Client, cluster string, arns []string) ([]types.Task, error) {
	var out []types.Task
	for len(arns) > 0 {
		n := min(len(arns), 100)
		res, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns[:n]})
		if err != nil {
			return nil, err
		}
		if len(res.Failures) > 0 {
			return nil, fmt.Errorf("DescribeTasks: failures %s", failureJSON(res.Failures))
		}
		out = append(out, res.Tasks...)
		arns = arns[n:]
	}
	return out, nil
}

func failureJSON(fs []types.Failure) string {
	b, _ := json.Marshal(fs)
	return string(b)
}

// taskJSON renders tasks for failure messages.
func taskJSON(tasks ...types.Task) string {
	b, err := json.MarshalIndent(tasks, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", tasks)
	}
	return string(b)
}

// taskBrief is a one-line summary of a task for wait messages.
func taskBrief(t types.Task) string {
	var b strings.Builder
	fmt.Fprintf(&b, "last %s desired %s health %s stopCode %q reason %q;", aws.ToString(t.LastStatus), aws.ToString(t.DesiredStatus),
		t.HealthStatus, t.StopCode, aws.ToString(t.StoppedReason))
	for _, c := range t.Containers {
		fmt.Fprintf(&b, " %s: %s health %s", aws.ToString(c.Name), aws.ToString(c.LastStatus), c.HealthStatus)
		if c.ExitCode != nil {
			fmt.Fprintf(&b, " exit %d", *c.ExitCode)
		}
		if r := aws.ToString(c.Reason); r != "" {
			fmt.Fprintf(&b, " reason %q", r)
		}
		b.WriteString(";")
	}
	return b.String()
}

// taskOf describes one task of the agent's cluster.
func (a *agentProc) taskOf(ctx context.Context, arn string) (types.Task, error) {
	ts, err := describeTasks(ctx, a.srv.ecs, a.opts.Cluster, []string{arn})
	if err != nil {
		return types.Task{}, err
	}
	if len(ts) != 1 {
		return types.Task{}, fmt.Errorf("DescribeTasks(%s): %d tasks", arn, len(ts))
	}
	return ts[0], nil
}

// waitTask polls DescribeTasks until cond holds for the task, failing the
// test (with the task as JSON) after taskTimeout.
func (a *agentProc) waitTask(tb testing.TB, arn, what string, cond func(types.Task) bool) types.Task {
	tb.Helper()
	deadline := time.Now().Add(taskTimeout)
	var last types.Task
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t, err := a.taskOf(ctx, arn)
		cancel()
		if err == nil {
			last, lastErr = t, nil
			if cond(t) {
				return t
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for task %s: %s; last error %v; last DescribeTasks:\n%s", taskTimeout, arn, what, lastErr, taskJSON(last))
		}
		time.Sleep(taskPoll)
	}
}

// waitStatus waits for the task's lastStatus.
func (a *agentProc) waitStatus(tb testing.TB, arn, status string) types.Task {
	tb.Helper()
	return a.waitTask(tb, arn, "lastStatus "+status, func(t types.Task) bool {
		if status != "STOPPED" && aws.ToString(t.LastStatus) == "STOPPED" {
			tb.Fatalf("task %s STOPPED while waiting for %s:\n%s", arn, status, taskJSON(t))
		}
		return aws.ToString(t.LastStatus) == status
	})
}

// runTask runs one task of taskDef on the agent's cluster and returns its
// ARN.
func (a *agentProc) runTask(tb testing.TB, ctx context.Context, taskDef string) string {
	tb.Helper()
	out, err := a.srv.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(a.opts.Cluster), TaskDefinition: aws.String(taskDef), StartedBy: aws.String("e2e")})
	ok(tb, err)
	if len(out.Tasks) != 1 {
		tb.Fatalf("RunTask(%s): %d tasks, failures %s; want one", taskDef, len(out.Tasks), failureJSON(out.Failures))
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

// stopTask calls StopTask and checks the answer.
func (a *agentProc) stopTask(tb testing.TB, ctx context.Context, arn, reason string) {
	tb.Helper()
	_, err := a.srv.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(a.opts.Cluster), Task: aws.String(arn), Reason: aws.String(reason)})
	ok(tb, err)
}

// taskContainer returns the task's container called name.
func taskContainer(tb testing.TB, t types.Task, name string) types.Container {
	tb.Helper()
	for _, c := range t.Containers {
		if aws.ToString(c.Name) == name {
			return c
		}
	}
	tb.Fatalf("task %s has no container %q:\n%s", aws.ToString(t.TaskArn), name, taskJSON(t))
	return types.Container{}
}

// taskID is the ID at the end of a task ARN.
func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// ---- Logs ----

// logEvent is one event of GetLogEvents.
type logEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// taskLogEvents reads a log stream from the start through the server's
// CloudWatch Logs API (a SigV4-signed Logs_20140328.GetLogEvents). A
// stream that does not exist yet is no events.
func (s *serverProc) taskLogEvents(group, stream string) ([]logEvent, error) {
	body, _ := json.Marshal(map[string]any{"logGroupName": group, "logStreamName": stream, "startFromHead": true})
	resp, err := s.rawTry(rawRequest{Target: "Logs_20140328.GetLogEvents", Service: "logs", Body: body})
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		if strings.Contains(string(resp.Body), "ResourceNotFoundException") {
			return nil, nil
		}
		return nil, fmt.Errorf("GetLogEvents %s %s: HTTP %d: %s", group, stream, resp.Status, resp.Body)
	}
	var out struct {
		Events []logEvent `json:"events"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("GetLogEvents: decode: %w", err)
	}
	return out.Events, nil
}

// waitTaskLog polls GetLogEvents until some event of the stream contains
// want, and returns all the stream's messages.
func (s *serverProc) waitTaskLog(tb testing.TB, group, stream, want string) []string {
	tb.Helper()
	var msgs []string
	waitFor(tb, taskTimeout, fmt.Sprintf("log stream %s %s to contain %q", group, stream, want), func() (bool, string) {
		evs, err := s.taskLogEvents(group, stream)
		if err != nil {
			return false, err.Error()
		}
		msgs = msgs[:0]
		found := false
		for _, e := range evs {
			msgs = append(msgs, e.Message)
			found = found || strings.Contains(e.Message, want)
		}
		return found, fmt.Sprintf("messages %q", msgs)
	})
	return msgs
}

// ---- Misc ----

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostNofileDefault is the nofile limit berth gives a container whose
// definition sets none: 65536, capped to this host's hard limit when
// nothing here may raise limits (no CAP_SYS_RESOURCE). It says which
// applied.
func hostNofileDefault(tb testing.TB) (int64, string) {
	tb.Helper()
	const berthDefault = 65536
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("getrlimit: %v", err)
	}
	if lim.Max >= berthDefault {
		return berthDefault, fmt.Sprintf("berth's default %d (host hard limit %d)", berthDefault, lim.Max)
	}
	if hasCapSysResource() {
		return berthDefault, fmt.Sprintf("berth's default %d (host hard limit %d, but CAP_SYS_RESOURCE may raise it)", berthDefault, lim.Max)
	}
	return int64(lim.Max), fmt.Sprintf("the host's hard limit %d (below berth's default %d, no CAP_SYS_RESOURCE)", lim.Max, berthDefault)
}

// hasCapSysResource reads CAP_SYS_RESOURCE (bit 24) from this process's
// effective capabilities.
func hasCapSysResource() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<24) != 0
		}
	}
	return false
}
