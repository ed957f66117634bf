package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// awsCLI is one installed aws command line.
type awsCLI struct {
	path    string
	version string // e.g. aws-cli/2.9.19
}

var awsCLIVersionRE = regexp.MustCompile(`aws-cli/(\d+)\.[0-9.]+`)

// findAWSCLIs returns the installed aws CLIs by major version (1 and 2),
// looking at the usual places and at PATH.
func findAWSCLIs() map[int]awsCLI {
	candidates := []string{"/usr/bin/aws", "/usr/local/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append(candidates, p)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".pyenv", "shims", "aws"))
	}
	found := map[int]awsCLI{}
	for _, p := range candidates {
		if !fileExists(p) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, p, "--version").CombinedOutput()
		cancel()
		m := awsCLIVersionRE.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			continue
		}
		major := int(m[1][0] - '0')
		if _, dup := found[major]; !dup {
			found[major] = awsCLI{path: p, version: m[0]}
		}
	}
	return found
}

// TestAWSCLI drives berth with the real aws CLIs (v1 and v2), the way the
// README tells users to: --endpoint-url and the exported credentials.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	clis := findAWSCLIs()
	for _, major := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", major), func(t *testing.T) {
			cli, found := clis[major]
			if !found {
				t.Skipf("aws CLI v%d not installed (looked in /usr/bin, /usr/local/bin, PATH, ~/.pyenv/shims)", major)
			}
			t.Parallel()
			t.Logf("using %s (%s)", cli.path, cli.version)
			testAWSCLI(t, cli)
		})
	}
}

