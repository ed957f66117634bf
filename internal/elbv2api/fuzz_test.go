package elbv2api

import (
	"errors"
	"net/url"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/awserr"
)

// FuzzOps sends arbitrary forms to every operation berth serves, over a
// store seeded with a load balancer, a target group, a listener and a
// rule. No input may panic, every error must be an *awserr.Error (an API
// error, never a leaked internal one), the store must still answer, and
// what is stored must still translate into a config the data plane takes.
func FuzzOps(f *testing.F) {
	e := newEnv(f)
	l, err := e.c.CreateLoadBalancer(bg, &sdk.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		f.Fatal(err)
	}
	tg, err := e.c.CreateTargetGroup(bg, &sdk.CreateTargetGroupInput{Name: aws.String("tg"), Protocol: "HTTP", Port: aws.Int32(80)})
	if err != nil {
		f.Fatal(err)
	}
	lbARN, tgARN := aws.ToString(l.LoadBalancers[0].LoadBalancerArn), aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	ln, err := e.svc.CreateListener(bg, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(freePortF(f)),
		DefaultActions: []elbv2.Action{{Type: "forward", TargetGroupArn: tgARN}}})
	if err != nil {
		f.Fatal(err)
	}
	lnARN := ln.Listeners[0].ListenerArn
	ops := e.svc.Ops()
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	seeds := []url.Values{
		{},
		{"Name": {"web2"}, "Scheme": {"internal"}, "Tags.member.1.Key": {"a"}},
		{"Name": {"tg2"}, "Protocol": {"HTTP"}, "Port": {"8080"}, "HealthCheckIntervalSeconds": {"1"}, "Matcher.HttpCode": {"200-299"}},
		{"LoadBalancerArn": {lbARN}, "Port": {"1"}, "DefaultActions.member.1.Type": {"fixed-response"}, "DefaultActions.member.1.FixedResponseConfig.StatusCode": {"200"}},
		{"ListenerArn": {lnARN}, "Priority": {"7"}, "Conditions.member.1.Field": {"path-pattern"}, "Conditions.member.1.Values.member.1": {"/a*"},
			"Actions.member.1.Type": {"forward"}, "Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": {tgARN}},
		{"TargetGroupArn": {tgARN}, "Targets.member.1.Id": {"10.0.0.1"}, "Targets.member.1.Port": {"8080"}},
		{"TargetGroupArn": {tgARN}, "Attributes.member.1.Key": {"deregistration_delay.timeout_seconds"}, "Attributes.member.1.Value": {"0"}},
		{"ResourceArns.member.1": {lbARN}, "ResourceArns.member.2": {lnARN}, "Tags.member.1.Key": {"k"}, "TagKeys.member.1": {"k"}},
		{"LoadBalancerArns.member.1": {lbARN}, "PageSize": {"0"}, "Marker": {"!!"}},
		{"Certificates.member.1.CertificateArn": {"file:///etc/passwd"}, "Protocol": {"HTTPS"}, "LoadBalancerArn": {lbARN}, "Port": {"2"}},
	}
	for i := range names {
		for _, sd := range seeds {
			f.Add(uint8(i), sd.Encode())
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		name := names[int(op)%len(names)]
		_, err = ops[name](bg, form)
		var ae *awserr.Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("%s(%q): error %v is not an API error", name, body, err)
		}
		if _, err := e.svc.read(bg); err != nil {
			t.Fatalf("store unusable after %s(%q): %v", name, body, err)
		}
		cfg, err := e.svc.DataPlaneConfig(bg)
		if err != nil {
			t.Fatalf("DataPlaneConfig after %s(%q): %v", name, body, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("after %s(%q) the data plane refuses the config: %v", name, body, err)
		}
	})
}

func freePortF(f *testing.F) int32 {
	return freePort(f)
}
