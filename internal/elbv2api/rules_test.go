package elbv2api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

func pathCond(vals ...string) []sdktypes.RuleCondition {
	return []sdktypes.RuleCondition{{Field: aws.String("path-pattern"), Values: vals}}
}

func TestRules(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	a := e.createTG(t, "a", 80)
	b := e.createTG(t, "b", 80)
	ln := e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(a.TargetGroupArn))
	create := func(prio int32, conds []sdktypes.RuleCondition, actions []sdktypes.Action) (sdktypes.Rule, error) {
		out, err := e.c.CreateRule(bg, &sdk.CreateRuleInput{ListenerArn: ln.ListenerArn, Priority: aws.Int32(prio), Conditions: conds, Actions: actions})
		if err != nil {
			return sdktypes.Rule{}, err
		}
		return out.Rules[0], nil
	}

	r10, err := create(10, []sdktypes.RuleCondition{
		{Field: aws.String("host-header"), HostHeaderConfig: &sdktypes.HostHeaderConditionConfig{Values: []string{"api.example.com"}}},
		{Field: aws.String("path-pattern"), PathPatternConfig: &sdktypes.PathPatternConditionConfig{Values: []string{"/v1/*"}}},
	}, []sdktypes.Action{{Type: "forward", ForwardConfig: &sdktypes.ForwardActionConfig{TargetGroups: []sdktypes.TargetGroupTuple{
		{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(80)}, {TargetGroupArn: b.TargetGroupArn, Weight: aws.Int32(20)},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r10.Conditions[0]; aws.ToString(got.Field) != "host-header" || !cmp.Equal(got.Values, []string{"api.example.com"}) || !cmp.Equal(got.HostHeaderConfig.Values, got.Values) {
		t.Errorf("condition not returned in both forms: %+v", got)
	}
	if aws.ToBool(r10.IsDefault) || aws.ToString(r10.Priority) != "10" {
		t.Errorf("rule: IsDefault %v Priority %q", aws.ToBool(r10.IsDefault), aws.ToString(r10.Priority))
	}
	r5, err := create(5, pathCond("/static/*"), fixed("204"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Describe", func(t *testing.T) {
		out, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{ListenerArn: ln.ListenerArn})
		if err != nil {
			t.Fatal(err)
		}
		var prios []string
		for _, r := range out.Rules {
			prios = append(prios, aws.ToString(r.Priority))
		}
		if diff := cmp.Diff([]string{"5", "10", "default"}, prios); diff != "" {
			t.Errorf("priorities (-want +got):\n%s", diff)
		}
		if d := out.Rules[2]; !aws.ToBool(d.IsDefault) || aws.ToString(d.Actions[0].TargetGroupArn) != aws.ToString(a.TargetGroupArn) {
			t.Errorf("default rule: %+v", d)
		}
		byARN, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{RuleArns: []string{aws.ToString(r5.RuleArn)}})
		if err != nil || len(byARN.Rules) != 1 || aws.ToString(byARN.Rules[0].Priority) != "5" {
			t.Errorf("by ARN: %v %+v", err, byARN)
		}
		paged, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{ListenerArn: ln.ListenerArn, PageSize: aws.Int32(2)})
		if err != nil || len(paged.Rules) != 2 || paged.NextMarker == nil {
			t.Fatalf("page 1: %v %+v", err, paged)
		}
		rest, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{ListenerArn: ln.ListenerArn, PageSize: aws.Int32(2), Marker: paged.NextMarker})
		if err != nil || len(rest.Rules) != 1 || !aws.ToBool(rest.Rules[0].IsDefault) {
			t.Errorf("page 2: %v %+v", err, rest)
		}
	})
	t.Run("CreateErrors", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			prio    int32
			conds   []sdktypes.RuleCondition
			actions []sdktypes.Action
			code    string
		}{
			{"PriorityInUse", 10, pathCond("/x"), fixed("200"), "PriorityInUse"},
			{"PriorityRange", 50001, pathCond("/x"), fixed("200"), "ValidationError"},
			{"NoConditions", 11, []sdktypes.RuleCondition{}, fixed("200"), "ValidationError"},
			{"BothForms", 11, []sdktypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/a"}, PathPatternConfig: &sdktypes.PathPatternConditionConfig{Values: []string{"/b"}}}}, fixed("200"), "ValidationError"},
			{"TwoPathConditions", 11, append(pathCond("/a"), pathCond("/b")...), fixed("200"), "ValidationError"},
			{"SourceIP", 11, []sdktypes.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &sdktypes.SourceIpConditionConfig{Values: []string{"10.0.0.0/8"}}}}, fixed("200"), "InvalidConfigurationRequest"},
			{"TooManyValues", 11, pathCond("/1", "/2", "/3", "/4", "/5", "/6"), fixed("200"), "InvalidConfigurationRequest"},
			{"BadHost", 11, []sdktypes.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a b"}}}, fixed("200"), "ValidationError"},
			{"Weight", 11, pathCond("/x"), []sdktypes.Action{{Type: "forward", ForwardConfig: &sdktypes.ForwardActionConfig{TargetGroups: []sdktypes.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(1000)}}}}}, "ValidationError"},
			{"MismatchedForward", 11, pathCond("/x"), []sdktypes.Action{{Type: "forward", TargetGroupArn: b.TargetGroupArn, ForwardConfig: &sdktypes.ForwardActionConfig{TargetGroups: []sdktypes.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}}}}, "ValidationError"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := create(tc.prio, tc.conds, tc.actions)
				wantAPIErr(t, err, tc.code)
			})
		}
		_, err := e.c.CreateRule(bg, &sdk.CreateRuleInput{ListenerArn: aws.String(listenerARN(aws.ToString(l.LoadBalancerArn), "00000000000000ff")), Priority: aws.Int32(1), Conditions: pathCond("/"), Actions: fixed("200")})
		wantAPIErr(t, err, "ListenerNotFound")
	})
	t.Run("Modify", func(t *testing.T) {
		out, err := e.c.ModifyRule(bg, &sdk.ModifyRuleInput{RuleArn: r5.RuleArn, Conditions: pathCond("/assets/*"), Actions: forwardTo(b.TargetGroupArn)})
		if err != nil {
			t.Fatal(err)
		}
		got := out.Rules[0]
		if !cmp.Equal(got.Conditions[0].Values, []string{"/assets/*"}) || aws.ToString(got.Actions[0].TargetGroupArn) != aws.ToString(b.TargetGroupArn) || aws.ToString(got.Priority) != "5" {
			t.Errorf("after modify: %+v", got)
		}
	})
	t.Run("DefaultRule", func(t *testing.T) {
		out, err := e.c.DescribeRules(bg, &sdk.DescribeRulesInput{ListenerArn: ln.ListenerArn})
		if err != nil {
			t.Fatal(err)
		}
		def := out.Rules[len(out.Rules)-1].RuleArn
		mod, err := e.c.ModifyRule(bg, &sdk.ModifyRuleInput{RuleArn: def, Actions: fixed("503")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(mod.Rules[0].Actions[0].FixedResponseConfig.StatusCode) != "503" {
			t.Errorf("default rule actions not changed: %+v", mod.Rules[0])
		}
		ls, _ := e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{ListenerArns: []string{aws.ToString(ln.ListenerArn)}})
		if ls.Listeners[0].DefaultActions[0].Type != "fixed-response" {
			t.Errorf("the listener's default actions did not follow its default rule")
		}
		_, err = e.c.ModifyRule(bg, &sdk.ModifyRuleInput{RuleArn: def, Conditions: pathCond("/")})
		wantAPIErr(t, err, "OperationNotPermitted")
		_, err = e.c.DeleteRule(bg, &sdk.DeleteRuleInput{RuleArn: def})
		wantAPIErr(t, err, "OperationNotPermitted")
		_, err = e.c.SetRulePriorities(bg, &sdk.SetRulePrioritiesInput{RulePriorities: []sdktypes.RulePriorityPair{{RuleArn: def, Priority: aws.Int32(1)}}})
		wantAPIErr(t, err, "OperationNotPermitted")
	})
	t.Run("SetRulePriorities", func(t *testing.T) {
		out, err := e.c.SetRulePriorities(bg, &sdk.SetRulePrioritiesInput{RulePriorities: []sdktypes.RulePriorityPair{
			{RuleArn: r5.RuleArn, Priority: aws.Int32(10)}, {RuleArn: r10.RuleArn, Priority: aws.Int32(5)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Rules) != 2 || aws.ToString(out.Rules[0].Priority) != "10" || aws.ToString(out.Rules[1].Priority) != "5" {
			t.Errorf("swap: %+v", out.Rules)
		}
		_, err = e.c.SetRulePriorities(bg, &sdk.SetRulePrioritiesInput{RulePriorities: []sdktypes.RulePriorityPair{{RuleArn: r5.RuleArn, Priority: aws.Int32(5)}}})
		wantAPIErr(t, err, "PriorityInUse")
	})
	t.Run("Delete", func(t *testing.T) {
		if _, err := e.c.DeleteRule(bg, &sdk.DeleteRuleInput{RuleArn: r10.RuleArn}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.DeleteRule(bg, &sdk.DeleteRuleInput{RuleArn: r10.RuleArn})
		wantAPIErr(t, err, "RuleNotFound")
		_, err = e.c.DescribeRules(bg, &sdk.DescribeRulesInput{RuleArns: []string{aws.ToString(r10.RuleArn)}})
		wantAPIErr(t, err, "RuleNotFound")
	})
	t.Run("TargetGroupInUseByRule", func(t *testing.T) {
		_, err := e.c.DeleteTargetGroup(bg, &sdk.DeleteTargetGroupInput{TargetGroupArn: b.TargetGroupArn})
		wantAPIErr(t, err, "ResourceInUse")
	})
}
