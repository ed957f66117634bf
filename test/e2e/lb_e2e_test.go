package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The load balancer tests run berth server with a Docker-runtime agent, put
// an ECS service of the testapp behind berth's built-in load balancer
// through the ELBv2 API (aws-sdk-go-v2), and keep a steady load on the
// listener while they deploy, kill containers and deploy a broken
// revision. Every request must succeed. Figures are printed, never
// enforced.

const (
	lbTimeout = 90 * time.Second
	lbRate    = 300 // requests per second of the load generator
)

// newELBClient is an ELBv2 client of the server.
func newELBClient(p *serverProc) *elb.Client {
	return elb.New(elb.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(p.endpoint),
		Credentials:  aws.NewCredentialsCache(staticCreds(p.creds())),
		HTTPClient:   sdkHTTPClient(),
	})
}

type staticCreds aws.Credentials

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(c), nil
}

// versionedImages builds one FROM scratch testapp image per version, each
// with ENV VERSION=<version> (the testapp answers it on /env/VERSION),
// tagged repo:<version>; they are removed when the test ends.
func versionedImages(t testing.TB, repo string, versions ...string) map[string]string {
	t.Helper()
	bin := buildTestAppBinary(t)
	b, err := os.ReadFile(bin)
	ok(t, err)
	ids := map[string]string{}
	for _, v := range versions {
		dir := t.TempDir()
		ok(t, os.WriteFile(filepath.Join(dir, "testapp"), b, 0o755))
		df := fmt.Sprintf("FROM scratch\nCOPY testapp /testapp\nENV VERSION=%s\nENTRYPOINT [\"/testapp\"]\n", v)
		ok(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
		tag := repo + ":" + v
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("docker build -t %s: %v\n%s", tag, err, out)
		}
		ids[v] = strings.TrimSpace(dockerOut(t, "image", "inspect", "--format", "{{.Id}}", tag))
	}
	t.Cleanup(func() {
		out, _ := dockerRun("images", "--quiet", "--no-trunc", repo)
		args := append([]string{"image", "rm", "--force"}, strings.Fields(out)...)
		for _, id := range ids {
			args = append(args, id)
		}
		_, _ = dockerRun(args...)
	})
	return ids
}

// loadGen keeps a steady rate of GETs on a URL and counts the outcomes.
type loadGen struct {
	url      string
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	failures atomic.Int64

	mu       sync.Mutex
	errs     []string       // the first failures
	versions map[string]int // answers by body
	lat      []time.Duration
}

func startLoad(t testing.TB, url string, rate, workers int) *loadGen {
	g := &loadGen{url: url, stop: make(chan struct{}), versions: map[string]int{}}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxIdleConns: workers}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tokens := make(chan struct{}, workers)
	g.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		defer close(tokens)
		for {
			select {
			case <-g.stop:
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				default: // the workers are behind; this one is skipped
				}
			}
		}
	})
	for range workers {
		g.wg.Go(func() {
			for range tokens {
				g.one(client)
			}
		})
	}
	t.Cleanup(func() { g.finish() })
	return g
}

func (g *loadGen) one(c *http.Client) {
	start := time.Now()
	resp, err := c.Get(g.url)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s: %q", resp.Status, body)
		}
	}
	g.requests.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lat = append(g.lat, time.Since(start))
	if err != nil {
		g.failures.Add(1)
		if len(g.errs) < 10 {
			g.errs = append(g.errs, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
		}
		return
	}
	g.versions[string(body)]++
}

// finish stops the load (once) and waits for the requests in flight.
func (g *loadGen) finish() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
}

