package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// agentEnv is one berth server with one agent on a runtime, and the
// testapp prepared for that runtime.
type agentEnv struct {
	rt    string
	app   testApp
	srv   *serverProc
	agent *agentProc

	mu      sync.Mutex
	stopped []string // tasks seen STOPPED, checked again at the end
}

// newAgentEnv starts a server and an agent on runtime rt, skipping the
// test when rt is docker and no engine answers.
func newAgentEnv(t *testing.T, rt string) *agentEnv {
	t.Helper()
	app := newTestApp(t, rt)
	srv := startServer(t, serverOptions{})
	return &agentEnv{rt: rt, app: app, srv: srv, agent: startAgent(t, srv, agentOptions{Runtime: rt, AZ: "us-east-1a"})}
}

// appContainer is an essential testapp container running args, with
// PORT=8080 in its environment.
func (e *agentEnv) appContainer(name string, args ...string) types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:        aws.String(name),
		Image:       aws.String(e.app.Image),
		Command:     args,
		Memory:      aws.Int32(128),
		Essential:   aws.Bool(true),
		Environment: []types.KeyValuePair{{Name: aws.String("PORT"), Value: aws.String("8080")}},
	}
}

// webContainer serves HTTP on container port 8080, published on a
// dynamic host port.
func (e *agentEnv) webContainer(name string, args ...string) types.ContainerDefinition {
	c := e.appContainer(name, append([]string{"serve"}, args...)...)
	c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}}
	return c
}

// register registers a task definition of a fresh family and returns the
// family.
func (e *agentEnv) register(t *testing.T, prefix string, cs ...types.ContainerDefinition) string {
	t.Helper()
	family := prefix + "-" + randomHex(3)
	mustTaskDef(t, ctxT(t), e.srv.ecs, &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String(family),
		ContainerDefinitions: cs,
		NetworkMode:          types.NetworkModeBridge,
	})
	return family
}

// waitStopped waits for STOPPED and remembers the task for the final
// check that stopped tasks stay describable.
func (e *agentEnv) waitStopped(t *testing.T, arn string) types.Task {
	t.Helper()
	task := e.agent.waitStatus(t, arn, "STOPPED")
	e.mu.Lock()
	e.stopped = append(e.stopped, arn)
	e.mu.Unlock()
	return task
}

// defaultStream is the log group and stream of a container without
// awslogs options.
func defaultStream(family, container, taskARN string) (string, string) {
	return "/berth/" + family, container + "/" + taskID(taskARN)
}

// TestAgentLifecycle runs tasks through berth server and a real berth
// agent, once per runtime, and checks what ECS users see through the
// SDK: bindings that serve, health, stop signals and timeouts, exits,
// pull failures, the default nofile limit and the logs.
func TestAgentLifecycle(t *testing.T) {
	t.Parallel()
	for _, rt := range agentRuntimes {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			e := newAgentEnv(t, rt)
			cases := []struct {
				name string
				fn   func(t *testing.T, e *agentEnv)
			}{
				{"ServeAndHealthy", testServeAndHealthy},
				{"StopTimeoutThenSIGKILL", testStopTimeoutKills},
				{"StopSignalLabel", testStopSignalLabel},
				{"EssentialContainerExit", testEssentialExit},
				{"NonEssentialContainerExit", testNonEssentialExit},
				{"MissingImage", testMissingImage},
				{"DefaultNofile", testDefaultNofileLimit},
				{"LogsWithAwslogsOptions", testAwslogsOptions},
			}
			t.Run("tasks", func(t *testing.T) {
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						c.fn(t, e)
					})
				}
			})
			t.Run("StoppedTasksStayDescribable", func(t *testing.T) {
				testStoppedStayDescribable(t, e)
			})
		})
	}
}

