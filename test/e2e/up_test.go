package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Time limits of the berth up test. The first start may build the demo's
// Docker image.
const (
	upStartTimeout = 3 * time.Minute
	upStopTimeout  = 90 * time.Second
)

// TestUp is the quick start as a newcomer runs it: berth up serves the demo
// through its load balancer from two tasks; Ctrl-C stops it and, by
// default, the tasks; a second berth up on the same data dir resumes the
// same cluster, credentials, load balancer and service, and the demo
// answers again; tasks left running by --keep-tasks are re-adopted by the
// next berth up.
func TestUp(t *testing.T) {
	for _, rt := range agentRuntimes {
		t.Run(rt, func(t *testing.T) {
			if rt == runtimeDocker {
				requireDocker(t)
			}
			testUp(t, rt)
		})
	}
}

func testUp(t *testing.T, rt string) {
	dir := t.TempDir()
	u := &upProc{
		tb:       t,
		dataDir:  filepath.Join(dir, "state"),
		profile:  filepath.Join(dir, "config", "profile.json"),
		listen:   "127.0.0.1:" + strconv.Itoa(freePort(t)),
		demoPort: freePort(t),
		runtime:  rt,
		out:      &lockedBuffer{},
	}
	t.Cleanup(u.cleanup)

	first := u.start()
	wantURL := fmt.Sprintf("http://127.0.0.1:%d/", u.demoPort)
	if first.demoURL != wantURL {
		t.Errorf("demo URL: got %s, want %s (the load balancer's listener)", first.demoURL, wantURL)
	}
	if first.env["AWS_ENDPOINT_URL"] != "http://"+u.listen || first.env["AWS_DEFAULT_REGION"] != testRegion {
		t.Errorf("exports: got %v, want AWS_ENDPOINT_URL http://%s and AWS_DEFAULT_REGION %s", first.env, u.listen, testRegion)
	}
	u.checkProfile(first)
	c := u.clients(first)
	ctx := context.Background()
	before := u.resources(ctx, c)
	tasks1 := u.checkTwoTasksAnswer(ctx, c, first.demoURL)

	u.stop()
	u.checkNothingLeft()

	// Again, with --keep-tasks: the same cluster, credentials, load
	// balancer and service; new tasks (the first run's were stopped).
	second := u.start("--keep-tasks")
	if second.env["AWS_ACCESS_KEY_ID"] != first.env["AWS_ACCESS_KEY_ID"] || second.env["AWS_SECRET_ACCESS_KEY"] != first.env["AWS_SECRET_ACCESS_KEY"] {
		t.Errorf("second start: credentials changed: got key %s, want %s", second.env["AWS_ACCESS_KEY_ID"], first.env["AWS_ACCESS_KEY_ID"])
	}
	if out := u.runOutput(); !strings.Contains(out, "Demo service berth-demo") || strings.Contains(out, ": created;") {
		t.Errorf("second start: the demo service should be resumed, not created:\n%s", out)
	}
	c = u.clients(second)
	if after := u.resources(ctx, c); after != before {
		t.Errorf("second start: resources changed:\ngot  %+v\nwant %+v", after, before)
	}
	tasks2 := u.checkTwoTasksAnswer(ctx, c, second.demoURL)
	for id := range tasks2 {
		if tasks1[id] {
			t.Errorf("task %s of the first run answers after the restart; without --keep-tasks it should have been stopped", id)
		}
	}
	u.stop()
	if n := u.liveTasks(); n != 2 {
		t.Errorf("after a stop with --keep-tasks: %d of the demo's tasks run, want 2", n)
	}

	// And once more: the tasks kept are re-adopted, not replaced.
	third := u.start()
	c = u.clients(third)
	tasks3 := u.checkTwoTasksAnswer(ctx, c, third.demoURL)
	if fmt.Sprint(tasks3) != fmt.Sprint(tasks2) {
		t.Errorf("third start: tasks %v answer, want the kept ones %v", tasks3, tasks2)
	}
	u.stop()
	u.checkNothingLeft()
}

// upProc is one `berth up` process, started and stopped over and over on
// the same data dir.
type upProc struct {
	tb       testing.TB
	dataDir  string
	profile  string
	listen   string
	demoPort int
	runtime  string
	out      *lockedBuffer

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	runStart int // len(out) when the current run started
}

// upBanner is what berth up printed once ready.
type upBanner struct {
	demoURL string
	env     map[string]string // the export lines
}