// report stops the load and summarises it.
func (g *loadGen) report(t testing.TB, what string, took time.Duration) {
	t.Helper()
	g.finish()
	g.mu.Lock()
	defer g.mu.Unlock()
	slices.Sort(g.lat)
	p := func(q float64) time.Duration {
		if len(g.lat) == 0 {
			return 0
		}
		return g.lat[min(len(g.lat)-1, int(q*float64(len(g.lat))))].Round(10 * time.Microsecond)
	}
	t.Logf("%s: %d requests, %d failed, took %v (%.0f req/s through the load balancer, p50 %v, p99 %v); answers by version %v",
		what, g.requests.Load(), g.failures.Load(), took.Round(time.Millisecond),
		float64(g.requests.Load())/max(took.Seconds(), 0.001), p(0.5), p(0.99), g.versions)
	if n := g.failures.Load(); n > 0 {
		t.Errorf("%s: %d of %d requests failed; first: %s", what, n, g.requests.Load(), strings.Join(g.errs, "; "))
	}
}

// lbEnv is a server, a Docker agent, a load balancer with one listener and
// target group, and a service of the testapp behind it.
type lbEnv struct {
	t        testing.TB
	srv      *serverProc
	elb      *elb.Client
	cluster  string
	repo     string
	images   map[string]string // version → image ID
	tg       string
	url      string // the listener's /env/VERSION
	family   string
	service  string
	firstRev string
}

// newLBEnv sets it up with desired tasks and deployments of at most
// maxPct percent of them.
func newLBEnv(t testing.TB, desired, maxPct int32) *lbEnv {
	t.Helper()
	requireDocker(t)
	e := &lbEnv{t: t, cluster: "lb-" + randomHex(4), repo: "berth-e2e-lb-" + randomHex(4), service: "web"}
	e.images = versionedImages(t, e.repo, "v1", "v2", "v3")
	e.srv = startServer(t, serverOptions{})
	ag := startAgent(t, e.srv, agentOptions{Runtime: runtimeDocker, Cluster: e.cluster})
	_ = ag
	e.elb = newELBClient(e.srv)
	ctx := ctxT(t)

	name := "web-" + randomHex(3)
	lbOut, err := e.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(name), Scheme: elbtypes.LoadBalancerSchemeEnumInternal})
	ok(t, err)
	tgOut, err := e.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp,
		HealthCheckPath: aws.String("/health"),
	})
	ok(t, err)
	e.tg = aws.ToString(tgOut.TargetGroups[0].TargetGroupArn)
	port := freePort(t)
	_, err = e.elb.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(e.tg)}},
	})
	ok(t, err)
	e.url = fmt.Sprintf("http://%s:%d/env/VERSION", aws.ToString(lbOut.LoadBalancers[0].DNSName), port)

	dockerOut(t, "tag", e.repo+":v1", e.repo+":live")
	e.family = "web-" + randomHex(3)
	e.firstRev = e.registerRevision(nil)
	_, err = e.srv.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(e.cluster), ServiceName: aws.String(e.service), TaskDefinition: aws.String(e.firstRev),
		DesiredCount:  aws.Int32(4),
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String(e.tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}},
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(maxPct),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	})
	ok(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service at the end: %s", e.brief())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.srv.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(e.cluster), Service: aws.String(e.service), Force: aws.Bool(true)})
	})
	return e
}

// registerRevision registers a revision of the web task definition running
// repo:live; mod may change the container.
func (e *lbEnv) registerRevision(mod func(*types.ContainerDefinition)) string {
	c := types.ContainerDefinition{
		Name: aws.String("web"), Image: aws.String(e.repo + ":live"), Command: []string{"serve"},
		Memory: aws.Int32(64), Essential: aws.Bool(true), StopTimeout: aws.Int32(5),
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
	}
	if mod != nil {
		mod(&c)
	}
	return mustTaskDef(e.t, ctxT(e.t), e.srv.ecs, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(e.family), NetworkMode: types.NetworkModeBridge, ContainerDefinitions: []types.ContainerDefinition{c},
	})
}