// httpGetBody GETs url with a short timeout.
func httpGetBody(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
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
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// waitHTTP polls url until it answers 200 with want.
func waitHTTP(t *testing.T, url, want string) {
	t.Helper()
	waitFor(t, taskTimeout, "GET "+url+" to answer "+strconv.Quote(want), func() (bool, string) {
		body, err := httpGetBody(context.Background(), url)
		return err == nil && body == want, fmt.Sprintf("body %q, err %v", body, err)
	})
}

// hostPortOf checks the container's one network binding (8080/tcp on
// 127.0.0.1) and returns its host port.
func hostPortOf(t *testing.T, c types.Container) int32 {
	t.Helper()
	if len(c.NetworkBindings) != 1 {
		t.Fatalf("container %s networkBindings = %+v, want one", aws.ToString(c.Name), c.NetworkBindings)
	}
	b := c.NetworkBindings[0]
	if aws.ToString(b.BindIP) != "127.0.0.1" || aws.ToInt32(b.ContainerPort) != 8080 || aws.ToInt32(b.HostPort) == 0 || b.Protocol != types.TransportProtocolTcp {
		t.Fatalf("networkBinding = {bindIP %q containerPort %d hostPort %d protocol %q}, want 127.0.0.1, 8080, a dynamic port, tcp",
			aws.ToString(b.BindIP), aws.ToInt32(b.ContainerPort), aws.ToInt32(b.HostPort), b.Protocol)
	}
	return aws.ToInt32(b.HostPort)
}

func testServeAndHealthy(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	web := e.webContainer("app")
	web.HealthCheck = &types.HealthCheck{
		Command:     []string{"CMD", e.app.Path, "health"},
		Interval:    aws.Int32(5), // the API's minimum
		Timeout:     aws.Int32(2),
		Retries:     aws.Int32(2),
		StartPeriod: aws.Int32(0),
	}
	family := e.register(t, "serve", web)
	arn := e.agent.runTask(t, ctx, family)
	task := e.agent.waitStatus(t, arn, "RUNNING")
	running := time.Now()

	if got := aws.ToString(task.ContainerInstanceArn); got != e.agent.instanceARN {
		t.Errorf("containerInstanceArn = %q, want the agent's %q", got, e.agent.instanceARN)
	}
	if got := aws.ToString(task.AvailabilityZone); got != "us-east-1a" {
		t.Errorf("availabilityZone = %q, want the agent's --availability-zone us-east-1a", got)
	}
	if task.StartedAt == nil || task.PullStartedAt == nil || task.PullStoppedAt == nil {
		t.Errorf("RUNNING task: startedAt %v, pullStartedAt %v, pullStoppedAt %v; want all set", task.StartedAt, task.PullStartedAt, task.PullStoppedAt)
	}
	c := taskContainer(t, task, "app")
	if aws.ToString(c.LastStatus) != "RUNNING" {
		t.Errorf("container lastStatus = %q, want RUNNING", aws.ToString(c.LastStatus))
	}
	if aws.ToString(c.RuntimeId) == "" {
		t.Errorf("container runtimeId is empty")
	}
	if got := aws.ToString(c.ImageDigest); got != e.app.Digest {
		t.Errorf("container imageDigest = %q, want %q", got, e.app.Digest)
	}
	port := hostPortOf(t, c)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/", "hello from testapp\n")
	wantPORT := "8080" // inside the container
	if e.rt == runtimeProcess {
		wantPORT = strconv.Itoa(int(port)) // the process listens on the host port
	}
	if got, err := httpGetBody(ctx, base+"/env/PORT"); err != nil || got != wantPORT {
		t.Errorf("the app's $PORT = %q (%v), want %s", got, err, wantPORT)
	}

	task = e.agent.waitTask(t, arn, "task and container healthStatus HEALTHY", func(tk types.Task) bool {
		return tk.HealthStatus == types.HealthStatusHealthy && len(tk.Containers) == 1 && tk.Containers[0].HealthStatus == types.HealthStatusHealthy
	})
	t.Logf("%s: HEALTHY %v after RUNNING (health check interval 5s)", e.rt, time.Since(running).Round(time.Millisecond))

	group, stream := defaultStream(family, "app", arn)
	e.srv.waitTaskLog(t, group, stream, "listening on")

	e.agent.stopTask(t, ctx, arn, "e2e: done")
	task = e.waitStopped(t, arn)
	if task.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("stopCode = %q, want UserInitiated", task.StopCode)
	}
	if got := aws.ToString(task.StoppedReason); got != "e2e: done" {
		t.Errorf("stoppedReason = %q, want the StopTask reason", got)
	}
	c = taskContainer(t, task, "app")
	if c.ExitCode == nil || *c.ExitCode != 0 {
		t.Errorf("exitCode = %v, want 0 (the app exits 0 on SIGTERM)", c.ExitCode)
	}
	e.srv.waitTaskLog(t, group, stream, "signal: SIGTERM")
}

func testStopTimeoutKills(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	web := e.webContainer("app", "-ignore-signals")
	web.StopTimeout = aws.Int32(2)
	family := e.register(t, "stubborn", web)
	arn := e.agent.runTask(t, ctx, family)
	e.agent.waitStatus(t, arn, "RUNNING")
	group, stream := defaultStream(family, "app", arn)
	e.srv.waitTaskLog(t, group, stream, "listening on") // its signal handler is in place

	start := time.Now()
	e.agent.stopTask(t, ctx, arn, "e2e: stop a stubborn app")
	task := e.waitStopped(t, arn)
	took := time.Since(start)
	if took < 2*time.Second {
		t.Errorf("STOPPED %v after StopTask, want ≥ the 2s stopTimeout", took)
	}
	var agentSide time.Duration
	if task.StoppingAt != nil && task.ExecutionStoppedAt != nil {
		agentSide = task.ExecutionStoppedAt.Sub(*task.StoppingAt)
	}
	t.Logf("%s: STOPPED %v after StopTask (executionStoppedAt − stoppingAt = %v; stopTimeout 2s)", e.rt, took.Round(time.Millisecond), agentSide.Round(time.Millisecond))
	if task.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("stopCode = %q, want UserInitiated", task.StopCode)
	}
	c := taskContainer(t, task, "app")
	if c.ExitCode == nil || *c.ExitCode != 137 {
		t.Errorf("exitCode = %v, want 137 (SIGKILL after the stop timeout)", c.ExitCode)
	}
	e.srv.waitTaskLog(t, group, stream, "signal: SIGTERM (ignored)")
}

