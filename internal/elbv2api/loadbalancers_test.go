package elbv2api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

func TestCreateLoadBalancer(t *testing.T) {
	e := newEnv(t)
	got := e.createLB(t, "web")
	arn := aws.ToString(got.LoadBalancerArn)
	if _, ok := parseARN(arn, "loadbalancer"); !ok {
		t.Errorf("LoadBalancerArn %q does not parse", arn)
	}
	for name, pair := range map[string][2]string{
		"DNSName":               {aws.ToString(got.DNSName), "127.0.0.1"},
		"Scheme":                {string(got.Scheme), "internet-facing"},
		"Type":                  {string(got.Type), "application"},
		"State":                 {string(got.State.Code), "active"},
		"CanonicalHostedZoneId": {aws.ToString(got.CanonicalHostedZoneId), hostedZoneID},
		"IpAddressType":         {string(got.IpAddressType), "ipv4"},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %q, want %q", name, pair[0], pair[1])
		}
	}

	t.Run("Idempotent", func(t *testing.T) {
		again := e.createLB(t, "web")
		if aws.ToString(again.LoadBalancerArn) != arn {
			t.Errorf("second create: ARN %s, want %s", aws.ToString(again.LoadBalancerArn), arn)
		}
	})
	t.Run("DuplicateName", func(t *testing.T) {
		_, err := e.c.CreateLoadBalancer(bg, &sdk.CreateLoadBalancerInput{Name: aws.String("web"), Scheme: sdktypes.LoadBalancerSchemeEnumInternal})
		wantAPIErr(t, err, "DuplicateLoadBalancerName")
	})
	t.Run("InternalBindsLoopback", func(t *testing.T) {
		e2 := newEnv(t)
		e2.svc.bind = "0.0.0.0"
		out, err := e2.c.CreateLoadBalancer(bg, &sdk.CreateLoadBalancerInput{Name: aws.String("in"), Scheme: sdktypes.LoadBalancerSchemeEnumInternal})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.LoadBalancers[0].DNSName); got != "127.0.0.1" {
			t.Errorf("internal DNSName = %q, want 127.0.0.1", got)
		}
		pub := e2.createLB(t, "pub")
		if got := aws.ToString(pub.DNSName); got != "0.0.0.0" {
			t.Errorf("internet-facing DNSName = %q, want the bind address 0.0.0.0", got)
		}
	})
	for _, tc := range []struct {
		name string
		in   sdk.CreateLoadBalancerInput
		code string
	}{
		{"BadName", sdk.CreateLoadBalancerInput{Name: aws.String("-web")}, "ValidationError"},
		{"LongName", sdk.CreateLoadBalancerInput{Name: aws.String("a23456789012345678901234567890123")}, "ValidationError"},
		{"InternalPrefix", sdk.CreateLoadBalancerInput{Name: aws.String("internal-x")}, "ValidationError"},
		{"NetworkType", sdk.CreateLoadBalancerInput{Name: aws.String("n"), Type: sdktypes.LoadBalancerTypeEnumNetwork}, "ValidationError"},
		{"BadScheme", sdk.CreateLoadBalancerInput{Name: aws.String("n"), Scheme: "public"}, "ValidationError"},
		{"Dualstack", sdk.CreateLoadBalancerInput{Name: aws.String("n"), IpAddressType: sdktypes.IpAddressTypeDualstack}, "ValidationError"},
		{"DuplicateTagKeys", sdk.CreateLoadBalancerInput{Name: aws.String("n"), Tags: []sdktypes.Tag{{Key: aws.String("a")}, {Key: aws.String("a")}}}, "DuplicateTagKeys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateLoadBalancer(bg, &tc.in)
			wantAPIErr(t, err, tc.code)
		})
	}
}

func TestDescribeLoadBalancers(t *testing.T) {
	e := newEnv(t)
	var arns []string
	for _, n := range []string{"a", "b", "c"} {
		arns = append(arns, aws.ToString(e.createLB(t, n).LoadBalancerArn))
	}
	names := func(lbs []sdktypes.LoadBalancer) []string {
		var out []string
		for _, l := range lbs {
			out = append(out, aws.ToString(l.LoadBalancerName))
		}
		return out
	}
	t.Run("ByName", func(t *testing.T) {
		out, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{Names: []string{"b"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"b"}, names(out.LoadBalancers)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ByARN", func(t *testing.T) {
		out, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{LoadBalancerArns: []string{arns[2]}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c"}, names(out.LoadBalancers)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("Paginated", func(t *testing.T) {
		var all []string
		p := sdk.NewDescribeLoadBalancersPaginator(e.c, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(2)})
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(bg)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, names(out.LoadBalancers)...)
		}
		if pages != 2 || len(all) != 3 {
			t.Errorf("got %d pages, %v; want 2 pages of 3 load balancers", pages, all)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{Names: []string{"nope"}})
		wantAPIErr(t, err, "LoadBalancerNotFound")
		_, err = e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{LoadBalancerArns: []string{otherARN(arns[0])}})
		wantAPIErr(t, err, "LoadBalancerNotFound")
	})
	t.Run("BadARN", func(t *testing.T) {
		_, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{LoadBalancerArns: []string{"arn:nope"}})
		wantAPIErr(t, err, "ValidationError")
	})
	t.Run("BadPageSize", func(t *testing.T) {
		_, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(401)})
		wantAPIErr(t, err, "ValidationError")
	})
	t.Run("BadMarker", func(t *testing.T) {
		_, err := e.c.DescribeLoadBalancers(bg, &sdk.DescribeLoadBalancersInput{Marker: aws.String("!!")})
		wantAPIErr(t, err, "ValidationError")
	})
}

func TestDeleteLoadBalancerCascades(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 80)
	ln := e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(tg.TargetGroupArn))
	if _, err := e.c.CreateRule(bg, &sdk.CreateRuleInput{
		ListenerArn: ln.ListenerArn, Priority: aws.Int32(1), Actions: forwardTo(tg.TargetGroupArn),
		Conditions: []sdktypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/a"}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteLoadBalancer(bg, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: l.LoadBalancerArn}); err != nil {
		t.Fatal(err)
	}
	w, err := e.svc.read(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.lbs) != 0 || len(w.listeners) != 0 || len(w.rules) != 0 || len(w.tgs) != 1 {
		t.Errorf("after delete: %d load balancers, %d listeners, %d rules, %d target groups; want 0, 0, 0, 1",
			len(w.lbs), len(w.listeners), len(w.rules), len(w.tgs))
	}
	// The target group is free again.
	if _, err := e.c.DeleteTargetGroup(bg, &sdk.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}); err != nil {
		t.Errorf("DeleteTargetGroup after its load balancer went: %v", err)
	}
	t.Run("Again", func(t *testing.T) {
		if _, err := e.c.DeleteLoadBalancer(bg, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: l.LoadBalancerArn}); err != nil {
			t.Errorf("deleting a deleted load balancer: %v, want success as in ELB", err)
		}
	})
	t.Run("BadARN", func(t *testing.T) {
		_, err := e.c.DeleteLoadBalancer(bg, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: tg.TargetGroupArn})
		wantAPIErr(t, err, "ValidationError")
	})
}
