package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The operator CLI (berth ps, deploy, run, logs, …) run as users run it:
// the berth binary against a real server and a process-runtime agent,
// configured through the environment.

// cliTimeout bounds one CLI command; a deploy whose circuit breaker trips
// waits out the controller's 10 s restart delay once.
const cliTimeout = 60 * time.Second

// berthCLI runs client commands of the berth binary against one server
// and cluster.
type berthCLI struct {
	t   *testing.T
	env []string
	dir string // for the files the test writes
}

func newBerthCLI(t *testing.T, srv *serverProc, cluster string) berthCLI {
	dir := t.TempDir()
	env := append(envWithout(os.Environ(), "AWS_", "BERTH_", "NO_COLOR"),
		"AWS_ENDPOINT_URL="+srv.endpoint,
		"AWS_ACCESS_KEY_ID="+testAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+testSecretAccessKey,
		"AWS_REGION="+testRegion,
		"BERTH_CLUSTER="+cluster,
		"BERTH_PROFILE="+filepath.Join(dir, "no-profile.json"),
	)
	return berthCLI{t: t, env: env, dir: dir}
}

// cliResult is what one command did.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs `berth args...` to its end.
func (b berthCLI) run(args ...string) cliResult {
	b.t.Helper()
	cmd := exec.Command(berthBin, args...)
	cmd.Env = b.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(cliTimeout):
		_ = cmd.Process.Kill()
		<-done
		b.t.Fatalf("berth %s: still running after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), cliTimeout, stdout.String(), stderr.String())
	}
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		b.t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	}
	b.t.Logf("berth %s → exit %d", strings.Join(args, " "), r.code)
	return r
}

