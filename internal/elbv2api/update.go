package elbv2api

import (
	"context"

	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// update runs one read-modify-write operation: holding s.mu, it reads the
// world, lets change decide the response and the ops that make it true,
// and applies the ops in one transaction. An error from change is returned
// as it is and nothing is written; no ops means nothing to write (as when
// an idempotent create finds its resource).
func update[T any](ctx context.Context, s *Service, change func(w *world) (T, []store.Op, error)) (T, error) {
	var zero T
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.read(ctx)
	if err != nil {
		return zero, errServer(err)
	}
	out, ops, err := change(w)
	if err != nil {
		return zero, err
	}
	if len(ops) > 0 {
		if _, err := s.st.Txn(ctx, ops...); err != nil {
			return zero, errServer(err)
		}
	}
	return out, nil
}

// put returns the op writing v at key if it is still at revision rev
// (store.Absent: if nothing is there).
func put(key string, v any, rev int64) ([]store.Op, error) {
	op, err := state.PutOp(key, v, rev)
	if err != nil {
		return nil, errServer(err)
	}
	return []store.Op{op}, nil
}
