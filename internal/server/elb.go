package server

import (
	"context"

	"github.com/berth-io/berth/internal/elbv2api"
	"github.com/berth-io/berth/internal/targets"
)

// elbTargets adapts the ELBv2 API to what internal/targets needs.
type elbTargets struct{ s *elbv2api.Service }

func (e elbTargets) AllTargets(ctx context.Context) (map[string][]targets.Target, error) {
	all, err := e.s.AllRegisteredTargets(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]targets.Target, len(all))
	for tg, ts := range all {
		conv := make([]targets.Target, len(ts))
		for i, t := range ts {
			conv[i] = targets.Target{IP: t.ID, Port: t.Port}
		}
		out[tg] = conv
	}
	return out, nil
}

func (e elbTargets) RegisterTargets(ctx context.Context, tg string, ts []targets.Target) error {
	return e.s.RegisterTargets(ctx, tg, toELB(ts))
}

func (e elbTargets) DeregisterTargets(ctx context.Context, tg string, ts []targets.Target) error {
	return e.s.DeregisterTargets(ctx, tg, toELB(ts))
}

func toELB(ts []targets.Target) []elbv2api.Target {
	out := make([]elbv2api.Target, len(ts))
	for i, t := range ts {
		out[i] = elbv2api.Target{ID: t.IP, Port: t.Port}
	}
	return out
}

// targetGroupChecker answers the ECS API's questions about the target
// groups a service names.
type targetGroupChecker struct{ s *elbv2api.Service }

func (c targetGroupChecker) TargetGroup(ctx context.Context, arn string) (exists, attached bool, err error) {
	info, err := c.s.TargetGroupInfo(ctx, arn)
	if err != nil {
		return false, false, err
	}
	return info.Exists, len(info.LoadBalancerArns) > 0, nil
}
