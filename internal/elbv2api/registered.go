package elbv2api

import (
	"context"
	"errors"

	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// RegisteredTargets returns the targets registered in a target group, for
// berth's controllers (internal/targets). It reads the one record.
func (s *Service) RegisteredTargets(ctx context.Context, arn string) ([]Target, error) {
	id, ok := parseARN(arn, "targetgroup")
	if !ok {
		return nil, ErrTargetGroupNotFound
	}
	rec, err := state.Get[state.ELBTargetGroup](ctx, s.st, state.ELBTargetGroupKey(id.tg))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTargetGroupNotFound
	}
	if err != nil {
		return nil, err
	}
	if rec.Value.TargetGroupArn != arn {
		return nil, ErrTargetGroupNotFound
	}
	out := make([]Target, 0, len(rec.Value.Targets))
	for _, t := range rec.Value.Targets {
		out = append(out, Target{ID: t.ID, Port: t.Port, AZ: t.AvailabilityZone})
	}
	return out, nil
}