// describe reads the service and its tasks desired RUNNING.
func (e *lbEnv) describe(ctx context.Context) (types.Service, []types.Task, error) {
	out, err := e.srv.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{e.service}})
	if err != nil {
		return types.Service{}, nil, err
	}
	if len(out.Services) != 1 {
		return types.Service{}, nil, fmt.Errorf("service missing: %s", failureJSON(out.Failures))
	}
	list, err := e.srv.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), ServiceName: aws.String(e.service)})
	if err != nil {
		return types.Service{}, nil, err
	}
	tasks, err := describeTasks(ctx, e.srv.ecs, e.cluster, list.TaskArns)
	return out.Services[0], tasks, err
}

func (e *lbEnv) brief() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, tasks, err := e.describe(ctx)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, d := range svc.Deployments {
		fmt.Fprintf(&b, "[%s %s %s %s running %d] ", aws.ToString(d.Status), aws.ToString(d.Id), lastPartOf(aws.ToString(d.TaskDefinition)), d.RolloutState, d.RunningCount)
	}
	for _, tk := range tasks {
		fmt.Fprintf(&b, "task %s %s/%s %s; ", taskID(aws.ToString(tk.TaskArn))[:8], aws.ToString(tk.LastStatus), aws.ToString(tk.DesiredStatus), aws.ToString(tk.StartedBy))
	}
	n := min(len(svc.Events), 8)
	for _, ev := range svc.Events[:n] {
		fmt.Fprintf(&b, "\n  event: %s", aws.ToString(ev.Message))
	}
	return b.String()
}

// waitFor polls the service until cond holds.
func (e *lbEnv) waitFor(what string, cond func(types.Service, []types.Task) bool) (types.Service, []types.Task) {
	t := e.t
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		svc, tasks, err := e.describe(ctx)
		cancel()
		if err == nil && cond(svc, tasks) {
			t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
			return svc, tasks
		}
		if time.Since(start) > lbTimeout {
			t.Fatalf("waited %v for: %s; last error %v; service: %s", lbTimeout, what, err, e.brief())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// steady: one deployment, COMPLETED, desired tasks running and nothing
// else left.
func steady(svc types.Service, tasks []types.Task) bool {
	if len(svc.Deployments) != 1 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted {
		return false
	}
	live := 0
	for _, tk := range tasks {
		if aws.ToString(tk.LastStatus) != "STOPPED" {
			live++
		}
	}
	return svc.RunningCount == svc.DesiredCount && live == int(svc.DesiredCount)
}

// healthyTargets counts the target group's healthy targets.
func (e *lbEnv) healthyTargets() int {
	out, err := e.elb.DescribeTargetHealth(ctxT(e.t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(e.tg)})
	ok(e.t, err)
	n := 0
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			n++
		}
	}
	return n
}

// digests returns the image digests the service's live tasks report.
func digests(tasks []types.Task) []string {
	var out []string
	for _, tk := range tasks {
		if aws.ToString(tk.DesiredStatus) == "RUNNING" && aws.ToString(tk.LastStatus) == "RUNNING" {
			out = append(out, aws.ToString(tk.Containers[0].ImageDigest))
		}
	}
	sort.Strings(out)
	return out
}

