package elbv2api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

func TestCreateTargetGroupDefaults(t *testing.T) {
	e := newEnv(t)
	tg := e.createTG(t, "web", 8080)
	got := map[string]any{
		"HealthCheckEnabled":         aws.ToBool(tg.HealthCheckEnabled),
		"HealthCheckIntervalSeconds": aws.ToInt32(tg.HealthCheckIntervalSeconds),
		"HealthCheckTimeoutSeconds":  aws.ToInt32(tg.HealthCheckTimeoutSeconds),
		"HealthyThresholdCount":      aws.ToInt32(tg.HealthyThresholdCount),
		"UnhealthyThresholdCount":    aws.ToInt32(tg.UnhealthyThresholdCount),
		"HealthCheckPath":            aws.ToString(tg.HealthCheckPath),
		"HealthCheckPort":            aws.ToString(tg.HealthCheckPort),
		"HealthCheckProtocol":        string(tg.HealthCheckProtocol),
		"Matcher":                    aws.ToString(tg.Matcher.HttpCode),
		"Port":                       aws.ToInt32(tg.Port),
		"TargetType":                 string(tg.TargetType),
		"LoadBalancerArns":           len(tg.LoadBalancerArns),
	}
	want := map[string]any{
		"HealthCheckEnabled": true, "HealthCheckIntervalSeconds": int32(1), "HealthCheckTimeoutSeconds": int32(1),
		"HealthyThresholdCount": int32(2), "UnhealthyThresholdCount": int32(2), "HealthCheckPath": "/",
		"HealthCheckPort": "traffic-port", "HealthCheckProtocol": "HTTP", "Matcher": "200-399", "Port": int32(8080),
		"TargetType": "ip", "LoadBalancerArns": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	t.Run("Idempotent", func(t *testing.T) {
		again := e.createTG(t, "web", 8080)
		if aws.ToString(again.TargetGroupArn) != aws.ToString(tg.TargetGroupArn) {
			t.Errorf("second create made a new target group")
		}
	})
	t.Run("DuplicateName", func(t *testing.T) {
		_, err := e.c.CreateTargetGroup(bg, &sdk.CreateTargetGroupInput{Name: aws.String("web"), Protocol: sdktypes.ProtocolEnumHttp, Port: aws.Int32(81)})
		wantAPIErr(t, err, "DuplicateTargetGroupName")
	})
	t.Run("Honoured", func(t *testing.T) {
		out, err := e.c.CreateTargetGroup(bg, &sdk.CreateTargetGroupInput{
			Name: aws.String("slow"), Protocol: sdktypes.ProtocolEnumHttps, Port: aws.Int32(443),
			HealthCheckIntervalSeconds: aws.Int32(30), HealthCheckTimeoutSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(5),
			UnhealthyThresholdCount: aws.Int32(3), HealthCheckPath: aws.String("/healthz"), HealthCheckPort: aws.String("9000"),
			Matcher: &sdktypes.Matcher{HttpCode: aws.String("200")},
		})
		if err != nil {
			t.Fatal(err)
		}
		g := out.TargetGroups[0]
		if aws.ToInt32(g.HealthCheckIntervalSeconds) != 30 || aws.ToInt32(g.HealthCheckTimeoutSeconds) != 5 || aws.ToInt32(g.HealthyThresholdCount) != 5 ||
			aws.ToInt32(g.UnhealthyThresholdCount) != 3 || aws.ToString(g.HealthCheckPath) != "/healthz" || aws.ToString(g.HealthCheckPort) != "9000" ||
			aws.ToString(g.Matcher.HttpCode) != "200" || g.HealthCheckProtocol != "HTTPS" || g.TargetType != "instance" {
			t.Errorf("settings not honoured: %+v", g)
		}
	})
	t.Run("OnlyTimeoutGiven", func(t *testing.T) {
		out, err := e.c.CreateTargetGroup(bg, &sdk.CreateTargetGroupInput{Name: aws.String("t"), Protocol: sdktypes.ProtocolEnumHttp, Port: aws.Int32(80), HealthCheckTimeoutSeconds: aws.Int32(10)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToInt32(out.TargetGroups[0].HealthCheckIntervalSeconds); got != 10 {
			t.Errorf("interval = %d, want 10 (raised to the timeout)", got)
		}
	})
	for _, tc := range []struct {
		name string
		in   sdk.CreateTargetGroupInput
		code string
	}{
		{"BadName", sdk.CreateTargetGroupInput{Name: aws.String("a_b"), Protocol: "HTTP", Port: aws.Int32(80)}, "ValidationError"},
		{"NoProtocol", sdk.CreateTargetGroupInput{Name: aws.String("x"), Port: aws.Int32(80)}, "ValidationError"},
		{"TCP", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "TCP", Port: aws.Int32(80)}, "ValidationError"},
		{"NoPort", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP"}, "ValidationError"},
		{"BadPort", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(70000)}, "ValidationError"},
		{"Lambda", sdk.CreateTargetGroupInput{Name: aws.String("x"), TargetType: "lambda"}, "InvalidConfigurationRequest"},
		{"Interval", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckIntervalSeconds: aws.Int32(301)}, "ValidationError"},
		{"Threshold", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthyThresholdCount: aws.Int32(1)}, "ValidationError"},
		{"TimeoutOverInterval", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(6)}, "InvalidConfigurationRequest"},
		{"Matcher", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), Matcher: &sdktypes.Matcher{HttpCode: aws.String("600")}}, "ValidationError"},
		{"Path", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckPath: aws.String("health")}, "ValidationError"},
		{"HealthPort", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckPort: aws.String("x")}, "ValidationError"},
		{"Disabled", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckEnabled: aws.Bool(false)}, "InvalidConfigurationRequest"},
		{"TCPWithPath", sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: "HTTP", Port: aws.Int32(80), HealthCheckProtocol: "TCP", HealthCheckPath: aws.String("/")}, "InvalidConfigurationRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateTargetGroup(bg, &tc.in)
			wantAPIErr(t, err, tc.code)
		})
	}
}

