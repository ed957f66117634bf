package elbv2api

import (
	"context"

	"github.com/berth-io/berth/internal/state"
)

// AllRegisteredTargets returns the registered targets of every target
// group, by target group ARN, for berth's controllers (internal/targets).
// It reads the target group records only.
func (s *Service) AllRegisteredTargets(ctx context.Context) (map[string][]Target, error) {
	recs, err := state.List[state.ELBTargetGroup](ctx, s.st, state.ELBTargetGroupsPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Target, len(recs))
	for _, r := range recs {
		ts := make([]Target, 0, len(r.Value.Targets))
		for _, t := range r.Value.Targets {
			ts = append(ts, Target{ID: t.ID, Port: t.Port, AZ: t.AvailabilityZone})
		}
		out[r.Value.TargetGroupArn] = ts
	}
	return out, nil
}