func TestLoadBalancer(t *testing.T) {
	// One task above desired at a time, so a deployment replaces the tasks
	// one by one (and the tag can move between).
	e := newLBEnv(t, 4, 125)
	e.measureTimeToTraffic()
	_, tasks := e.waitFor("4 tasks steady behind the load balancer", steady)
	if n := e.healthyTargets(); n != 4 {
		t.Fatalf("DescribeTargetHealth: %d healthy targets, want 4", n)
	}
	for _, d := range digests(tasks) {
		if d != e.images["v1"] {
			t.Fatalf("tasks run %v, want all on v1 %s", digests(tasks), e.images["v1"])
		}
	}

	t.Run("rolling deploy to a new image, tag moved mid-deploy, under load", func(t *testing.T) {
		e.t = t
		load := startLoad(t, e.url, lbRate, 16)
		time.Sleep(time.Second) // load before the deploy
		dockerOut(t, "tag", e.repo+":v2", e.repo+":live")
		start := time.Now()
		out, err := e.srv.ecs.UpdateService(ctxT(t), &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String(e.service), ForceNewDeployment: true})
		ok(t, err)
		dep := aws.ToString(out.Service.Deployments[0].Id)
		// Once the new deployment has resolved the tag (its first task
		// reports v2), move the tag again: no later task may run v3.
		e.waitFor("the new deployment's first task resolved the tag", func(_ types.Service, tasks []types.Task) bool {
			for _, tk := range tasks {
				if aws.ToString(tk.StartedBy) == dep && aws.ToString(tk.Containers[0].ImageDigest) != "" {
					return true
				}
			}
			return false
		})
		dockerOut(t, "tag", e.repo+":v3", e.repo+":live")
		_, tasks := e.waitFor("deployment completed", func(svc types.Service, tasks []types.Task) bool {
			return steady(svc, tasks) && aws.ToString(svc.Deployments[0].Id) == dep
		})
		took := time.Since(start)
		time.Sleep(500 * time.Millisecond) // and load after it
		load.report(t, "rolling deploy 4 → 4 (v1 → v2)", took)
		if got := digests(tasks); !slices.Equal(got, []string{e.images["v2"], e.images["v2"], e.images["v2"], e.images["v2"]}) {
			t.Errorf("after the deploy the tasks run %v, want all on v2 %s (v3 is %s)", got, e.images["v2"], e.images["v3"])
		}
		if n := load.versions["v3"]; n > 0 {
			t.Errorf("%d requests were answered by v3: the moved tag leaked into the deployment", n)
		}
	})

	t.Run("SIGKILL of a task's container under load", func(t *testing.T) {
		e.t = t
		_, tasks := e.waitFor("steady", steady)
		victim := tasks[0]
		load := startLoad(t, e.url, lbRate, 16)
		time.Sleep(time.Second)
		start := time.Now()
		dockerOut(t, "kill", "--signal", "KILL", aws.ToString(victim.Containers[0].RuntimeId))
		e.waitFor("the killed task replaced", func(svc types.Service, tasks []types.Task) bool {
			return steady(svc, tasks) && !slices.ContainsFunc(tasks, func(tk types.Task) bool {
				return aws.ToString(tk.TaskArn) == aws.ToString(victim.TaskArn) && aws.ToString(tk.LastStatus) != "STOPPED"
			})
		})
		e.waitFor("4 healthy targets again", func(types.Service, []types.Task) bool { return e.healthyTargets() == 4 })
		took := time.Since(start)
		time.Sleep(500 * time.Millisecond)
		load.report(t, "container SIGKILLed, replaced and healthy", took)
	})

	t.Run("a revision failing its health checks trips the circuit breaker and rolls back", func(t *testing.T) {
		e.t = t
		svc, _ := e.waitFor("steady", steady)
		good := aws.ToString(svc.TaskDefinition)
		// The app listens on 9999, not the mapped 8080: the target group's
		// health checks fail.
		bad := e.registerRevision(func(c *types.ContainerDefinition) {
			c.Environment = []types.KeyValuePair{{Name: aws.String("PORT"), Value: aws.String("9999")}}
		})
		load := startLoad(t, e.url, lbRate, 16)
		start := time.Now()
		_, err := e.srv.ecs.UpdateService(ctxT(t), &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String(e.service), TaskDefinition: aws.String(bad)})
		ok(t, err)
		svc, _ = e.waitFor("rolled back and steady on the good revision", func(svc types.Service, tasks []types.Task) bool {
			return steady(svc, tasks) && aws.ToString(svc.TaskDefinition) == good
		})
		took := time.Since(start)
		load.report(t, "failed deploy and rollback", took)
		// The rollback returns to the images the completed deployment ran
		// (v2), although the tag has moved on to v3 since.
		_, tasks := e.waitFor("steady", steady)
		if got := digests(tasks); !slices.Equal(got, []string{e.images["v2"], e.images["v2"], e.images["v2"], e.images["v2"]}) {
			t.Errorf("after the rollback the tasks run %v, want all on v2 %s (v3 is %s)", got, e.images["v2"], e.images["v3"])
		}
		var events []string
		for _, ev := range svc.Events {
			events = append(events, aws.ToString(ev.Message))
		}
		all := strings.Join(events, "\n")
		for _, want := range []string{"is unhealthy in (target-group", "deployment failed", "rolling back to deployment"} {
			if !strings.Contains(all, want) {
				t.Errorf("no event says %q; events:\n%s", want, all)
			}
		}
		t.Logf("events:\n%s", all)
	})
}