func testAWSCLI(t *testing.T, cli awsCLI) {
	srv := startServer(t, serverOptions{})
	dir := t.TempDir()
	env := append(envWithout(os.Environ(), "AWS_"),
		"AWS_ACCESS_KEY_ID="+testAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+testSecretAccessKey,
		"AWS_DEFAULT_REGION="+testRegion,
		"AWS_REGION="+testRegion,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_RETRY_MODE=standard",
		"AWS_MAX_ATTEMPTS=1",
	)
	// run runs one aws command and returns its exit code, stdout, stderr.
	run := func(args ...string) (int, []byte, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		full := append(append([]string{}, args...), "--endpoint-url", srv.endpoint, "--output", "json")
		cmd := exec.CommandContext(ctx, cli.path, full...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, out, stderr.String()
		case errors.As(err, &ee):
			return ee.ExitCode(), out, stderr.String()
		}
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
		return 0, nil, ""
	}
	// runJSON runs a command that must succeed and decodes its output.
	runJSON := func(args ...string) map[string]any {
		t.Helper()
		code, out, stderr := run(args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) == 0 {
			return map[string]any{}
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}

	cl := runJSON("ecs", "create-cluster", "--cluster-name", "cli")
	if got := dig(cl, "cluster", "clusterArn"); got != clusterARN("cli") {
		t.Errorf("create-cluster: clusterArn = %v, want %s", got, clusterARN("cli"))
	}
	list := runJSON("ecs", "list-clusters")
	if arns, _ := dig(list, "clusterArns").([]any); len(arns) != 1 || arns[0] != clusterARN("cli") {
		t.Errorf("list-clusters: clusterArns = %v, want [%s]", dig(list, "clusterArns"), clusterARN("cli"))
	}

	tdFile := filepath.Join(dir, "taskdef.json")
	td := `{
  "family": "cli-web",
  "containerDefinitions": [{
    "name": "web",
    "image": "nginx:1.27",
    "memory": 128,
    "essential": true,
    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
    "environment": [{"name": "GREETING", "value": "hello"}]
  }]
}`
	if err := os.WriteFile(tdFile, []byte(td), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := runJSON("ecs", "register-task-definition", "--cli-input-json", "file://"+tdFile)
	if got := dig(reg, "taskDefinition", "revision"); got != float64(1) {
		t.Errorf("register-task-definition: revision = %v, want 1", got)
	}
	desc := runJSON("ecs", "describe-task-definition", "--task-definition", "cli-web")
	if got := dig(desc, "taskDefinition", "taskDefinitionArn"); got != taskDefARN("cli-web:1") {
		t.Errorf("describe-task-definition: taskDefinitionArn = %v, want %s", got, taskDefARN("cli-web:1"))
	}
	if got := dig(desc, "taskDefinition", "containerDefinitions", 0, "environment", 0, "value"); got != "hello" {
		t.Errorf("describe-task-definition: environment[0].value = %v, want hello", got)
	}

	svc := runJSON("ecs", "create-service", "--cluster", "cli", "--service-name", "web", "--task-definition", "cli-web", "--desired-count", "0")
	if got := dig(svc, "service", "status"); got != "ACTIVE" {
		t.Errorf("create-service: status = %v, want ACTIVE", got)
	}
	// desiredCount 0 is stable at once: one deployment, running == desired.
	if code, _, stderr := run("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web"); code != 0 {
		t.Errorf("wait services-stable: exit %d\n%s", code, stderr)
	}
	ds := runJSON("ecs", "describe-services", "--cluster", "cli", "--services", "web")
	if deps, _ := dig(ds, "services", 0, "deployments").([]any); len(deps) != 1 {
		t.Errorf("describe-services: %d deployments, want 1", len(deps))
	}
	del := runJSON("ecs", "delete-service", "--cluster", "cli", "--service", "web", "--force")
	if got := dig(del, "service", "status"); got != "DRAINING" && got != "INACTIVE" {
		t.Errorf("delete-service: status = %v, want DRAINING or INACTIVE", got)
	}

	// ELBv2 (AWS Query protocol, XML) through the same endpoint: a load
	// balancer, a target group, a listener that serves, a target's health.
	lbOut := runJSON("elbv2", "create-load-balancer", "--name", "cli-lb", "--scheme", "internal")
	lbArn, _ := dig(lbOut, "LoadBalancers", 0, "LoadBalancerArn").(string)
	if !strings.HasPrefix(lbArn, "arn:aws:elasticloadbalancing:"+testRegion+":") {
		t.Fatalf("create-load-balancer: LoadBalancerArn = %q", lbArn)
	}
	tgOut := runJSON("elbv2", "create-target-group", "--name", "cli-tg", "--protocol", "HTTP", "--port", "80",
		"--target-type", "ip", "--health-check-path", "/health")
	tgArn, _ := dig(tgOut, "TargetGroups", 0, "TargetGroupArn").(string)
	port := freePort(t)
	lis := runJSON("elbv2", "create-listener", "--load-balancer-arn", lbArn, "--protocol", "HTTP", "--port", fmt.Sprint(port),
		"--default-actions", "Type=fixed-response,FixedResponseConfig={StatusCode=200,ContentType=text/plain,MessageBody=hi}")
	if got := dig(lis, "Listeners", 0, "Port"); got != float64(port) {
		t.Errorf("create-listener: Port = %v, want %d", got, port)
	}
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "hi") // fixed-response bodies come as given
	runJSON("elbv2", "register-targets", "--target-group-arn", tgArn, "--targets", "Id=127.0.0.1,Port=1")
	th := runJSON("elbv2", "describe-target-health", "--target-group-arn", tgArn)
	if got := dig(th, "TargetHealthDescriptions", 0, "Target", "Id"); got != "127.0.0.1" {
		t.Errorf("describe-target-health: Target.Id = %v, want 127.0.0.1", got)
	}
	if code, _, stderr := run("elbv2", "describe-target-groups", "--names", "ghost"); code == 0 || !strings.Contains(stderr, "TargetGroupNotFound") {
		t.Errorf("describe-target-groups ghost: exit %d, stderr %q; want a failure naming TargetGroupNotFound", code, stderr)
	}
	runJSON("elbv2", "delete-listener", "--listener-arn", dig(lis, "Listeners", 0, "ListenerArn").(string))
	runJSON("elbv2", "delete-load-balancer", "--load-balancer-arn", lbArn)

	// Errors reach the user as the CLI prints them: exit 254 (v2) / 255 (v1)
	// and the exception name.
	code, _, stderr := run("ecs", "describe-task-definition", "--task-definition", "ghost")
	if code == 0 || !strings.Contains(stderr, "ClientException") {
		t.Errorf("describe-task-definition ghost: exit %d, stderr %q; want a failure naming ClientException", code, stderr)
	}
}

// dig walks decoded JSON by member names and list indexes; nil if absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}