func TestDescribeModifyDeleteTargetGroups(t *testing.T) {
	e := newEnv(t)
	a := e.createTG(t, "a", 80)
	b := e.createTG(t, "b", 81)
	l := e.createLB(t, "web")
	e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(a.TargetGroupArn))

	t.Run("ByLoadBalancer", func(t *testing.T) {
		out, err := e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{LoadBalancerArn: l.LoadBalancerArn})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TargetGroups) != 1 || aws.ToString(out.TargetGroups[0].TargetGroupName) != "a" {
			t.Fatalf("got %+v, want target group a", out.TargetGroups)
		}
		if diff := cmp.Diff([]string{aws.ToString(l.LoadBalancerArn)}, out.TargetGroups[0].LoadBalancerArns); diff != "" {
			t.Errorf("LoadBalancerArns (-want +got):\n%s", diff)
		}
	})
	t.Run("ByNameAndARN", func(t *testing.T) {
		out, err := e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{Names: []string{"b"}})
		if err != nil || len(out.TargetGroups) != 1 || aws.ToString(out.TargetGroups[0].TargetGroupArn) != aws.ToString(b.TargetGroupArn) {
			t.Fatalf("by name: %v %+v", err, out)
		}
		out, err = e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{aws.ToString(b.TargetGroupArn)}})
		if err != nil || len(out.TargetGroups) != 1 {
			t.Fatalf("by ARN: %v %+v", err, out)
		}
	})
	t.Run("All", func(t *testing.T) {
		out, err := e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{})
		if err != nil || len(out.TargetGroups) != 2 {
			t.Fatalf("got %v %+v, want 2 target groups", err, out)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		_, err := e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{Names: []string{"zz"}})
		wantAPIErr(t, err, "TargetGroupNotFound")
		_, err = e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{Names: []string{"a"}, LoadBalancerArn: l.LoadBalancerArn})
		wantAPIErr(t, err, "ValidationError")
		_, err = e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(e.svc.lbARN("x", "00000000000000ff"))})
		wantAPIErr(t, err, "LoadBalancerNotFound")
	})
	t.Run("Modify", func(t *testing.T) {
		out, err := e.c.ModifyTargetGroup(bg, &sdk.ModifyTargetGroupInput{
			TargetGroupArn: b.TargetGroupArn, HealthCheckPath: aws.String("/up"), HealthCheckIntervalSeconds: aws.Int32(10),
			Matcher: &sdktypes.Matcher{HttpCode: aws.String("200-299")},
		})
		if err != nil {
			t.Fatal(err)
		}
		g := out.TargetGroups[0]
		if aws.ToString(g.HealthCheckPath) != "/up" || aws.ToInt32(g.HealthCheckIntervalSeconds) != 10 || aws.ToString(g.Matcher.HttpCode) != "200-299" || aws.ToInt32(g.HealthCheckTimeoutSeconds) != 1 {
			t.Errorf("after modify: %+v", g)
		}
		_, err = e.c.ModifyTargetGroup(bg, &sdk.ModifyTargetGroupInput{TargetGroupArn: b.TargetGroupArn, HealthCheckTimeoutSeconds: aws.Int32(20)})
		wantAPIErr(t, err, "InvalidConfigurationRequest")
		_, err = e.c.ModifyTargetGroup(bg, &sdk.ModifyTargetGroupInput{TargetGroupArn: aws.String(e.svc.tgARN("x", "00000000000000ff"))})
		wantAPIErr(t, err, "TargetGroupNotFound")
	})
	t.Run("DeleteInUse", func(t *testing.T) {
		_, err := e.c.DeleteTargetGroup(bg, &sdk.DeleteTargetGroupInput{TargetGroupArn: a.TargetGroupArn})
		wantAPIErr(t, err, "ResourceInUse")
	})
	t.Run("Delete", func(t *testing.T) {
		if _, err := e.c.DeleteTargetGroup(bg, &sdk.DeleteTargetGroupInput{TargetGroupArn: b.TargetGroupArn}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.DescribeTargetGroups(bg, &sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{aws.ToString(b.TargetGroupArn)}})
		wantAPIErr(t, err, "TargetGroupNotFound")
		if _, err := e.c.DeleteTargetGroup(bg, &sdk.DeleteTargetGroupInput{TargetGroupArn: b.TargetGroupArn}); err != nil {
			t.Errorf("deleting again: %v, want success as in ELB", err)
		}
	})
}