// measureTimeToTraffic watches the first tasks come up and prints, for
// each, how long after it was RUNNING (its process listening: the testapp
// listens before the runtime reports it started) its target was healthy,
// i.e. receiving traffic. Target: ≤2 s (docs: targets.md).
func (e *lbEnv) measureTimeToTraffic() {
	t := e.t
	t.Helper()
	healthyAt := map[string]time.Time{}
	var waits []time.Duration
	e.waitFor("every first task's target healthy", func(_ types.Service, tasks []types.Task) bool {
		out, err := e.elb.DescribeTargetHealth(ctxT(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(e.tg)})
		if err != nil {
			return false
		}
		now := time.Now()
		for _, d := range out.TargetHealthDescriptions {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				addr := fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))
				if _, seen := healthyAt[addr]; !seen {
					healthyAt[addr] = now
				}
			}
		}
		waits = waits[:0]
		for _, tk := range tasks {
			if tk.StartedAt == nil || len(tk.Containers) == 0 || len(tk.Containers[0].NetworkBindings) == 0 {
				return false
			}
			b := tk.Containers[0].NetworkBindings[0]
			at, ok := healthyAt[fmt.Sprintf("127.0.0.1:%d", aws.ToInt32(b.HostPort))]
			if !ok {
				return false
			}
			waits = append(waits, at.Sub(*tk.StartedAt))
		}
		return len(waits) == 4
	})
	slices.Sort(waits)
	t.Logf("new task to traffic (RUNNING → target healthy, polled every 100 ms): min %v, median %v, max %v (target ≤2 s)",
		waits[0].Round(time.Millisecond), waits[len(waits)/2].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond))
}

// BenchmarkRollingDeploy deploys a new image to 10 load-balanced tasks
// (ECS's default 100 % / 200 %) under steady load and reports how long it
// took and how many requests failed. Target: done in ≤30 s with 0 failed
// requests (docs: targets.md).
//
//	go test ./test/e2e -run XXX -bench BenchmarkRollingDeploy -benchtime=1x
func BenchmarkRollingDeploy(b *testing.B) {
	e := newLBEnv(b, 10, 200)
	e.waitFor("10 tasks steady", steady)
	for i := range b.N {
		v := []string{"v2", "v1"}[i%2]
		dockerOut(b, "tag", e.repo+":"+v, e.repo+":live")
		load := startLoad(b, e.url, lbRate, 16)
		start := time.Now()
		out, err := e.srv.ecs.UpdateService(ctxT(b), &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String(e.service), ForceNewDeployment: true})
		ok(b, err)
		dep := aws.ToString(out.Service.Deployments[0].Id)
		e.waitFor("deployment completed", func(svc types.Service, tasks []types.Task) bool {
			return steady(svc, tasks) && aws.ToString(svc.Deployments[0].Id) == dep
		})
		took := time.Since(start)
		load.report(b, "rolling deploy of 10 tasks", took)
		b.ReportMetric(took.Seconds(), "deploy-s")
		b.ReportMetric(float64(load.failures.Load()), "failed-requests")
		b.ReportMetric(float64(load.requests.Load()), "requests")
	}
}

