package elbv2api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// DataPlane takes the load balancer config; *lb.LB implements it.
type DataPlane interface {
	Apply(cfg lb.Config) error
}

var _ DataPlane = (*lb.LB)(nil)

// Sync reads the store and applies the config it describes to dp. It is
// Run's loop body.
func (s *Service) Sync(ctx context.Context, dp DataPlane) error {
	cfg, err := s.DataPlaneConfig(ctx)
	if err != nil {
		return fmt.Errorf("build load balancer config: %w", err)
	}
	if err := dp.Apply(cfg); err != nil {
		return fmt.Errorf("apply load balancer config: %w", err)
	}
	return nil
}

// Retry backoff after a failed Sync.
const (
	minRetry = 500 * time.Millisecond
	maxRetry = 30 * time.Second
)

// Run keeps dp configured as the store says until ctx ends: it syncs at
// start (so a restart restores every listener), then after every change
// under elbv2/, once changes have settled for the debounce period. A failed
// Sync is logged and retried with backoff; a watch that falls behind is
// restarted.
func (s *Service) Run(ctx context.Context, dp DataPlane) error {
	retry := time.Duration(0)
	for {
		rev, err := s.st.Revision(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("store revision: %w", err)
		}
		if err := s.Sync(ctx, dp); err != nil {
			retry = min(max(retry*2, minRetry), maxRetry)
			s.log.Error("load balancer sync failed; retrying", "err", err, "retry_in", retry)
			if !sleep(ctx, retry) {
				return nil
			}
			continue
		}
		retry = 0
		wctx, cancel := context.WithCancel(ctx)
		ch, err := s.st.Watch(wctx, state.ELBv2Prefix, rev)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, store.ErrCompacted) {
				continue
			}
			return fmt.Errorf("watch %s: %w", state.ELBv2Prefix, err)
		}
		changed := s.waitChange(ctx, ch)
		cancel()
		if !changed {
			return nil
		}
	}
}

// waitChange returns once a change arrived and no other followed for the
// debounce period (true), or the watch closed (true: re-sync and watch
// again), or ctx ended (false).
func (s *Service) waitChange(ctx context.Context, ch <-chan store.Event) bool {
	select {
	case <-ctx.Done():
		return false
	case _, ok := <-ch:
		if !ok {
			return ctx.Err() == nil
		}
	}
	t := time.NewTimer(s.debounce)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case _, ok := <-ch:
			if !ok {
				return ctx.Err() == nil
			}
			t.Reset(s.debounce)
		case <-t.C:
			return true
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