func testStopSignalLabel(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	web := e.webContainer("worker")
	web.DockerLabels = map[string]string{"berth.stop-signal": "SIGQUIT"}
	web.StopTimeout = aws.Int32(20)
	family := e.register(t, "quit", web)
	arn := e.agent.runTask(t, ctx, family)
	e.agent.waitStatus(t, arn, "RUNNING")
	group, stream := defaultStream(family, "worker", arn)
	e.srv.waitTaskLog(t, group, stream, "listening on")

	start := time.Now()
	e.agent.stopTask(t, ctx, arn, "e2e: quit")
	task := e.waitStopped(t, arn)
	t.Logf("%s: STOPPED %v after StopTask (stopTimeout 20s)", e.rt, time.Since(start).Round(time.Millisecond))
	c := taskContainer(t, task, "worker")
	if c.ExitCode == nil || *c.ExitCode != 0 {
		t.Errorf("exitCode = %v, want 0 (the app exits 0 on the stop signal, before any SIGKILL)", c.ExitCode)
	}
	msgs := e.srv.waitTaskLog(t, group, stream, "signal: ")
	if !slices.Contains(msgs, "signal: SIGQUIT") {
		t.Errorf("log messages = %q, want the app to have received SIGQUIT (the berth.stop-signal label)", msgs)
	}
}

func testEssentialExit(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	family := e.register(t, "exit3", e.appContainer("app", "exit", "3"))
	arn := e.agent.runTask(t, ctx, family)
	task := e.waitStopped(t, arn)
	if task.StopCode != types.TaskStopCodeEssentialContainerExited {
		t.Errorf("stopCode = %q, want EssentialContainerExited", task.StopCode)
	}
	if got := aws.ToString(task.StoppedReason); !strings.Contains(got, "Essential container") {
		t.Errorf("stoppedReason = %q, want it to say an essential container exited", got)
	}
	c := taskContainer(t, task, "app")
	if c.ExitCode == nil || *c.ExitCode != 3 {
		t.Errorf("exitCode = %v, want 3", c.ExitCode)
	}
	if got := aws.ToString(c.LastStatus); got != "STOPPED" {
		t.Errorf("container lastStatus = %q, want STOPPED", got)
	}
	group, stream := defaultStream(family, "app", arn)
	e.srv.waitTaskLog(t, group, stream, "exit 3")
}