// TestLoadBalancerHTTPS serves an HTTPS listener with berth's self-signed
// development certificate, created through the ELBv2 API.
func TestLoadBalancerHTTPS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newELBClient(srv)
	ctx := ctxT(t)
	lbOut, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("tls"), Scheme: elbtypes.LoadBalancerSchemeEnumInternal})
	ok(t, err)
	port := freePort(t)
	_, err = c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttps, Port: aws.Int32(int32(port)),
		Certificates: []elbtypes.Certificate{{CertificateArn: aws.String("berth:self-signed")}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("200"), ContentType: aws.String("text/plain"), MessageBody: aws.String("secure")}}},
	})
	ok(t, err)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
				t.Fatal("answered without TLS")
			}
			cert := resp.TLS.PeerCertificates[0]
			if resp.StatusCode != 200 || string(body) != "secure" || !slices.Contains(cert.DNSNames, "localhost") {
				t.Fatalf("got %s %q from a certificate for %v; want 200 \"secure\", a certificate for localhost", resp.Status, body, cert.DNSNames)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET https://127.0.0.1:%d/: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLoadBalancerPublishAddress runs a process-runtime agent that
// publishes task ports on 127.0.0.2 (--publish-address, as a host of a
// fleet would publish on its own address): the tasks' bindings report it,
// the target group registers it, and the load balancer reaches them there.
func TestLoadBalancerPublishAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	cluster := "pub-" + randomHex(4)
	startAgent(t, srv, agentOptions{Runtime: runtimeProcess, Cluster: cluster, Args: []string{"--publish-address", "127.0.0.2"}})
	app := newTestApp(t, runtimeProcess)
	c := newELBClient(srv)
	ctx := ctxT(t)
	lbOut, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("pub"), Scheme: elbtypes.LoadBalancerSchemeEnumInternal})
	ok(t, err)
	tgOut, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("pub"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/health")})
	ok(t, err)
	tg := aws.ToString(tgOut.TargetGroups[0].TargetGroupArn)
	port := freePort(t)
	_, err = c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}})
	ok(t, err)
	td := mustTaskDef(t, ctx, srv.ecs, &ecs.RegisterTaskDefinitionInput{Family: aws.String("pub"), NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("web"), Image: aws.String(app.Image), Command: []string{"serve"},
			Memory: aws.Int32(64), Essential: aws.Bool(true), PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}}}})
	_, err = srv.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(1),
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}}})
	ok(t, err)
	t.Cleanup(func() {
		_, _ = srv.ecs.DeleteService(context.Background(), &ecs.DeleteServiceInput{Cluster: aws.String(cluster), Service: aws.String("web"), Force: aws.Bool(true)})
	})
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "hello from testapp\n")
	th, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	ok(t, err)
	if len(th.TargetHealthDescriptions) != 1 || aws.ToString(th.TargetHealthDescriptions[0].Target.Id) != "127.0.0.2" {
		t.Errorf("targets %+v, want one on 127.0.0.2", th.TargetHealthDescriptions)
	}
}

// TestLoadBalancerBindAddress: internet-facing load balancers bind the
// server's --lb-bind-address (127.0.0.2 here, on loopback), internal ones
// 127.0.0.1; each reports its address as DNSName.
func TestLoadBalancerBindAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{Args: []string{"--lb-bind-address", "127.0.0.2"}})
	c := newELBClient(srv)
	ctx := ctxT(t)
	for _, tc := range []struct {
		scheme elbtypes.LoadBalancerSchemeEnum
		addr   string
	}{{elbtypes.LoadBalancerSchemeEnumInternetFacing, "127.0.0.2"}, {elbtypes.LoadBalancerSchemeEnumInternal, "127.0.0.1"}} {
		out, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("bind-" + string(tc.scheme)), Scheme: tc.scheme})
		ok(t, err)
		if got := aws.ToString(out.LoadBalancers[0].DNSName); got != tc.addr {
			t.Errorf("%s: DNSName %s, want %s", tc.scheme, got, tc.addr)
		}
		port := freePort(t)
		_, err = c.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: out.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
				FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("200"), MessageBody: aws.String(string(tc.scheme))}}},
		})
		ok(t, err)
		waitHTTP(t, fmt.Sprintf("http://%s:%d/", tc.addr, port), string(tc.scheme))
	}
}