// must runs the command and fails the test unless it exits 0.
func (b berthCLI) must(args ...string) cliResult {
	b.t.Helper()
	r := b.run(args...)
	if r.code != 0 {
		b.t.Fatalf("berth %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// json runs the command with -o json and decodes its output into v.
func (b berthCLI) json(v any, args ...string) {
	b.t.Helper()
	r := b.must(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		b.t.Fatalf("berth %s -o json: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// write writes a file for the commands to read and returns its path.
func (b berthCLI) write(name, content string) string {
	b.t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// The -o json shapes the tests read (docs/cli.md).
type (
	cliPS struct {
		Services []struct {
			Name, Status, TaskDefinition, Rollout string
			Desired, Running, Pending             int
			Deployments                           []struct{ ID, Status, TaskDefinition, Rollout string }
		}
		Tasks []struct {
			ID, Service, Group, TaskDefinition, LastStatus, Instance, Host string
			Ports                                                          []struct{ ContainerPort, HostPort int }
		}
	}
	cliInstances struct {
		Instances []struct {
			ID, Status     string
			AgentConnected bool
			RunningTasks   int
			CPU, Memory    struct{ Registered, Remaining int }
			Attributes     map[string]string
		}
	}
)

// serviceSpec is a service spec running the testapp with args, desired
// tasks, circuit breaker with rollback. Each spec is a new revision
// (its environment says which).
func serviceSpec(app testApp, family, service string, desired int, args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf(`taskDefinition:
  family: %s
  containerDefinitions:
    - name: app
      image: %q
      command: [%s]
      memory: 64
      essential: true
      portMappings: [{containerPort: 8080}]
      environment: [{name: SPEC, value: %q}]
service:
  serviceName: %s
  desiredCount: %d
  deploymentConfiguration:
    minimumHealthyPercent: 50
    maximumPercent: 200
    deploymentCircuitBreaker: {enable: true, rollback: true}
`, family, app.Image, strings.Join(quoted, ", "), randomHex(4), service, desired)
}

// TestBerthCLI drives one cluster through the operator CLI: instances,
// deploy, ps, events, logs (-f), scale, rollback, a deploy the circuit
// breaker rolls back, run, drain; and, when tmux is installed, the live
// progress of deploy in a real terminal.
func TestBerthCLI(t *testing.T) {
	app := newTestApp(t, runtimeProcess)
	srv := startServer(t, serverOptions{})
	agent := startAgent(t, srv, agentOptions{Runtime: runtimeProcess, AZ: "zone-a", CPU: 4096, Memory: 4096})
	env := &svcEnv{t: t, srv: srv, app: app, cluster: agent.opts.Cluster, agents: []*agentProc{agent}, azOf: map[string]string{}}
	t.Cleanup(env.cleanup) // deletes the services before the agent stops
	b := newBerthCLI(t, srv, agent.opts.Cluster)
	family := "web-" + randomHex(3)
	instanceID := lastPartOf(agent.instanceARN)

	t.Run("instances", func(t *testing.T) {
		r := b.must("instances")
		for _, want := range []string{"INSTANCE", instanceID, "ACTIVE", "connected", "zone-a", "process"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("berth instances lacks %q:\n%s", want, r.stdout)
			}
		}
		var is cliInstances
		b.json(&is, "instances")
		if len(is.Instances) != 1 || is.Instances[0].ID != instanceID || !is.Instances[0].AgentConnected ||
			is.Instances[0].CPU.Registered != 4096 || is.Instances[0].Attributes["berth.runtime"] != "process" {
			t.Errorf("berth instances -o json = %+v, want instance %s, connected, 4096 CPU, runtime process", is, instanceID)
		}
	})

	t.Run("deploy", func(t *testing.T) {
		f := b.write("web.yaml", serviceSpec(app, family, "web", 2, "serve"))
		r := b.must("deploy", "-f", f)
		for _, want := range []string{"Registered " + family + ":1", "Created service web", "PRIMARY  " + family + ":1", "running 2/2", "web " + family + ":1 deployed"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("deploy output lacks %q:\n%s", want, r)
			}
		}
	})

	t.Run("ps", func(t *testing.T) {
		var ps cliPS
		b.json(&ps, "ps")
		if len(ps.Services) != 1 || ps.Services[0].Name != "web" || ps.Services[0].Running != 2 || ps.Services[0].Rollout != "COMPLETED" ||
			ps.Services[0].TaskDefinition != family+":1" {
			t.Fatalf("berth ps -o json services = %+v, want web running 2 of %s:1, COMPLETED", ps.Services, family)
		}
		if len(ps.Tasks) != 2 {
			t.Fatalf("berth ps -o json: %d tasks, want 2: %+v", len(ps.Tasks), ps.Tasks)
		}
		for _, tk := range ps.Tasks {
			if tk.Service != "web" || tk.LastStatus != "RUNNING" || tk.Instance != instanceID || len(tk.Ports) != 1 || tk.Ports[0].HostPort == 0 {
				t.Errorf("task %+v: want web, RUNNING on %s with a host port", tk, instanceID)
			}
		}
		r := b.must("ps", "web")
		for _, want := range []string{"SERVICE", "web", "ACTIVE", "COMPLETED", ps.Tasks[0].ID, "8080→"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("berth ps web lacks %q:\n%s", want, r.stdout)
			}
		}
		if r := b.run("ps", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
			t.Errorf("berth ps nosuch: %s; want exit 1 naming the service", r)
		}
	})

	t.Run("events", func(t *testing.T) {
		r := b.must("events", "web")
		if !strings.Contains(r.stdout, "has reached a steady state") {
			t.Errorf("berth events web lacks the steady state:\n%s", r.stdout)
		}
		var evs struct {
			Events []struct{ ID, CreatedAt, Message string }
		}
		b.json(&evs, "events", "web")
		if len(evs.Events) == 0 || evs.Events[0].Message != "(service web) was created." {
			t.Errorf("berth events -o json: %+v; want the creation first", evs)
		}
	})

	t.Run("logs", func(t *testing.T) {
		waitFor(t, taskTimeout, "both tasks' logs", func() (bool, string) {
			r := b.run("logs", "web")
			return strings.Count(r.stdout, "listening on") == 2, r.String()
		})
		// -f picks up a new task's lines.
		cmd := exec.Command(berthBin, "logs", "web", "-f")
		cmd.Env = b.env
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		ok(t, cmd.Start())
		defer cmd.Process.Kill()
		waitFor(t, taskTimeout, "logs -f to print the two tasks", func() (bool, string) {
			return strings.Count(out.String(), "listening on") == 2, out.String()
		})
		b.must("scale", "web", "3", "--wait")
		waitFor(t, taskTimeout, "logs -f to print the third task", func() (bool, string) {
			return strings.Count(out.String(), "listening on") == 3, out.String()
		})
		_ = cmd.Process.Signal(syscall.SIGINT)
		waitErr := make(chan error, 1)
		go func() { waitErr <- cmd.Wait() }()
		select {
		case err := <-waitErr:
			if err != nil {
				t.Errorf("berth logs -f after Ctrl-C: %v; want exit 0\n%s", err, out.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("berth logs -f still running 10 s after Ctrl-C")
		}
	})

	t.Run("scale", func(t *testing.T) {
		r := b.must("scale", "web", "2", "--wait")
		if !strings.Contains(r.stdout, "desired count 3 → 2") {
			t.Errorf("berth scale output:\n%s", r.stdout)
		}
		var ps cliPS
		b.json(&ps, "ps", "web")
		if ps.Services[0].Desired != 2 || ps.Services[0].Running != 2 {
			t.Errorf("after scale 2: %+v", ps.Services[0])
		}
	})

	t.Run("rollback", func(t *testing.T) {
		f := b.write("web2.yaml", serviceSpec(app, family, "web", 2, "serve"))
		b.must("deploy", "-f", f)
		r := b.must("rollback", "web")
		if !strings.Contains(r.stdout, "Rolling back web: "+family+":2 → "+family+":1") {
			t.Errorf("berth rollback output:\n%s", r)
		}
		var ps cliPS
		b.json(&ps, "ps", "web")
		if ps.Services[0].TaskDefinition != family+":1" || ps.Services[0].Rollout != "COMPLETED" {
			t.Errorf("after rollback: %+v; want %s:1 COMPLETED", ps.Services[0], family)
		}
	})

	t.Run("deploy rolled back by the circuit breaker", func(t *testing.T) {
		f := b.write("bad.yaml", serviceSpec(app, family, "web", 2, "exit", "1"))
		r := b.run("deploy", "-f", f)
		if r.code != 2 || !strings.Contains(r.stderr, "rolled back") || !strings.Contains(r.stdout, "deployment failed") {
			t.Fatalf("deploy of a crashing revision: %s\nwant exit 2, \"rolled back\" and the failure event", r)
		}
		var ps cliPS
		b.json(&ps, "ps", "web")
		if ps.Services[0].TaskDefinition != family+":1" {
			t.Errorf("after the rollback the service runs %s; want %s:1", ps.Services[0].TaskDefinition, family)
		}
	})

	t.Run("deploy -o json", func(t *testing.T) {
		f := b.write("web4.yaml", serviceSpec(app, family, "web", 2, "serve"))
		var res struct{ Service, TaskDefinition, Deployment, Outcome string }
		b.json(&res, "deploy", "-f", f)
		if res.Service != "web" || res.TaskDefinition != family+":4" || res.Outcome != "COMPLETED" || res.Deployment == "" {
			t.Errorf("deploy -o json = %+v", res)
		}
	})

	t.Run("run", func(t *testing.T) {
		f := b.write("job.yaml", fmt.Sprintf(`family: job-%s
containerDefinitions:
  - name: job
    image: %q
    command: [exit, "3"]
    memory: 32
    essential: true
`, family, app.Image))
		r := b.run("run", "-f", f, "--wait")
		if r.code != 3 || !strings.Contains(r.stdout, "exit 3") {
			t.Errorf("berth run --wait of a task exiting 3: %s\nwant exit 3 and its output", r)
		}
		// Without --wait: the task ID.
		r = b.must("run", "--task-definition", "job-"+family)
		if id := strings.TrimSpace(r.stdout); len(id) != 32 {
			t.Errorf("berth run printed %q; want a task ID", r.stdout)
		}
	})

	t.Run("deploy interrupted rolls back", func(t *testing.T) {
		// Without the circuit breaker a crashing revision stays
		// IN_PROGRESS: Ctrl-C with --rollback-on-interrupt undoes it.
		spec := strings.Replace(serviceSpec(app, family, "web", 2, "exit", "1"), "enable: true, rollback: true", "enable: false, rollback: false", 1)
		f := b.write("stuck.yaml", spec)
		cmd := exec.Command(berthBin, "deploy", "-f", f, "--rollback-on-interrupt")
		cmd.Env = b.env
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		ok(t, cmd.Start())
		defer cmd.Process.Kill()
		waitFor(t, taskTimeout, "the deploy to show its tasks failing", func() (bool, string) {
			return strings.Contains(out.String(), "failed "), out.String()
		})
		_ = cmd.Process.Signal(syscall.SIGINT)
		waitErr := make(chan error, 1)
		go func() { waitErr <- cmd.Wait() }()
		select {
		case err := <-waitErr:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("deploy after Ctrl-C: %v; want exit 2 (rolled back)\n%s", err, out.String())
			}
		case <-time.After(cliTimeout):
			t.Fatalf("deploy still running %v after Ctrl-C:\n%s", cliTimeout, out.String())
		}
		if !strings.Contains(out.String(), "Rolling back web to "+family+":4") {
			t.Errorf("deploy output lacks the rollback:\n%s", out.String())
		}
		var ps cliPS
		b.json(&ps, "ps", "web")
		if ps.Services[0].TaskDefinition != family+":4" || ps.Services[0].Rollout != "COMPLETED" {
			t.Errorf("after the rollback: %+v; want %s:4 COMPLETED", ps.Services[0], family)
		}
	})

	t.Run("progress in a terminal", func(t *testing.T) {
		testDeployInTmux(t, b, app, family)
	})

	t.Run("Ctrl-C asks to roll back in a terminal", func(t *testing.T) {
		testDeployPromptInTmux(t, b, app, family)
	})

	t.Run("drain", func(t *testing.T) {
		r := b.must("drain", instanceID)
		if !strings.Contains(r.stdout, "DRAINING") {
			t.Errorf("berth drain: %s", r)
		}
		var is cliInstances
		b.json(&is, "instances")
		if is.Instances[0].Status != "DRAINING" {
			t.Errorf("after drain: status %s", is.Instances[0].Status)
		}
		b.must("drain", "--undo", agent.instanceARN)
		b.json(&is, "instances")
		if is.Instances[0].Status != "ACTIVE" {
			t.Errorf("after drain --undo: status %s", is.Instances[0].Status)
		}
		if r := b.run("drain", "nosuch"); r.code != 1 {
			t.Errorf("berth drain nosuch: %s; want exit 1", r)
		}
	})
}

// testDeployInTmux runs berth deploy in a tmux pane (a real terminal) and
// checks that the progress was redrawn in place: the finished screen holds
// one PRIMARY line, with its bar full.
func testDeployInTmux(t *testing.T, b berthCLI, app testApp, family string) {
	f := b.write("tty.yaml", serviceSpec(app, family, "web", 3, "serve"))
	script := b.write("deploy.sh", fmt.Sprintf("#!/bin/sh\n%q deploy -f %q\necho EXIT=$?\nsleep 120\n", berthBin, f))
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, read := tmuxSession(t, b, script)
	var screen string
	waitFor(t, cliTimeout, "berth deploy to finish in tmux", func() (bool, string) {
		screen = read()
		return strings.Contains(screen, "EXIT="), screen
	})
	defer func() {
		if t.Failed() {
			t.Logf("berth events web:\n%s", b.run("events", "web").stdout)
		}
	}()
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("deploy in tmux did not exit 0:\n%s", screen)
	}
	if n := strings.Count(screen, "PRIMARY"); n != 1 {
		t.Errorf("the terminal shows %d PRIMARY lines; want 1 (redrawn in place):\n%s", n, screen)
	}
	for _, want := range []string{"[██████████] running 3/3", "has started deployment", "deployment completed.", "web " + family + ":"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "\x1b") || strings.Contains(screen, "[J") {
		t.Errorf("escape sequences shown as text:\n%s", screen)
	}
}

// tmuxSession runs script in a detached tmux session of a tmux server of
// its own (killed when the test ends) and returns a function that reads
// the screen.
func tmuxSession(t *testing.T, b berthCLI, script string) (tmux, socket string, screen func() string) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed (apt-get install tmux): the terminal is not checked")
	}
	socket = "berth-e2e-" + randomHex(4)
	cmd := exec.Command(tmux, "-L", socket, "new-session", "-d", "-s", "main", "-x", "150", "-y", "50", script)
	cmd.Env = append(b.env, "TERM=xterm-256color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", socket, "kill-server").Run() })
	return tmux, socket, func() string {
		out, _ := exec.Command(tmux, "-L", socket, "capture-pane", "-p", "-t", "main").Output()
		return string(out)
	}
}