// start runs berth up and waits until it printed the demo's URL and the
// end of its banner.
func (u *upProc) start(extra ...string) upBanner {
	u.tb.Helper()
	args := []string{"up", "-v", "--data-dir", u.dataDir, "--listen", u.listen,
		"--demo-port", strconv.Itoa(u.demoPort), "--runtime", u.runtime}
	args = append(args, extra...)
	cmd := exec.Command(berthBin, args...)
	cmd.Env = append(envWithout(os.Environ(), "BERTH_", "AWS_"), "BERTH_PROFILE="+u.profile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		u.tb.Fatal(err)
	}
	u.runStart = len(u.out.String())
	fmt.Fprintf(u.out, "=== %s %s\n", berthBin, strings.Join(args, " "))
	cmd.Stderr = u.out
	if err := cmd.Start(); err != nil {
		u.tb.Fatalf("start berth up: %v", err)
	}
	bannerc := make(chan upBanner, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := upBanner{env: map[string]string{}}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(u.out, line)
			if url, ok := strings.CutPrefix(line, "The demo answers at "); ok {
				b.demoURL = strings.TrimSpace(url)
			}
			if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				b.env[k] = v
			}
			if strings.HasPrefix(line, "Ctrl-C stops berth") {
				bannerc <- b
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan struct{})
	u.cmd, u.exited = cmd, exited
	go func() {
		<-readDone
		u.waitErr = cmd.Wait()
		close(exited)
	}()
	select {
	case b := <-bannerc:
		if b.demoURL == "" {
			u.tb.Fatalf("berth up printed no demo URL:\n%s", u.runOutput())
		}
		return b
	case <-exited:
		u.tb.Fatalf("berth up exited before it was ready: %v\n%s", u.waitErr, u.runOutput())
	case <-time.After(upStartTimeout):
		u.tb.Fatalf("berth up not ready within %v:\n%s", upStartTimeout, u.runOutput())
	}
	return upBanner{}
}

// stop sends SIGINT (Ctrl-C) and waits for a clean exit.
func (u *upProc) stop() {
	u.tb.Helper()
	if !u.running() {
		return
	}
	_ = u.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-u.exited:
		if u.waitErr != nil {
			u.tb.Errorf("berth up exited uncleanly after SIGINT: %v\n%s", u.waitErr, u.runOutput())
		}
	case <-time.After(upStopTimeout):
		_ = u.cmd.Process.Kill()
		<-u.exited
		u.tb.Errorf("berth up did not exit within %v of SIGINT; killed it\n%s", upStopTimeout, u.runOutput())
	}
	if out := u.runOutput(); !strings.Contains(out, "berth stopped.") {
		u.tb.Errorf("berth up did not say it stopped:\n%s", out)
	}
}

func (u *upProc) running() bool {
	if u.exited == nil {
		return false
	}
	select {
	case <-u.exited:
		return false
	default:
		return true
	}
}

// runOutput is what the current (or last) run printed.
func (u *upProc) runOutput() string { return u.out.String()[u.runStart:] }

// cleanup stops berth up and removes whatever its tasks left behind.
func (u *upProc) cleanup() {
	if u.running() {
		_ = u.cmd.Process.Kill()
		<-u.exited
	}
	agentDir := filepath.Join(u.dataDir, "agent")
	if id := agentIDOf(u.tb, agentDir); id != "" && u.runtime == runtimeDocker {
		removeDockerContainers(u.tb, "io.berth.agent="+id)
	}
	for _, c := range processContainers(u.tb, agentDir) {
		if c.Pid > 0 && processAlive(c.Pid, c.StartTicks) {
			_ = syscall.Kill(-c.Pid, syscall.SIGKILL)
		}
	}
	if u.runtime == runtimeDocker {
		// The demo image is named by the test binary's hash: no one else's.
		// Not forced: an image a container still uses stays.
		if m := demoImageRE.FindStringSubmatch(u.out.String()); m != nil {
			if _, err := dockerRun("image", "rm", m[1]); err != nil {
				u.tb.Logf("cleanup: %v", err)
			}
		}
	}
	if u.tb.Failed() {
		u.tb.Logf("berth up output (data dir %s):\n%s", u.dataDir, u.out.String())
	}
}

// demoImageRE finds the demo's image in berth up's output.
var demoImageRE = regexp.MustCompile(`Demo service berth-demo \((berth-demo:[0-9a-f]+)\)`)

