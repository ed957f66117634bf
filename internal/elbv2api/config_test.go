package elbv2api

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/state"
)

const (
	cLB   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0000000000000001"
	cLBIn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/in/0000000000000002"
	cL1   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/0000000000000001/00000000000000a1"
	cL2   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/in/0000000000000002/00000000000000a2"
	cTG1  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/one/00000000000000b1"
	cTG2  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/two/00000000000000b2"
)

func cfgLB(arn, scheme string) state.ELBLoadBalancer {
	return state.ELBLoadBalancer{LoadBalancer: elbv2.LoadBalancer{LoadBalancerArn: arn, Scheme: scheme}}
}

func cfgTG(arn string, mod func(*state.ELBTargetGroup)) state.ELBTargetGroup {
	tg := state.ELBTargetGroup{TargetGroup: elbv2.TargetGroup{TargetGroupArn: arn, Protocol: "HTTP", Port: ptr(int32(80))}}
	if mod != nil {
		mod(&tg)
	}
	return tg
}

// defaultHC is the health check a target group with no health check
// members set converts to.
var defaultHC = lb.HealthCheck{
	Protocol: lb.ProtocolHTTP, Path: "/", Port: "traffic-port", Interval: time.Second, Timeout: time.Second,
	HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200-399",
}

func fwd(arn string) []elbv2.Action {
	return []elbv2.Action{{Type: "forward", TargetGroupArn: arn}}
}

func cfgListener(arn, lbARN string, port int32, actions []elbv2.Action) state.ELBListener {
	return state.ELBListener{Listener: elbv2.Listener{ListenerArn: arn, LoadBalancerArn: lbARN, Port: ptr(port), Protocol: "HTTP", DefaultActions: actions}}
}

