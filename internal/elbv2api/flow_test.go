package elbv2api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/berth-io/berth/internal/lb"
)

// TestEndToEndThroughLB creates a load balancer, target group and listener
// and registers a target through the SDK, syncs a real data plane, and
// gets the backend's answer through the listener.
func TestEndToEndThroughLB(t *testing.T) {
	e := newEnv(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from backend")
	}))
	defer backend.Close()
	host, port := splitHostPort(t, backend.Listener.Addr().String())

	l := e.createLB(t, "web")
	tg := e.createTG(t, "web-tg", port)
	lport := freePort(t)
	e.createListener(t, l.LoadBalancerArn, lport, forwardTo(tg.TargetGroupArn))
	if _, err := e.c.RegisterTargets(bg, &sdk.RegisterTargetsInput{
		TargetGroupArn: tg.TargetGroupArn,
		Targets:        []sdktypes.TargetDescription{{Id: aws.String(host)}},
	}); err != nil {
		t.Fatal(err)
	}

	dp := lb.New(lb.Options{})
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- dp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.svc.health = dp
	if err := e.svc.Sync(bg, dp); err != nil {
		t.Fatal(err)
	}

	url := fmt.Sprintf("http://%s:%d/", aws.ToString(l.DNSName), lport)
	eventually(t, "the backend's answer through the listener", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && string(b) == "hello from backend"
	})
	eventually(t, "the target healthy", func() bool {
		out, err := e.c.DescribeTargetHealth(bg, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.TargetHealthDescriptions) == 1 && out.TargetHealthDescriptions[0].TargetHealth.State == sdktypes.TargetHealthStateEnumHealthy
	})
}

func splitHostPort(t *testing.T, addr string) (string, int32) {
	t.Helper()
	var host string
	var port int32
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			host = addr[:i]
			fmt.Sscan(addr[i+1:], &port)
			break
		}
	}
	return host, port
}

// TestRunAppliesChanges: Run applies at start and after each change.
func TestRunAppliesChanges(t *testing.T) {
	e := newEnv(t)
	dp := &fakeDP{}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx, dp) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "the initial apply", func() bool { _, n := dp.last(); return n >= 1 })
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 8080)
	port := freePort(t)
	e.createListener(t, l.LoadBalancerArn, port, forwardTo(tg.TargetGroupArn))
	eventually(t, "the listener applied", func() bool {
		cfg, _ := dp.last()
		return len(cfg.Listeners) == 1 && cfg.Listeners[0].Port == int(port)
	})
	_ = time.Second
}