func TestTargetGroupAttributes(t *testing.T) {
	e := newEnv(t)
	tg := e.createTG(t, "web", 80)
	attrs := func(out []sdktypes.TargetGroupAttribute) map[string]string {
		m := map[string]string{}
		for _, a := range out {
			m[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
		return m
	}
	out, err := e.c.DescribeTargetGroupAttributes(bg, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		t.Fatal(err)
	}
	got := attrs(out.Attributes)
	if len(got) != len(attrDefaults) || got[attrDeregistrationDelay] != "5" || got[attrAlgorithm] != "round_robin" || got[attrStickiness] != "false" || got[attrSlowStart] != "0" {
		t.Errorf("defaults: %v", got)
	}
	set := func(kv ...string) error {
		var in []sdktypes.TargetGroupAttribute
		for i := 0; i < len(kv); i += 2 {
			in = append(in, sdktypes.TargetGroupAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		_, err := e.c.ModifyTargetGroupAttributes(bg, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn, Attributes: in})
		return err
	}
	if err := set(attrDeregistrationDelay, "30", attrSlowStart, "60"); err != nil {
		t.Fatal(err)
	}
	out, err = e.c.DescribeTargetGroupAttributes(bg, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs(out.Attributes); got[attrDeregistrationDelay] != "30" || got[attrSlowStart] != "60" {
		t.Errorf("after modify: %v", got)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		code string
	}{
		{"Unknown", []string{"nope.key", "1"}, "ValidationError"},
		{"Stickiness", []string{attrStickiness, "true"}, "InvalidConfigurationRequest"},
		{"Delay", []string{attrDeregistrationDelay, "3601"}, "ValidationError"},
		{"Algorithm", []string{attrAlgorithm, "weighted_random"}, "InvalidConfigurationRequest"},
		{"SlowStartWithLOR", []string{attrAlgorithm, "least_outstanding_requests"}, "InvalidConfigurationRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIErr(t, set(tc.kv...), tc.code) })
	}
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.c.DescribeTargetGroupAttributes(bg, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(e.svc.tgARN("x", "00000000000000ff"))})
		wantAPIErr(t, err, "TargetGroupNotFound")
	})
}
