package elbv2api

import (
	"fmt"
	"regexp"

	"github.com/berth-io/berth/api/elbv2"
)

// Actions: berth serves forward (one target group, or weighted target
// groups) and fixed-response. A rule or default action list holds exactly
// one of them; redirect and authenticate actions are refused.

const (
	maxForwardTargetGroups = 5
	maxWeight              = 999
)

var (
	statusCodeRE = regexp.MustCompile(`^[245]\d\d$`)
	contentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
	hostValueRE  = regexp.MustCompile(`^[A-Za-z0-9\-.*?]{1,128}$`)
	pathValueRE  = regexp.MustCompile("^[A-Za-z0-9_\\-.$/~\"'@:+&()!,;=*?%]{1,128}$")
)

// maxConditions bounds the values across all conditions of a rule.
const maxConditions = 5

// forwardTGs returns the target groups an action forwards to.
func forwardTGs(a elbv2.Action) []string {
	if a.Type != elbv2.ActionTypeEnumForward {
		return nil
	}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		out := make([]string, 0, len(a.ForwardConfig.TargetGroups))
		for _, t := range a.ForwardConfig.TargetGroups {
			out = append(out, t.TargetGroupArn)
		}
		return out
	}
	if a.TargetGroupArn != "" {
		return []string{a.TargetGroupArn}
	}
	return nil
}

// checkActions validates actions (named member in errors) against the
// world: target groups must exist and be used by no other load balancer.
// It returns them normalized as ELB returns them: a forward action carries
// both ForwardConfig (weights, stickiness off) and, with one target group,
// TargetGroupArn.
func checkActions(w *world, lbARN string, actions []elbv2.Action, member string) ([]elbv2.Action, error) {
	if len(actions) == 0 {
		return nil, errValidation("%s: at least one action must be given", member)
	}
	if len(actions) > 1 {
		return nil, apiErr(elbv2.ErrInvalidLoadBalancerAction, "%s: berth takes exactly one forward or fixed-response action, got %d", member, len(actions))
	}
	a := actions[0]
	m := member + ".member.1"
	if a.Order != nil && (*a.Order < 1 || *a.Order > 50000) {
		return nil, errValidation("%s.Order: must be between 1 and 50000", m)
	}
	out := elbv2.Action{Type: a.Type, Order: a.Order}
	switch a.Type {
	case elbv2.ActionTypeEnumForward:
		if a.FixedResponseConfig != nil || a.RedirectConfig != nil {
			return nil, errValidation("%s: a forward action takes TargetGroupArn or ForwardConfig only", m)
		}
		fc, err := checkForward(w, lbARN, a, m)
		if err != nil {
			return nil, err
		}
		out.ForwardConfig = fc
		if len(fc.TargetGroups) == 1 {
			out.TargetGroupArn = fc.TargetGroups[0].TargetGroupArn
		}
	case elbv2.ActionTypeEnumFixedResponse:
		f := a.FixedResponseConfig
		if f == nil {
			return nil, errValidation("%s.FixedResponseConfig: required for a fixed-response action", m)
		}
		if a.TargetGroupArn != "" || a.ForwardConfig != nil {
			return nil, errValidation("%s: a fixed-response action takes FixedResponseConfig only", m)
		}
		if !statusCodeRE.MatchString(f.StatusCode) {
			return nil, errValidation("%s.FixedResponseConfig.StatusCode: must be a 2XX, 4XX or 5XX code, got '%s'", m, clip(f.StatusCode))
		}
		if f.ContentType != "" && !contains(contentTypes, f.ContentType) {
			return nil, errValidation("%s.FixedResponseConfig.ContentType: must be one of %v", m, contentTypes)
		}
		if len(f.MessageBody) > 1024 {
			return nil, errValidation("%s.FixedResponseConfig.MessageBody: at most 1024 characters", m)
		}
		out.FixedResponseConfig = &elbv2.FixedResponseActionConfig{StatusCode: f.StatusCode, ContentType: f.ContentType, MessageBody: f.MessageBody}
	case "":
		return nil, errValidation("%s.Type: required", m)
	default:
		if !elbv2.ValidActionTypeEnum(a.Type) {
			return nil, errValidation("%s.Type: '%s' is not a valid action type", m, clip(a.Type))
		}
		return nil, apiErr(elbv2.ErrInvalidLoadBalancerAction, "%s.Type: berth serves forward and fixed-response actions, not %s", m, a.Type)
	}
	return []elbv2.Action{out}, nil
}

