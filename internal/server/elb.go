package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-io/berth/internal/elbv2api"
	"github.com/berth-io/berth/internal/targets"
)

// elbTargets adapts the ELBv2 API to what internal/targets needs.
type elbTargets struct{ s *elbv2api.Service }

func (e elbTargets) Targets(ctx context.Context, tg string) ([]targets.Target, error) {
	ts, err := e.s.RegisteredTargets(ctx, tg)
	if errors.Is(err, elbv2api.ErrTargetGroupNotFound) {
		return nil, fmt.Errorf("%s: %w", tg, targets.ErrNoTargetGroup)
	}
	if err != nil {
		return nil, err
	}
	out := make([]targets.Target, len(ts))
	for i, t := range ts {
		out[i] = targets.Target{IP: t.ID, Port: t.Port}
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
