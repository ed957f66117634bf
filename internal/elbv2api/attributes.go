package elbv2api

import (
	"context"
	"strconv"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/store"
)

// Target group attributes: ELB's set for an application load balancer's
// target group, with berth's defaults. The data plane acts on
// deregistration_delay.timeout_seconds, slow_start.duration_seconds and
// load_balancing.algorithm.type; stickiness can only be off; the others
// are stored and returned.
const (
	attrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	attrSlowStart           = "slow_start.duration_seconds"
	attrAlgorithm           = "load_balancing.algorithm.type"
	attrStickiness          = "stickiness.enabled"

	// DefaultDeregistrationDelaySeconds is berth's default (ELB's is 300).
	DefaultDeregistrationDelaySeconds = 5
)

// attrDefaults lists every attribute in the order Describe returns them.
var attrDefaults = [][2]string{
	{attrStickiness, "false"},
	{attrDeregistrationDelay, strconv.Itoa(DefaultDeregistrationDelaySeconds)},
	{"stickiness.type", "lb_cookie"},
	{"stickiness.lb_cookie.duration_seconds", "86400"},
	{"stickiness.app_cookie.cookie_name", ""},
	{"stickiness.app_cookie.duration_seconds", "86400"},
	{attrSlowStart, "0"},
	{attrAlgorithm, string(lb.RoundRobin)},
	{"load_balancing.algorithm.anomaly_mitigation", "off"},
	{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
	{"target_group_health.dns_failover.minimum_healthy_targets.count", "1"},
	{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off"},
}

func defaultAttributes() []elbv2.TargetGroupAttribute {
	out := make([]elbv2.TargetGroupAttribute, len(attrDefaults))
	for i, kv := range attrDefaults {
		out[i] = elbv2.TargetGroupAttribute{Key: kv[0], Value: kv[1]}
	}
	return out
}

// attrValue returns the value of key in attrs, or its default.
func attrValue(attrs []elbv2.TargetGroupAttribute, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value
		}
	}
	for _, kv := range attrDefaults {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// mergeAttributes returns the full attribute set with changes applied,
// after checking each change and the result.
func mergeAttributes(cur, changes []elbv2.TargetGroupAttribute) ([]elbv2.TargetGroupAttribute, error) {
	out := defaultAttributes()
	for i := range out {
		out[i].Value = attrValue(cur, out[i].Key)
	}
	for i, c := range changes {
		member := "Attributes.member." + strconv.Itoa(i+1)
		j := -1
		for k := range out {
			if out[k].Key == c.Key {
				j = k
			}
		}
		if j < 0 {
			return nil, errValidation("%s.Key: target group attribute key '%s' is not recognized", member, clip(c.Key))
		}
		if err := checkAttribute(c.Key, c.Value, member); err != nil {
			return nil, err
		}
		out[j].Value = c.Value
	}
	if attrValue(out, attrSlowStart) != "0" && attrValue(out, attrAlgorithm) != string(lb.RoundRobin) {
		return nil, errConfig("%s: slow start works with the round_robin algorithm only", attrSlowStart)
	}
	return out, nil
}

func checkAttribute(key, value, member string) error {
	intIn := func(lo, hi int) error {
		n, err := strconv.Atoi(value)
		if err != nil || n < lo || n > hi {
			return errValidation("%s.Value: %s must be an integer between %d and %d, got '%s'", member, key, lo, hi, clip(value))
		}
		return nil
	}
	oneOf := func(vals ...string) error {
		for _, v := range vals {
			if value == v {
				return nil
			}
		}
		return errConfig("%s.Value: %s must be one of %v in berth, got '%s'", member, key, vals, clip(value))
	}
	switch key {
	case attrDeregistrationDelay:
		return intIn(0, 3600)
	case attrSlowStart:
		// ELB: 0 or 30-900. berth's data plane ramps over any period.
		return intIn(0, 900)
	case attrAlgorithm:
		return oneOf(string(lb.RoundRobin), string(lb.LeastOutstandingRequests))
	case attrStickiness:
		return oneOf("false")
	case "stickiness.type":
		return oneOf("lb_cookie", "app_cookie")
	case "stickiness.lb_cookie.duration_seconds", "stickiness.app_cookie.duration_seconds":
		return intIn(1, 604800)
	case "load_balancing.algorithm.anomaly_mitigation":
		return oneOf("off")
	case "load_balancing.cross_zone.enabled":
		return oneOf("true", "false", "use_load_balancer_configuration")
	}
	return nil
}

// DescribeTargetGroupAttributes returns a target group's attributes.
func (s *Service) DescribeTargetGroupAttributes(ctx context.Context, in *elbv2.DescribeTargetGroupAttributesInput) (*elbv2.DescribeTargetGroupAttributesOutput, error) {
	if _, err := parseTGARN(in.TargetGroupArn); err != nil {
		return nil, err
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	r, err := w.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	attrs, _ := mergeAttributes(r.v.Attributes, nil)
	return &elbv2.DescribeTargetGroupAttributesOutput{Attributes: attrs}, nil
}

// ModifyTargetGroupAttributes changes attributes and returns them all.
func (s *Service) ModifyTargetGroupAttributes(ctx context.Context, in *elbv2.ModifyTargetGroupAttributesInput) (*elbv2.ModifyTargetGroupAttributesOutput, error) {
	if _, err := parseTGARN(in.TargetGroupArn); err != nil {
		return nil, err
	}
	if len(in.Attributes) == 0 {
		return nil, errValidation("Attributes: at least one attribute must be given")
	}
	return update(ctx, s, func(w *world) (*elbv2.ModifyTargetGroupAttributesOutput, []store.Op, error) {
		r, err := w.tg(in.TargetGroupArn)
		if err != nil {
			return nil, nil, err
		}
		attrs, err := mergeAttributes(r.v.Attributes, in.Attributes)
		if err != nil {
			return nil, nil, err
		}
		next := *r.v
		next.Attributes = attrs
		ops, err := put(r.key, &next, r.rev)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.ModifyTargetGroupAttributesOutput{Attributes: attrs}, ops, nil
	})
}