func checkForward(w *world, lbARN string, a elbv2.Action, m string) (*elbv2.ForwardActionConfig, error) {
	var tuples []elbv2.TargetGroupTuple
	if a.ForwardConfig != nil {
		if sc := a.ForwardConfig.TargetGroupStickinessConfig; sc != nil && sc.Enabled != nil && *sc.Enabled {
			return nil, errConfig("%s.ForwardConfig.TargetGroupStickinessConfig.Enabled: berth does not support target group stickiness", m)
		}
		tuples = a.ForwardConfig.TargetGroups
	}
	switch {
	case len(tuples) == 0 && a.TargetGroupArn == "":
		return nil, errValidation("%s: a forward action needs TargetGroupArn or ForwardConfig.TargetGroups", m)
	case len(tuples) == 0:
		tuples = []elbv2.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}
	case a.TargetGroupArn != "" && (len(tuples) != 1 || tuples[0].TargetGroupArn != a.TargetGroupArn):
		return nil, errValidation("%s: with both TargetGroupArn and ForwardConfig, ForwardConfig must hold that one target group", m)
	}
	if len(tuples) > maxForwardTargetGroups {
		return nil, apiErr(elbv2.ErrTooManyTargetGroups, "%s.ForwardConfig.TargetGroups: at most %d target groups", m, maxForwardTargetGroups)
	}
	used := w.tgLoadBalancers()
	out := &elbv2.ForwardActionConfig{TargetGroupStickinessConfig: &elbv2.TargetGroupStickinessConfig{Enabled: ptr(false)}}
	seen := map[string]bool{}
	for i, t := range tuples {
		tm := fmt.Sprintf("%s.ForwardConfig.TargetGroups.member.%d", m, i+1)
		if _, err := parseTGARN(t.TargetGroupArn); err != nil {
			return nil, err
		}
		if seen[t.TargetGroupArn] {
			return nil, errValidation("%s.TargetGroupArn: target group '%s' is given twice", tm, t.TargetGroupArn)
		}
		seen[t.TargetGroupArn] = true
		if _, ok := w.tgByARN(t.TargetGroupArn); !ok {
			return nil, apiErr(elbv2.ErrTargetGroupNotFound, "Target group '%s' not found", t.TargetGroupArn)
		}
		for _, other := range used[t.TargetGroupArn] {
			if other != lbARN {
				return nil, apiErr(elbv2.ErrTargetGroupAssociationLimit, "The following target groups cannot be associated with more than one load balancer: %s", t.TargetGroupArn)
			}
		}
		weight := int32(1)
		if t.Weight != nil {
			if *t.Weight < 0 || *t.Weight > maxWeight {
				return nil, errValidation("%s.Weight: must be between 0 and %d", tm, maxWeight)
			}
			weight = *t.Weight
		}
		out.TargetGroups = append(out.TargetGroups, elbv2.TargetGroupTuple{TargetGroupArn: t.TargetGroupArn, Weight: ptr(weight)})
	}
	return out, nil
}

// checkConditions validates rule conditions: host-header and path-pattern,
// each at most once, by Values or by its Config. It returns them with
// both forms filled, as ELB returns them.
func checkConditions(conds []elbv2.RuleCondition, member string) ([]elbv2.RuleCondition, error) {
	if len(conds) == 0 {
		return nil, errValidation("%s: at least one condition must be given", member)
	}
	seen := map[string]bool{}
	total := 0
	out := make([]elbv2.RuleCondition, 0, len(conds))
	for i, c := range conds {
		m := fmt.Sprintf("%s.member.%d", member, i+1)
		if len(c.RegexValues) > 0 {
			return nil, errConfig("%s.RegexValues: berth does not support regular-expression conditions", m)
		}
		var cfgValues []string
		hasCfg := false
		var re regexpCheck
		switch c.Field {
		case "host-header":
			if c.HostHeaderConfig != nil {
				if len(c.HostHeaderConfig.RegexValues) > 0 {
					return nil, errConfig("%s.HostHeaderConfig.RegexValues: berth does not support regular-expression conditions", m)
				}
				hasCfg, cfgValues = true, c.HostHeaderConfig.Values
			}
			re = regexpCheck{hostValueRE, "host names of up to 128 letters, digits, hyphens, dots and the wildcards * and ?"}
		case "path-pattern":
			if c.PathPatternConfig != nil {
				if len(c.PathPatternConfig.RegexValues) > 0 {
					return nil, errConfig("%s.PathPatternConfig.RegexValues: berth does not support regular-expression conditions", m)
				}
				hasCfg, cfgValues = true, c.PathPatternConfig.Values
			}
			re = regexpCheck{pathValueRE, "paths of up to 128 characters (the wildcards * and ? allowed)"}
		case "http-header", "http-request-method", "query-string", "source-ip":
			return nil, errConfig("%s.Field: berth supports host-header and path-pattern conditions, not %s", m, c.Field)
		case "":
			return nil, errValidation("%s.Field: required", m)
		default:
			return nil, errValidation("%s.Field: '%s' is not a valid condition field", m, clip(c.Field))
		}
		if c.HttpHeaderConfig != nil || c.HttpRequestMethodConfig != nil || c.QueryStringConfig != nil || c.SourceIpConfig != nil ||
			(c.Field == "host-header" && c.PathPatternConfig != nil) || (c.Field == "path-pattern" && c.HostHeaderConfig != nil) {
			return nil, errValidation("%s: the condition's config does not match its field %s", m, c.Field)
		}
		if seen[c.Field] {
			return nil, errValidation("%s.Field: a rule may have at most one %s condition", m, c.Field)
		}
		seen[c.Field] = true
		values := c.Values
		if hasCfg {
			if len(c.Values) > 0 {
				return nil, errValidation("%s: give Values or the field's Config, not both", m)
			}
			values = cfgValues
		}
		if len(values) == 0 {
			return nil, errValidation("%s.Values: at least one value must be given", m)
		}
		for j, v := range values {
			if !re.re.MatchString(v) {
				return nil, errValidation("%s.Values.member.%d: '%s' is not valid: %s", m, j+1, clip(v), re.want)
			}
		}
		total += len(values)
		n := elbv2.RuleCondition{Field: c.Field, Values: append([]string(nil), values...)}
		if c.Field == "host-header" {
			n.HostHeaderConfig = &elbv2.HostHeaderConditionConfig{Values: n.Values}
		} else {
			n.PathPatternConfig = &elbv2.PathPatternConditionConfig{Values: n.Values}
		}
		out = append(out, n)
	}
	if total > maxConditions {
		return nil, errConfig("%s: a rule may have at most %d condition values, got %d", member, maxConditions, total)
	}
	return out, nil
}

type regexpCheck struct {
	re   *regexp.Regexp
	want string
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
