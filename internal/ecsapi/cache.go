package ecsapi

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// Read-only decisions (cluster and service counts, an agent's desired
// tasks, the controllers' view of a cluster) read tasks through the
// in-memory index when one is configured, instead of decoding every task
// record of the cluster from the store. The index is first brought up to
// the store's current revision, so what a caller wrote before is visible.
// Records from the index are shared: code on these paths only reads them.

// cacheWait bounds how long a read waits for the index to catch up before
// falling back to the store.
const cacheWait = 2 * time.Second

// freshCache reports whether the index is configured and has applied every
// change committed so far.
func (s *Service) freshCache(ctx context.Context) bool {
	if s.cache == nil {
		return false
	}
	rev, err := s.st.Revision(ctx)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	if err := s.cache.WaitFor(ctx, rev); err != nil {
		s.log.Warn("cluster index behind the store; reading the store", "err", err)
		return false
	}
	return true
}

// readTasks returns the cluster's task records for reading only, in no
// particular order (callers that decide from the order sort them).
func (s *Service) readTasks(ctx context.Context, cluster string) ([]state.Record[ecs.Task], error) {
	if s.freshCache(ctx) {
		return s.cache.Tasks(cluster), nil // in no particular order
	}
	return state.List[ecs.Task](ctx, s.st, state.TasksOf(cluster))
}

// readInstanceTasks returns the tasks placed on an instance that are not
// STOPPED, for reading only.
func (s *Service) readInstanceTasks(ctx context.Context, cluster, instanceArn string) ([]state.Record[ecs.Task], error) {
	if s.freshCache(ctx) {
		return s.cache.InstanceTasks(cluster, instanceArn), nil
	}
	recs, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(cluster))
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if r.Value.ContainerInstanceArn == instanceArn && r.Value.LastStatus != taskStatusStopped {
			out = append(out, r)
		}
	}
	return out, nil
}

// readInstancesToReserve returns the cluster's container instances as
// records the caller may reserve on: from the index (when fresh) each is a
// copy whose remaining resources are its own, so reserving never touches
// the shared record; the caller writes them back with compare-and-swap on
// the record's revision, as with a store listing.
func (s *Service) readInstancesToReserve(ctx context.Context, cluster string) ([]state.Record[ecs.ContainerInstance], error) {
	if !s.freshCache(ctx) {
		return state.List[ecs.ContainerInstance](ctx, s.st, state.InstancesOf(cluster))
	}
	recs := s.cache.Instances(cluster)
	out := make([]state.Record[ecs.ContainerInstance], len(recs))
	for i, r := range recs {
		ci := *r.Value
		ci.RemainingResources = cloneResources(ci.RemainingResources)
		out[i] = state.Record[ecs.ContainerInstance]{Value: &ci, Revision: r.Revision}
	}
	slices.SortFunc(out, func(a, b state.Record[ecs.ContainerInstance]) int {
		return strings.Compare(a.Value.ContainerInstanceArn, b.Value.ContainerInstanceArn)
	})
	return out, nil
}
