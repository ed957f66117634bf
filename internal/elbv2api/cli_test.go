package elbv2api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/lb"
)

// TestAWSCLI drives the API with the real AWS CLI v2, when installed.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI (slow) in -short mode")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	e := newEnv(t)
	edge, err := apiserver.New(apiserver.Config{NoAuth: true, Query: []apiserver.QueryService{e.svc.Query()}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge)
	defer srv.Close()
	home := t.TempDir()
	run := func(out any, args ...string) {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"elbv2", "--endpoint-url", srv.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PAGER=")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, b)
			}
		}
	}
	var lbOut struct {
		LoadBalancers []struct{ LoadBalancerArn, DNSName string }
	}
	run(&lbOut, "create-load-balancer", "--name", "web")
	var tgOut struct {
		TargetGroups []struct{ TargetGroupArn string }
	}
	run(&tgOut, "create-target-group", "--name", "web-tg", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip")
	lbARN, tgARN := lbOut.LoadBalancers[0].LoadBalancerArn, tgOut.TargetGroups[0].TargetGroupArn
	var lnOut struct{ Listeners []struct{ Port int } }
	port := freePort(t)
	run(&lnOut, "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", strconv.Itoa(int(port)),
		"--default-actions", "Type=forward,TargetGroupArn="+tgARN)
	if len(lnOut.Listeners) != 1 || lnOut.Listeners[0].Port != int(port) {
		t.Fatalf("create-listener: %+v", lnOut)
	}
	run(nil, "register-targets", "--target-group-arn", tgARN, "--targets", "Id=10.0.0.5,Port=8080")
	e.health.set(tgARN, lb.TargetState{Target: "10.0.0.5:8080", State: lb.StateHealthy})
	var th struct {
		TargetHealthDescriptions []struct {
			Target       struct{ Id string }
			TargetHealth struct{ State string }
		}
	}
	run(&th, "describe-target-health", "--target-group-arn", tgARN)
	if len(th.TargetHealthDescriptions) != 1 || th.TargetHealthDescriptions[0].Target.Id != "10.0.0.5" || th.TargetHealthDescriptions[0].TargetHealth.State != "healthy" {
		t.Errorf("describe-target-health: %+v", th)
	}
	var rules struct{ Rules []struct{ Priority string } }
	run(&rules, "describe-rules", "--listener-arn", listenerARNOf(t, e, lbARN))
	if len(rules.Rules) != 1 || rules.Rules[0].Priority != "default" {
		t.Errorf("describe-rules: %+v", rules)
	}
}

func listenerARNOf(t *testing.T, e *env, lbARN string) string {
	t.Helper()
	w, err := e.svc.read(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range w.listeners {
		if l.v.LoadBalancerArn == lbARN {
			return l.v.ListenerArn
		}
	}
	t.Fatal("no listener")
	return ""
}