// agentIDOf reads the agent ID that labels an agent's containers.
func agentIDOf(tb testing.TB, agentDir string) string {
	b, err := os.ReadFile(filepath.Join(agentDir, "instance.json"))
	if err != nil {
		return ""
	}
	var id struct {
		AgentID string `json:"agentId"`
	}
	if err := json.Unmarshal(b, &id); err != nil {
		tb.Errorf("read %s/instance.json: %v", agentDir, err)
	}
	return id.AgentID
}

// checkProfile checks the berth CLI's profile file matches the banner.
func (u *upProc) checkProfile(b upBanner) {
	u.tb.Helper()
	fi, err := os.Stat(u.profile)
	if err != nil {
		u.tb.Fatalf("profile: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		u.tb.Errorf("profile %s: mode %v, want 0600", u.profile, fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(u.profile)
	var p map[string]string
	if err := json.Unmarshal(raw, &p); err != nil {
		u.tb.Fatalf("profile %s: %v\n%s", u.profile, err, raw)
	}
	want := map[string]string{
		"endpoint": b.env["AWS_ENDPOINT_URL"], "region": b.env["AWS_DEFAULT_REGION"],
		"accessKeyId": b.env["AWS_ACCESS_KEY_ID"], "secretAccessKey": b.env["AWS_SECRET_ACCESS_KEY"],
		"cluster": "default",
	}
	for k, v := range want {
		if p[k] != v || v == "" {
			u.tb.Errorf("profile %s: %s = %q, want %q", u.profile, k, p[k], v)
		}
	}
}

// upClients are SDK clients for the running berth up.
type upClients struct {
	ecs *ecs.Client
	elb *elb.Client
}

func (u *upProc) clients(b upBanner) upClients {
	creds := aws.Credentials{AccessKeyID: b.env["AWS_ACCESS_KEY_ID"], SecretAccessKey: b.env["AWS_SECRET_ACCESS_KEY"], Source: "berth up"}
	cfg := aws.Config{
		Region:      b.env["AWS_DEFAULT_REGION"],
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		HTTPClient:  sdkHTTPClient(),
	}
	endpoint := b.env["AWS_ENDPOINT_URL"]
	return upClients{
		ecs: ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		elb: elb.NewFromConfig(cfg, func(o *elb.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
}

// upResources identifies what berth up set up; a second start must find
// the same.
type upResources struct {
	Cluster, Service, TaskDefinition string
	LoadBalancer, TargetGroup        string
	Listeners                        string
}

func (u *upProc) resources(ctx context.Context, c upClients) upResources {
	u.tb.Helper()
	var r upResources
	svcs, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("default"), Services: []string{"berth-demo"}})
	ok(u.tb, err)
	if len(svcs.Services) != 1 {
		u.tb.Fatalf("DescribeServices berth-demo: got %d services, failures %s", len(svcs.Services), failureJSON(svcs.Failures))
	}
	s := svcs.Services[0]
	r.Cluster, r.Service, r.TaskDefinition = aws.ToString(s.ClusterArn), aws.ToString(s.ServiceArn), aws.ToString(s.TaskDefinition)
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	ok(u.tb, err)
	if len(lbs.LoadBalancers) != 1 || aws.ToString(lbs.LoadBalancers[0].LoadBalancerName) != "berth-demo" {
		u.tb.Fatalf("DescribeLoadBalancers: got %d load balancers, want just berth-demo", len(lbs.LoadBalancers))
	}
	r.LoadBalancer = aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn)
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	ok(u.tb, err)
	if len(tgs.TargetGroups) != 1 {
		u.tb.Fatalf("DescribeTargetGroups: got %d target groups, want just berth-demo", len(tgs.TargetGroups))
	}
	r.TargetGroup = aws.ToString(tgs.TargetGroups[0].TargetGroupArn)
	if len(s.LoadBalancers) != 1 || aws.ToString(s.LoadBalancers[0].TargetGroupArn) != r.TargetGroup {
		u.tb.Errorf("service berth-demo's loadBalancers: got %+v, want target group %s", s.LoadBalancers, r.TargetGroup)
	}
	ls, err := c.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(r.LoadBalancer)})
	ok(u.tb, err)
	var ports []string
	for _, l := range ls.Listeners {
		ports = append(ports, strconv.Itoa(int(aws.ToInt32(l.Port)))+"="+aws.ToString(l.ListenerArn))
	}
	r.Listeners = strings.Join(ports, ",")
	if len(ls.Listeners) != 1 || aws.ToInt32(ls.Listeners[0].Port) != int32(u.demoPort) {
		u.tb.Errorf("listeners of berth-demo: got %s, want one on port %d", r.Listeners, u.demoPort)
	}
	return r
}