func TestBuildConfig(t *testing.T) {
	sc, err := newSelfSigned("lb.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	testCert, err := tls.X509KeyPair(sc.CertPEM, sc.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		snap     Snapshot
		want     lb.Config
		problems []string // substrings, in order
	}{
		{name: "empty"},
		{
			name: "listener per scheme, forward, targets and defaults",
			snap: Snapshot{
				BindAddress:   "0.0.0.0",
				LoadBalancers: []state.ELBLoadBalancer{cfgLB(cLB, "internet-facing"), cfgLB(cLBIn, "internal")},
				TargetGroups: []state.ELBTargetGroup{cfgTG(cTG1, func(tg *state.ELBTargetGroup) {
					tg.Targets = []state.ELBTarget{{ID: "10.0.0.1", Port: 8080}, {ID: "10.0.0.2", Port: 80}}
				})},
				Listeners: []state.ELBListener{
					cfgListener(cL2, cLBIn, 8081, fwd(cTG1)),
					cfgListener(cL1, cLB, 80, fwd(cTG1)),
				},
			},
			want: lb.Config{
				Listeners: []lb.Listener{
					{BindAddress: "0.0.0.0", Port: 80, Protocol: lb.ProtocolHTTP, DefaultAction: lb.Action{Forward: []lb.WeightedTargetGroup{{TargetGroup: cTG1, Weight: 1}}}},
					{BindAddress: "127.0.0.1", Port: 8081, Protocol: lb.ProtocolHTTP, DefaultAction: lb.Action{Forward: []lb.WeightedTargetGroup{{TargetGroup: cTG1, Weight: 1}}}},
				},
				TargetGroups: []lb.TargetGroup{{
					Name: cTG1, Targets: []string{"10.0.0.1:8080", "10.0.0.2:80"}, Algorithm: lb.RoundRobin,
					DeregistrationDelay: 5 * time.Second, HealthCheck: defaultHC,
				}},
			},
		},
		{
			name: "rules by priority, weighted forward, fixed response",
			snap: Snapshot{
				LoadBalancers: []state.ELBLoadBalancer{cfgLB(cLB, "internet-facing")},
				TargetGroups:  []state.ELBTargetGroup{cfgTG(cTG2, nil), cfgTG(cTG1, nil)},
				Listeners: []state.ELBListener{cfgListener(cL1, cLB, 80, []elbv2.Action{{
					Type: "fixed-response", FixedResponseConfig: &elbv2.FixedResponseActionConfig{StatusCode: "404", ContentType: "text/plain", MessageBody: "nope"},
				}})},
				Rules: []state.ELBRule{
					{ListenerArn: cL1, Rule: elbv2.Rule{RuleArn: "r20", Priority: "20", Actions: fwd(cTG1),
						Conditions: []elbv2.RuleCondition{{Field: "path-pattern", Values: []string{"/api/*"}}}}},
					{ListenerArn: cL1, Rule: elbv2.Rule{RuleArn: "r3", Priority: "3",
						Actions: []elbv2.Action{{Type: "forward", ForwardConfig: &elbv2.ForwardActionConfig{TargetGroups: []elbv2.TargetGroupTuple{
							{TargetGroupArn: cTG1, Weight: ptr(int32(90))}, {TargetGroupArn: cTG2, Weight: ptr(int32(10))},
						}}}},
						Conditions: []elbv2.RuleCondition{
							{Field: "host-header", Values: []string{"a.example.com", "*.b.example.com"}},
							{Field: "path-pattern", Values: []string{"/x"}},
						}}},
				},
			},
			want: lb.Config{
				Listeners: []lb.Listener{{
					BindAddress: "127.0.0.1", Port: 80, Protocol: lb.ProtocolHTTP,
					Rules: []lb.Rule{
						{Priority: 3, Hosts: []string{"a.example.com", "*.b.example.com"}, Paths: []string{"/x"},
							Action: lb.Action{Forward: []lb.WeightedTargetGroup{{TargetGroup: cTG1, Weight: 90}, {TargetGroup: cTG2, Weight: 10}}}},
						{Priority: 20, Paths: []string{"/api/*"}, Action: lb.Action{Forward: []lb.WeightedTargetGroup{{TargetGroup: cTG1, Weight: 1}}}},
					},
					DefaultAction: lb.Action{Fixed: &lb.FixedResponse{StatusCode: 404, ContentType: "text/plain", Body: "nope"}},
				}},
				TargetGroups: []lb.TargetGroup{
					{Name: cTG1, Algorithm: lb.RoundRobin, DeregistrationDelay: 5 * time.Second, HealthCheck: defaultHC},
					{Name: cTG2, Algorithm: lb.RoundRobin, DeregistrationDelay: 5 * time.Second, HealthCheck: defaultHC},
				},
			},
		},
		{
			name: "health check and attributes honoured",
			snap: Snapshot{TargetGroups: []state.ELBTargetGroup{
				cfgTG(cTG1, func(tg *state.ELBTargetGroup) {
					tg.HealthCheckProtocol = "HTTPS"
					tg.HealthCheckPath = "/healthz"
					tg.HealthCheckPort = "9000"
					tg.HealthCheckIntervalSeconds = ptr(int32(30))
					tg.HealthCheckTimeoutSeconds = ptr(int32(5))
					tg.HealthyThresholdCount = ptr(int32(5))
					tg.UnhealthyThresholdCount = ptr(int32(3))
					tg.Matcher = &elbv2.Matcher{HttpCode: "200,204"}
					tg.Attributes = []elbv2.TargetGroupAttribute{
						{Key: attrDeregistrationDelay, Value: "300"},
						{Key: attrAlgorithm, Value: "least_outstanding_requests"},
					}
				}),
				cfgTG(cTG2, func(tg *state.ELBTargetGroup) {
					tg.HealthCheckProtocol = "TCP"
					tg.Attributes = []elbv2.TargetGroupAttribute{{Key: attrDeregistrationDelay, Value: "0"}, {Key: attrSlowStart, Value: "30"}}
				}),
			}},
			want: lb.Config{TargetGroups: []lb.TargetGroup{
				{Name: cTG1, Algorithm: lb.LeastOutstandingRequests, DeregistrationDelay: 300 * time.Second, HealthCheck: lb.HealthCheck{
					Protocol: lb.ProtocolHTTP, Path: "/healthz", Port: "9000", Interval: 30 * time.Second, Timeout: 5 * time.Second,
					HealthyThreshold: 5, UnhealthyThreshold: 3, Matcher: "200,204",
				}},
				{Name: cTG2, Algorithm: lb.RoundRobin, DeregistrationDelay: -1, SlowStart: 30 * time.Second, HealthCheck: lb.HealthCheck{
					Protocol: lb.ProtocolTCP, Port: "traffic-port", Interval: time.Second, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2,
				}},
			}},
		},
		{
			name: "gone target group, orphan listener and HTTPS without a certificate are reported",
			snap: Snapshot{
				LoadBalancers: []state.ELBLoadBalancer{cfgLB(cLB, "internet-facing")},
				Listeners: []state.ELBListener{
					cfgListener(cL1, cLB, 80, fwd(cTG1)),
					cfgListener(cL2, cLBIn, 81, fwd(cTG1)),
					func() state.ELBListener {
						l := cfgListener(cL1+"x", cLB, 443, nil)
						l.Protocol = "HTTPS"
						return l
					}(),
					func() state.ELBListener {
						l := cfgListener(cL1+"y", cLB, 444, nil)
						l.Protocol = "HTTPS"
						return l
					}(),
				},
				Certificates: map[string][]tls.Certificate{cL1 + "y": {testCert}},
			},
			want: lb.Config{Listeners: []lb.Listener{{BindAddress: "127.0.0.1", Port: 80, Protocol: lb.ProtocolHTTP},
				{BindAddress: "127.0.0.1", Port: 444, Protocol: lb.ProtocolHTTPS, Certificates: []tls.Certificate{testCert}}}},
			problems: []string{
				"target group " + cTG1 + " is gone",
				"its load balancer is gone",
				"no certificate loaded",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := BuildConfig(tt.snap)
			for i := range got.Listeners {
				for j := range got.Listeners[i].Certificates {
					if !got.Listeners[i].Certificates[j].Leaf.Equal(testCert.Leaf) {
						t.Errorf("listener %d certificate %d is not the one given", i, j)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("got problems %v, want %d of them", problems, len(tt.problems))
			}
			for i, p := range problems {
				if !strings.Contains(p.Error(), tt.problems[i]) {
					t.Errorf("problem %d = %q, want it to mention %q", i, p, tt.problems[i])
				}
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the data plane refuses the config: %v", err)
			}
		})
	}
}
