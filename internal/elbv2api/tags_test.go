package elbv2api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

func TestTags(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 80)
	ln := e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(tg.TargetGroupArn))
	rules, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{ListenerArn: ln.ListenerArn})
	if err != nil {
		t.Fatal(err)
	}
	arns := []string{aws.ToString(l.LoadBalancerArn), aws.ToString(tg.TargetGroupArn), aws.ToString(ln.ListenerArn), aws.ToString(rules.Rules[0].RuleArn)}
	tag := func(k, v string) sdktypes.Tag { return sdktypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	if _, err := e.c.AddTags(bg, &sdk.AddTagsInput{ResourceArns: arns, Tags: []sdktypes.Tag{tag("env", "prod"), tag("team", "a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddTags(bg, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []sdktypes.Tag{tag("env", "dev")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.RemoveTags(bg, &sdk.RemoveTagsInput{ResourceArns: arns[1:2], TagKeys: []string{"team", "absent"}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.c.DescribeTags(bg, &sdk.DescribeTagsInput{ResourceArns: arns})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, d := range out.TagDescriptions {
		m := map[string]string{}
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		got[aws.ToString(d.ResourceArn)] = m
	}
	want := map[string]map[string]string{
		arns[0]: {"env": "dev", "team": "a"},
		arns[1]: {"env": "prod"},
		arns[2]: {"env": "prod", "team": "a"},
		arns[3]: {"env": "prod", "team": "a"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	t.Run("Errors", func(t *testing.T) {
		_, err := e.c.AddTags(bg, &sdk.AddTagsInput{ResourceArns: []string{e.svc.tgARN("x", "00000000000000ff")}, Tags: []sdktypes.Tag{tag("a", "b")}})
		wantAPIErr(t, err, "TargetGroupNotFound")
		_, err = e.c.AddTags(bg, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: []sdktypes.Tag{tag("aws:x", "b")}})
		wantAPIErr(t, err, "ValidationError")
		_, err = e.c.DescribeTags(bg, &sdk.DescribeTagsInput{ResourceArns: []string{"arn:aws:s3:::bucket"}})
		wantAPIErr(t, err, "ValidationError")
		var many []sdktypes.Tag
		for i := range 51 {
			many = append(many, tag("k"+string(rune('a'+i%26))+string(rune('a'+i/26)), "v"))
		}
		_, err = e.c.AddTags(bg, &sdk.AddTagsInput{ResourceArns: arns[:1], Tags: many})
		wantAPIErr(t, err, "TooManyTags")
	})
}