// demoAnswer is the part of the demo's JSON the test reads.
type demoAnswer struct {
	Instance string `json:"instance"`
	Hostname string `json:"hostname"`
	PID      int    `json:"pid"`
}

// checkTwoTasksAnswer asks the demo through the load balancer until two
// processes have answered, and checks they are the service's two RUNNING
// tasks. It returns their task IDs.
func (u *upProc) checkTwoTasksAnswer(ctx context.Context, c upClients, url string) map[string]bool {
	u.tb.Helper()
	seen := map[string]demoAnswer{}
	waitFor(u.tb, 30*time.Second, "two demo tasks answering through "+url, func() (bool, string) {
		body, err := httpGetBody(ctx, url)
		if err != nil {
			return false, err.Error()
		}
		var a demoAnswer
		if err := json.Unmarshal([]byte(body), &a); err != nil || a.Instance == "" {
			return false, fmt.Sprintf("not the demo's answer: %q", body)
		}
		seen[a.Instance] = a
		return len(seen) >= 2, fmt.Sprintf("%d distinct answering so far", len(seen))
	})
	if len(seen) != 2 {
		u.tb.Errorf("got answers from %d processes, want 2 (the service's tasks)", len(seen))
	}

	// Which tasks answered: the demo's container ID (Docker: its
	// hostname) or its pid (process runtime) names the task.
	list, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("default"), ServiceName: aws.String("berth-demo")})
	ok(u.tb, err)
	tasks, err := describeTasks(ctx, c.ecs, "default", list.TaskArns)
	ok(u.tb, err)
	byRuntimeID := map[string]string{}
	for _, t := range tasks {
		if aws.ToString(t.LastStatus) == "RUNNING" {
			byRuntimeID[aws.ToString(taskContainer(u.tb, t, "web").RuntimeId)] = taskID(aws.ToString(t.TaskArn))
		}
	}
	byPid := map[int]string{} // pid → runtime ID
	for _, pc := range processContainers(u.tb, filepath.Join(u.dataDir, "agent")) {
		byPid[pc.Pid] = pc.ID
	}
	answered := map[string]bool{}
	for _, a := range seen {
		var id string
		switch u.runtime {
		case runtimeDocker:
			for rid, tid := range byRuntimeID {
				if a.Hostname != "" && strings.HasPrefix(rid, a.Hostname) {
					id = tid
				}
			}
		case runtimeProcess:
			id = byRuntimeID[byPid[a.PID]]
		}
		if id == "" {
			u.tb.Errorf("answer from %+v: no RUNNING task of berth-demo runs it (tasks: %s)", a, taskJSON(tasks...))
			continue
		}
		answered[id] = true
	}
	if len(answered) != 2 {
		u.tb.Errorf("answers came from tasks %v, want 2 distinct tasks", answered)
	}
	return answered
}

// liveTasks counts the demo's containers that run (Docker) or processes
// that are alive (process runtime).
func (u *upProc) liveTasks() int {
	u.tb.Helper()
	agentDir := filepath.Join(u.dataDir, "agent")
	switch u.runtime {
	case runtimeDocker:
		return len(strings.Fields(dockerOut(u.tb, "ps", "--quiet", "--filter", "label=io.berth.agent="+agentIDOf(u.tb, agentDir))))
	default:
		n := 0
		for _, c := range processContainers(u.tb, agentDir) {
			if processAlive(c.Pid, c.StartTicks) {
				n++
			}
		}
		return n
	}
}

// checkNothingLeft checks that after a stop without --keep-tasks no
// container or process of the demo's tasks remains.
func (u *upProc) checkNothingLeft() {
	u.tb.Helper()
	agentDir := filepath.Join(u.dataDir, "agent")
	switch u.runtime {
	case runtimeDocker:
		id := agentIDOf(u.tb, agentDir)
		if id == "" {
			u.tb.Fatalf("no agent ID in %s", agentDir)
		}
		if out := strings.TrimSpace(dockerOut(u.tb, "ps", "--all", "--quiet", "--filter", "label=io.berth.agent="+id)); out != "" {
			u.tb.Errorf("containers left after berth up stopped: %s", out)
		}
	case runtimeProcess:
		for _, c := range processContainers(u.tb, agentDir) {
			if processAlive(c.Pid, c.StartTicks) {
				u.tb.Errorf("process %d of task %s still runs after berth up stopped", c.Pid, c.Spec.Task)
			}
		}
	}
}