// testDeployPromptInTmux: Ctrl-C during a deploy on a terminal asks
// whether to roll back; "y" rolls back, and the deploy exits 2.
func testDeployPromptInTmux(t *testing.T, b berthCLI, app testApp, family string) {
	spec := strings.Replace(serviceSpec(app, family, "web", 2, "exit", "1"), "enable: true, rollback: true", "enable: false, rollback: false", 1)
	f := b.write("prompt.yaml", spec)
	// The shell gets the Ctrl-C too: it must outlive it to print EXIT.
	script := b.write("prompt.sh", fmt.Sprintf("#!/bin/sh\ntrap : INT\n%q deploy -f %q\necho EXIT=$?\nsleep 120\n", berthBin, f))
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	tmux, socket, screen := tmuxSession(t, b, script)
	waitFor(t, cliTimeout, "the deploy to show failing tasks", func() (bool, string) {
		s := screen()
		return strings.Contains(s, "failed "), s
	})
	ok(t, exec.Command(tmux, "-L", socket, "send-keys", "-t", "main", "C-c").Run())
	waitFor(t, cliTimeout, "the question", func() (bool, string) {
		s := screen()
		return strings.Contains(s, "roll back to "+family+":"), s
	})
	ok(t, exec.Command(tmux, "-L", socket, "send-keys", "-t", "main", "y", "Enter").Run())
	waitFor(t, cliTimeout, "the deploy to end", func() (bool, string) {
		s := screen()
		return strings.Contains(s, "EXIT="), s
	})
	if s := screen(); !strings.Contains(s, "EXIT=2") || !strings.Contains(s, "Rolling back web to") {
		t.Errorf("after answering y: want the rollback and exit 2:\n%s", s)
	}
}