func testNonEssentialExit(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	side := e.appContainer("side", "exit", "5")
	side.Essential = aws.Bool(false)
	family := e.register(t, "sidecar", e.webContainer("app"), side)
	arn := e.agent.runTask(t, ctx, family)
	task := e.agent.waitTask(t, arn, "task RUNNING with the non-essential container STOPPED", func(tk types.Task) bool {
		if aws.ToString(tk.LastStatus) == "STOPPED" {
			t.Fatalf("the task STOPPED; a non-essential container's exit must not stop it:\n%s", taskJSON(tk))
		}
		s := taskContainer(t, tk, "side")
		return aws.ToString(tk.LastStatus) == "RUNNING" && aws.ToString(s.LastStatus) == "STOPPED"
	})
	if s := taskContainer(t, task, "side"); s.ExitCode == nil || *s.ExitCode != 5 {
		t.Errorf("side exitCode = %v, want 5", s.ExitCode)
	}
	// The agent inspects containers every second; give it two rounds to
	// (wrongly) act on the exit, and the app keeps serving meanwhile.
	url := fmt.Sprintf("http://127.0.0.1:%d/", hostPortOf(t, taskContainer(t, task, "app")))
	until := time.Now().Add(2 * time.Second)
	for time.Now().Before(until) {
		tk, err := e.agent.taskOf(ctx, arn)
		ok(t, err)
		if aws.ToString(tk.LastStatus) != "RUNNING" || aws.ToString(tk.DesiredStatus) != "RUNNING" || aws.ToString(taskContainer(t, tk, "app").LastStatus) != "RUNNING" {
			t.Fatalf("after the non-essential container exited: %s; want the task and app RUNNING:\n%s", taskBrief(tk), taskJSON(tk))
		}
		if body, err := httpGetBody(ctx, url); err != nil || body != "hello from testapp\n" {
			t.Fatalf("GET %s = %q, %v; want the essential app to keep serving", url, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.agent.stopTask(t, ctx, arn, "e2e: done")
	if task := e.waitStopped(t, arn); task.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("stopCode = %q, want UserInitiated", task.StopCode)
	}
}

func testMissingImage(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	c := e.appContainer("app", "serve")
	c.Image = aws.String(e.app.Missing)
	family := e.register(t, "missing", c)
	arn := e.agent.runTask(t, ctx, family)
	task := e.waitStopped(t, arn)
	if task.StopCode != types.TaskStopCodeTaskFailedToStart {
		t.Errorf("stopCode = %q, want TaskFailedToStart", task.StopCode)
	}
	got := aws.ToString(taskContainer(t, task, "app").Reason)
	if !strings.HasPrefix(got, "CannotPullContainerError") {
		t.Errorf("container reason = %q, want CannotPullContainerError...", got)
	}
	t.Logf("%s: image %s: task stoppedReason %q, container reason %q", e.rt, e.app.Missing, aws.ToString(task.StoppedReason), got)
}

func testDefaultNofileLimit(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	n, which := hostNofileDefault(t)
	t.Logf("expected default nofile: %s", which)
	family := e.register(t, "nofile", e.appContainer("app", "nofile"))
	arn := e.agent.runTask(t, ctx, family)
	task := e.waitStopped(t, arn)
	if c := taskContainer(t, task, "app"); c.ExitCode == nil || *c.ExitCode != 0 {
		t.Fatalf("nofile exitCode = %v, want 0:\n%s", c.ExitCode, taskJSON(task))
	}
	group, stream := defaultStream(family, "app", arn)
	msgs := e.srv.waitTaskLog(t, group, stream, "nofile ")
	if want := fmt.Sprintf("nofile soft=%d hard=%d", n, n); !slices.Contains(msgs, want) {
		t.Errorf("log messages = %q, want %q", msgs, want)
	}
}

func testAwslogsOptions(t *testing.T, e *agentEnv) {
	ctx := ctxT(t)
	token := "e2e-log-line-" + randomHex(4)
	group := "/e2e/custom-" + randomHex(3)
	c := e.appContainer("app", "echo", token, "two words")
	c.LogConfiguration = &types.LogConfiguration{
		LogDriver: types.LogDriverAwslogs,
		Options:   map[string]string{"awslogs-group": group, "awslogs-stream-prefix": "pfx", "awslogs-region": testRegion},
	}
	family := e.register(t, "logs", c)
	arn := e.agent.runTask(t, ctx, family)
	e.waitStopped(t, arn)
	stream := "pfx/app/" + taskID(arn)
	msgs := e.srv.waitTaskLog(t, group, stream, token)
	if want := []string{token + " two words"}; !slices.Equal(msgs, want) {
		t.Errorf("GetLogEvents(%s, %s) messages = %q, want %q", group, stream, msgs, want)
	}
}

// testStoppedStayDescribable runs after every other case: the tasks they
// saw STOPPED are still describable, STOPPED, with their stop details.
func testStoppedStayDescribable(t *testing.T, e *agentEnv) {
	e.mu.Lock()
	arns := slices.Clone(e.stopped)
	e.mu.Unlock()
	if len(arns) == 0 {
		t.Skip("no task reached STOPPED")
	}
	ctx := ctxT(t)
	tasks, err := describeTasks(ctx, e.srv.ecs, e.agent.opts.Cluster, arns)
	ok(t, err)
	if len(tasks) != len(arns) {
		t.Fatalf("DescribeTasks of %d stopped tasks returned %d", len(arns), len(tasks))
	}
	for _, tk := range tasks {
		if aws.ToString(tk.LastStatus) != "STOPPED" || tk.StoppedAt == nil || tk.StopCode == "" || tk.ExecutionStoppedAt == nil {
			t.Errorf("task %s: %s stoppedAt %v executionStoppedAt %v; want STOPPED with stoppedAt, executionStoppedAt and a stopCode",
				aws.ToString(tk.TaskArn), taskBrief(tk), tk.StoppedAt, tk.ExecutionStoppedAt)
		}
	}
	listed, err := e.agent.listTasks(ctx, types.DesiredStatusStopped)
	ok(t, err)
	for _, arn := range arns {
		if !slices.Contains(listed, arn) {
			t.Errorf("ListTasks(desiredStatus STOPPED) = %v, want it to include %s", listed, arn)
		}
	}
	t.Logf("%d stopped tasks still describable", len(arns))
}
